/** Evidence retention: bounded by bytes and age, oldest first, pairs together, foreign files untouched, all counted. */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvidenceRetention } from '../../../src/sinks/retention.js';
import { flowFileName } from '../../../src/sinks/pcap-writer.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

/** A flow's pcapng (size bytes) and .json (100 bytes), modified `ageS` seconds before `now`. */
function flow(dir: string, i: number, size: number, ageS: number, now: number): string {
  const base = flowFileName(1_800_000_000_000_000 + i * 1000, `198.51.100.${i}:40000`, '203.0.113.1:443', 'pcapng');
  const t = (now - ageS * 1000) / 1000;
  for (const [name, n] of [[base, size], [base.replace(/\.pcapng$/, '.json'), 100]] as const) {
    writeFileSync(join(dir, name), Buffer.alloc(n));
    utimesSync(join(dir, name), t, t);
  }
  return base;
}

function setup(): { dir: string; now: number; names: string[] } {
  const dir = mkdtempSync(join(tmpdir(), 'slowshake-retention-'));
  dirs.push(dir);
  const now = Date.now();
  const names = [0, 1, 2, 3, 4].map((i) => flow(dir, i, 1000, 100 - i * 10, now)); // 0 oldest (100 s), 4 newest (60 s)
  writeFileSync(join(dir, 'notes.txt'), Buffer.alloc(50_000)); // not ours
  utimesSync(join(dir, 'notes.txt'), 0, 0);
  return { dir, now, names };
}

describe('EvidenceRetention', () => {
  it('keeps the total under maxBytes by deleting the oldest flows, pcap and json together', () => {
    const { dir, now, names } = setup();
    const r = new EvidenceRetention(dir, { maxBytes: 2500, maxAgeMs: null });
    r.scan();
    expect(r.stats).toMatchObject({ files: 10, bytes: 5500 });
    expect(r.enforce(now)).toBe(6);
    expect(r.stats).toMatchObject({ files: 4, bytes: 2200, deletedFiles: 6, deletedBytes: 3300, deleteFailures: 0 });
    for (const [i, n] of names.entries()) {
      expect(existsSync(join(dir, n)), n).toBe(i >= 3);
      expect(existsSync(join(dir, n.replace(/\.pcapng$/, '.json')))).toBe(i >= 3);
    }
    expect(existsSync(join(dir, 'notes.txt'))).toBe(true);
  });

  it('deletes what is older than maxAgeMs, and new files count as they are added', () => {
    const { dir, now, names } = setup();
    const r = new EvidenceRetention(dir, { maxBytes: null, maxAgeMs: 75_000 });
    r.scan();
    expect(r.enforce(now)).toBe(6); // 100, 90, 80 s old
    expect(existsSync(join(dir, names[2]!))).toBe(false);
    expect(existsSync(join(dir, names[3]!))).toBe(true);
    const fresh = flow(dir, 9, 4000, 0, now);
    r.added(fresh);
    r.added(fresh.replace(/\.pcapng$/, '.json'));
    expect(r.stats).toMatchObject({ files: 6, bytes: 2200 + 4100 });
    expect(r.enforce(now + 20_000)).toBe(4); // flows 3 and 4 (now 90 and 80 s old) go; the fresh one (20 s) stays
    expect(existsSync(join(dir, fresh))).toBe(true);
  });

  it('counts a deletion that fails and goes on', () => {
    const { dir, now, names } = setup();
    const r = new EvidenceRetention(dir, { maxBytes: 0, maxAgeMs: null });
    r.scan();
    // A file that turns into a directory under the same name cannot be unlinked (EISDIR).
    rmSync(join(dir, names[0]!));
    mkdirSync(join(dir, names[0]!));
    r.enforce(now);
    expect(r.stats.deleteFailures).toBe(1);
    expect(r.stats.lastError).toMatch(new RegExp(`${names[0]!.replace(/\./g, '\\.')}: EISDIR$`));
    // maxBytes 0: everything but the newest flow (kept, counted as oversize) goes.
    expect(r.stats.files).toBe(2);
    expect(r.stats.deletedFiles).toBe(7);
    expect(r.stats.oversize).toBe(1);
  });

  it('a newest file larger than the bound alone stays (oversize), the older evidence goes', () => {
    const { dir, now, names } = setup();
    const snap = 'snapshot-2027-01-01T00-00-00-000Z.pcap';
    writeFileSync(join(dir, snap), Buffer.alloc(3_000_000));
    const r = new EvidenceRetention(dir, { maxBytes: 1_000_000, maxAgeMs: null });
    r.scan();
    r.enforce(now);
    expect(existsSync(join(dir, snap))).toBe(true);
    for (const n of names) expect(existsSync(join(dir, n))).toBe(false);
    expect(r.stats).toMatchObject({ files: 1, bytes: 3_000_000, deletedFiles: 10, oversize: 1 });
  });

  it('expires tens of thousands of stems in one pass (one map lookup per stem)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slowshake-retention-many-'));
    dirs.push(dir);
    const now = Date.now();
    for (let i = 0; i < 5_000; i++) writeFileSync(join(dir, flowFileName(1_800_000_000_000_000 + i * 1000, `198.51.100.1:${1000 + i}`, '203.0.113.1:443', 'json')), 'x');
    const r = new EvidenceRetention(dir, { maxBytes: null, maxAgeMs: 1 });
    r.scan();
    expect(r.enforce(now + 10_000)).toBe(5_000);
    expect(r.stats.files).toBe(0);
  });
});
