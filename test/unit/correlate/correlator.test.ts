/**
 * The correlator over a ring filled from a real capture (MemoryRing: the native writer's layout
 * in TypeScript), with synthetic journal events: no root needed.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures, type FlowRecord } from '../../../src/index.js';
import { readCaptureFile } from '../../../src/sources/capture-file.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { RingReader } from '../../../src/ring/reader.js';
import { Correlator, type CorrelatorOptions } from '../../../src/correlate/correlator.js';
import { parseEndpoint, type SlowEvent } from '../../../src/correlate/journal-event.js';
import { MemoryRing } from '../../helpers/memory-ring.js';
import { CAPTURES, tempDir } from '../../helpers/cli.js';

const CAP = join(CAPTURES, 'client-think.pcap');
let dir: string;
let offline: FlowRecord[];

async function ringFrom(file: string, size: number): Promise<MemoryRing> {
  const ring = new MemoryRing(size);
  await readCaptureFile(file, new DecodedPacket(), {
    onPacket: (p) => ring.write(p.buf.subarray(p.off, p.off + p.caplen), p.origLen, p.tsSec, p.tsNsec, p.linkType),
  });
  return ring;
}

function event(client: string, local: string | null, endUs: number, elapsedMs: number | null, n = 1): SlowEvent {
  const c = parseEndpoint(client)!;
  const l = local !== null ? parseEndpoint(local) : null;
  const wildcard = l !== null && l.addr.every((b) => b === 0);
  return {
    client: c.ep, clientAddr: c.addr, clientPort: c.port, server: l?.ep ?? null, serverAddr: l && !wildcard ? l.addr : null,
    serverPort: l?.port ?? null, sni: 'app.example', endUs, elapsedMs, cursor: `s=test;i=${n}`,
    message: `slow TLS handshake remote_addr=${client} elapsed_ms=${elapsedMs}`, line: n,
  };
}

function correlator(ring: MemoryRing, over: Partial<CorrelatorOptions> = {}): { c: Correlator; out: FlowRecord[] } {
  const out: FlowRecord[] = [];
  const c = new Correlator(new RingReader(ring), {
    marginMs: 1000, holdMs: 2000, slowMs: 200, outDir: dir, pcapFormat: 'pcapng', maxQueue: 100, maxWritesPerSec: 50,
    localAddresses: () => [Uint8Array.from([127, 0, 0, 1]), Uint8Array.from([203, 0, 113, 1])],
    dropsBetween: () => 0, filter: '', pps: () => 1000, onRecord: (r) => out.push(r), ...over,
  });
  return { c, out };
}

beforeAll(async () => {
  dir = tempDir();
  offline = (await analyzeCaptures([CAP])).records;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('Correlator', () => {
  it('finds each slow flow (server logged, port only, or nothing), analyses it like analyze does, writes pcapng + json', async () => {
    const ring = await ringFrom(CAP, 8 << 20);
    const { c, out } = correlator(ring);
    const slow = offline.filter((r) => r.slow);
    expect(slow.length).toBe(2);
    const locals = [slow[0]!.server, `0.0.0.0:${slow[1]!.server.split(':')[1]}`];
    slow.forEach((r, i) => c.onEvent(event(r.client, locals[i]!, r.timeline.done! + 300, r.phases_ms.total! + 20, i + 1), 0));
    c.tick(Number.MAX_SAFE_INTEGER);
    expect(out).toHaveLength(2);
    for (const r of out) {
      const o = offline.find((x) => x.client === r.client)!;
      expect(r.timeline).toEqual(o.timeline);
      expect(r.phases_ms).toEqual(o.phases_ms);
      expect(r.verdict).toBe('client');
      expect(r.proxy_gap_ms).toBeCloseTo(20, 3);
      expect(r.capture_complete).toBe(true);
      expect(statSync(r.pcap!).mode & 0o777).toBe(0o600);
      const json = JSON.parse(readFileSync(r.pcap!.replace(/\.pcapng$/, '.json'), 'utf8')) as FlowRecord;
      expect(json.timeline).toEqual(r.timeline);
      // tshark reads it; the section comment explains it; phase starts carry packet comments
      const info = execFileSync('capinfos', [r.pcap!], { encoding: 'utf8' });
      expect(info).toMatch(/journal event: slow TLS handshake/);
      expect(info).toMatch(/verdict client/);
      const comments = execFileSync('tshark', ['-r', r.pcap!, '-T', 'fields', '-e', 'frame.comment'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      expect(comments).toMatch(/client_think 3\d\d\.\d+ ms begins/);
      expect(comments).toMatch(/syn_ack_delay [0-9.]+ ms begins/);
      const ports = execFileSync('tshark', ['-r', r.pcap!, '-T', 'fields', '-e', 'tcp.port'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const l of ports.trim().split('\n')) expect(l.split(',')).toContain(r.client.split(':')[1]);
    }
    expect(c.stats).toMatchObject({ events: 2, written: 2, notFound: 0, tooOld: 0, duplicates: 0 });
  });

  it('an event without a server port is found by scanning the window for the client endpoint', async () => {
    const ring = await ringFrom(CAP, 8 << 20);
    const { c, out } = correlator(ring);
    const r = offline.find((x) => x.slow)!;
    c.onEvent(event(r.client, null, r.timeline.done! + 100, null), 0);
    c.tick(Number.MAX_SAFE_INTEGER);
    expect(out[0]!.timeline).toEqual(r.timeline);
  });

  it('duplicates write once; a flow not in the ring gets a record with the reason', async () => {
    const ring = await ringFrom(CAP, 8 << 20);
    const { c, out } = correlator(ring, { filter: 'tcp port 443' });
    const r = offline.find((x) => x.slow)!;
    c.onEvent(event(r.client, r.server, r.timeline.done!, 300, 1), 0);
    c.onEvent(event(r.client, r.server, r.timeline.done! + 1000, 300, 2), 0);
    c.onEvent(event('192.0.2.99:5555', r.server, r.timeline.done!, 300, 3), 0);
    c.tick(Number.MAX_SAFE_INTEGER);
    expect(c.stats.duplicates).toBe(1);
    expect(out).toHaveLength(2);
    const missing = out.find((x) => x.client === '192.0.2.99:5555')!;
    expect(missing.verdict).toBe('incomplete');
    expect(missing.reason).toMatch(/no packets of this flow in the ring \(the capture filter "tcp port 443" may exclude it\)/);
    expect(missing.pcap).toBeUndefined();
  });

  it('a ring too short for the look-back says so with the numbers', async () => {
    // 8 copies of the capture, one second apart, through a ring that holds only the last part
    const ring = new MemoryRing(64 * 1024);
    const pkt = new DecodedPacket();
    for (let k = 0; k < 8; k++) {
      await readCaptureFile(CAP, pkt, { onPacket: (p) => ring.write(p.buf.subarray(p.off, p.off + p.caplen), p.origLen, p.tsSec + k, p.tsNsec, p.linkType) });
    }
    expect(ring.overwrites).toBeGreaterThan(0);
    const { c, out } = correlator(ring);
    const r = offline.find((x) => x.slow)!;
    c.onEvent(event(r.client, r.server, r.timeline.done!, r.phases_ms.total!), 0); // the first copy: long gone
    c.tick(Number.MAX_SAFE_INTEGER);
    expect(out[0]!.reason).toMatch(/^ring too short: it holds the last [0-9.]+ s of packets, the event needs [0-9.]+ s \(its window starts [0-9.]+ s before the oldest packet still held; ~1000 pkt\/s fill the ring\)/);
    expect(c.stats.tooOld).toBe(1);
  });

  it('back-pressure: a full queue drops the event from the queue (it ends as a record without files at once), the write budget defers, holds are honoured', async () => {
    const ring = await ringFrom(CAP, 8 << 20);
    const { c, out } = correlator(ring, { maxQueue: 3, maxWritesPerSec: 2 });
    const base = offline[0]!.timeline.done!;
    const filesBefore = readdirSync(dir).length;
    for (let i = 0; i < 10; i++) c.onEvent(event(`192.0.2.1:${1000 + i}`, '203.0.113.1:443', base, 100, i), 0);
    expect(c.stats.droppedQueueFull).toBe(7);
    // Review finding 6: these seven used to leave no record at all.
    expect(out.map((r) => r.client)).toEqual(Array.from({ length: 7 }, (_, i) => `192.0.2.1:${1003 + i}`));
    for (const r of out) {
      expect(r.reason).toBe('event queue full: 3 events were waiting for their hold or the write budget (2 per second), so this flow was not looked up in the ring ' +
        'and no pcap was made; raise --event-queue or --max-writes-per-sec');
      expect(r.verdict).toBe('incomplete');
      expect(r.pcap).toBeUndefined();
      expect((r.event as { message: string }).message).toContain(`remote_addr=${r.client}`);
    }
    expect(readdirSync(dir).length).toBe(filesBefore); // no files for them
    // A repeat of a dropped event is a duplicate of a flow already recorded.
    c.onEvent(event('192.0.2.1:1009', '203.0.113.1:443', base, 100, 10), 0);
    expect(c.stats.duplicates).toBe(1);
    expect(out).toHaveLength(7);
    const due = base / 1000 + 2000;
    c.tick(due - 1); // hold not over yet
    expect(out).toHaveLength(7);
    c.tick(due);
    expect(out).toHaveLength(9); // budget: 2 per second
    expect(c.stats.rateLimitedWaits).toBe(1);
    c.tick(due + 1000);
    expect(out).toHaveLength(10);
    expect(c.pending).toBe(0);
    expect(c.lost.empty).toBe(true); // no write failed
  });
});
