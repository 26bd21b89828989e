/**
 * The journal cursor kept across restarts: saved atomically after each handled entry, a restart
 * from it (with entries logged while the follower was down) delivers each entry exactly once, on
 * the real journal (root). The file's failure modes name the file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JournalFollower, JOURNAL_DEFAULTS } from '../../src/sources/journald.js';
import { JournalCursorStore } from '../../src/sources/journal-cursor.js';
import { StateFileError } from '../../src/sinks/state-file.js';
import { ensureJournald, journalSend, waitJournalEntry, type JournaldHandle } from '../helpers/journald.js';
import { until } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'slowshake-cursor-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));


describe('JournalCursorStore', () => {
  it('no file: null; save replaces it atomically, 0600, no temp file left; load reads it back', () => {
    const s = new JournalCursorStore(join(dir, 'a.cursor'));
    expect(s.load()).toBeNull();
    expect(s.save('s=1;i=2')).toBe(true);
    expect(s.save('s=1;i=3')).toBe(true);
    expect(s.save('s=1;i=3')).toBe(true); // unchanged: not written again
    expect(s.stats).toEqual({ saves: 2, failures: 0, lastError: null });
    expect(statSync(join(dir, 'a.cursor')).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    expect(new JournalCursorStore(join(dir, 'a.cursor')).load()).toBe('s=1;i=3');
  });

  it('update() writes at most once per interval; flush() writes what is left', () => {
    const p = join(dir, 'u.cursor');
    const s = new JournalCursorStore(p, 1000);
    s.update('c1', 10_000);
    s.update('c2', 10_400);
    s.update('c3', 10_800);
    expect(s.stats.saves).toBe(1);
    expect(new JournalCursorStore(p).load()).toBe('c1');
    s.update('c4', 11_000);
    expect(new JournalCursorStore(p).load()).toBe('c4');
    s.update('c5', 11_100);
    expect(s.flush()).toBe(true);
    expect(new JournalCursorStore(p).load()).toBe('c5');
    expect(s.stats.saves).toBe(3);
  });

  it('a damaged file is one error naming the file; a failed save is counted, not thrown', () => {
    const p = join(dir, 'bad.cursor');
    writeFileSync(p, '{"version":1');
    expect(() => new JournalCursorStore(p).load()).toThrow(StateFileError);
    expect(() => new JournalCursorStore(p).load()).toThrow(new RegExp(`^${p}: not a slowshake journal cursor file`));
    writeFileSync(p, '{"version":2,"cursor":"x"}');
    expect(() => new JournalCursorStore(p).load()).toThrow(/expected \{"version":1,"cursor":"…"\}/);
    const s = new JournalCursorStore(join(dir, 'missing-dir', 'c.cursor'));
    expect(s.save('s=1')).toBe(false);
    expect(s.stats.failures).toBe(1);
    expect(s.stats.lastError).toMatch(/missing-dir\/c\.cursor: ENOENT$/);
  });
});

describe.skipIf(process.getuid?.() !== 0)('a restart from the saved cursor (real journal)', () => {
  let jd: JournaldHandle;
  beforeAll(async () => { jd = await ensureJournald(); });
  afterAll(async () => { await jd?.stop(); });

  it('delivers every entry once: none lost while down, none twice', async () => {
    const tag = `ss-cursor-${process.pid}`;
    const path = join(dir, 'journal.cursor');
    journalSend({ MESSAGE: 'before', SYSLOG_IDENTIFIER: tag });
    await waitJournalEntry(tag, 'before', 10_000);
    const got: string[] = [];
    const run = async (store: JournalCursorStore, n: number): Promise<void> => {
      const f = new JournalFollower({ ...JOURNAL_DEFAULTS, identifiers: [tag] }, {
        cursor: store.load(),
        onEntry: (e) => { got.push(String(e.MESSAGE)); store.update(String(e.__CURSOR), Date.now()); },
      });
      await f.start();
      try {
        await until(() => got.length >= n);
      } finally {
        await f.stop();
        store.flush();
      }
    };
    const first = new JournalCursorStore(path);
    const p1 = run(first, 3); // takes the journal's tail cursor synchronously, before it returns
    for (let i = 0; i < 3; i++) journalSend({ MESSAGE: `event ${i}`, SYSLOG_IDENTIFIER: tag });
    await p1;
    // Down: two entries are logged before the next start.
    for (let i = 3; i < 5; i++) journalSend({ MESSAGE: `event ${i}`, SYSLOG_IDENTIFIER: tag });
    await waitJournalEntry(tag, 'event 4', 10_000);
    await run(new JournalCursorStore(path), 5);
    await new Promise((r) => setTimeout(r, 300)); // room for a duplicate to show up
    expect(got).toEqual(['event 0', 'event 1', 'event 2', 'event 3', 'event 4']);
  });
});
