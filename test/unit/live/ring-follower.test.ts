/**
 * The ring follower over MemoryRing (the native writer's layout and wrap/tail rules in
 * TypeScript): every record exactly once and in order while it keeps up, intact records only when
 * the writer laps it (counted), and the analyzer fed through it gives analyze's records.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readCaptureFile } from '../../../src/sources/capture-file.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { Analyzer } from '../../../src/handshake/analyzer.js';
import { recordToJson } from '../../../src/handshake/record-json.js';
import { RingFollower } from '../../../src/live/ring-follower.js';
import { MemoryRing } from '../../helpers/memory-ring.js';
import { CAPTURES } from '../../helpers/cli.js';

interface Pkt { data: Uint8Array; origLen: number; tsSec: number; tsNsec: number; linkType: number }

async function packetsOf(file: string): Promise<Pkt[]> {
  const out: Pkt[] = [];
  await readCaptureFile(join(CAPTURES, file), new DecodedPacket(), {
    onPacket: (p) => out.push({ data: p.buf.slice(p.off, p.off + p.caplen), origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType }),
  });
  return out;
}

/** A sink that records what it was handed (copies: the packet is only valid during the call). */
class Collect {
  readonly got: { ts: number; data: Buffer }[] = [];
  onPacket(p: DecodedPacket): void {
    this.got.push({ ts: p.tsSec * 1e9 + p.tsNsec, data: Buffer.from(p.buf.subarray(p.off, p.off + p.caplen)) });
  }
}

/** Synthetic records whose nanoseconds field numbers them (1, 2, …) and whose bytes say so too. */
function synthetic(n: number, size: number): Pkt {
  const data = new Uint8Array(size);
  new DataView(data.buffer).setUint32(0, n);
  for (let i = 4; i < size; i++) data[i] = (n * 31 + i) & 0xff;
  return { data, origLen: size, tsSec: 1_800_000_000 + Math.floor(n / 1000), tsNsec: (n % 1000) * 1_000_000 + 1, linkType: 1 };
}
const numberOf = (b: Buffer): number => b.readUInt32BE(0);

describe('RingFollower', () => {
  it('hands over every record once, in order, as it is written (wrapping the ring many times)', () => {
    const ring = new MemoryRing(64 * 1024);
    const sink = new Collect();
    const f = new RingFollower(ring, sink);
    let n = 0;
    for (let round = 0; round < 200; round++) {
      const k = 1 + (round * 7) % 40;
      for (let i = 0; i < k; i++) { const p = synthetic(++n, 60 + (n * 13) % 900); ring.write(p.data, p.origLen, p.tsSec, p.tsNsec, p.linkType); }
      f.poll();
    }
    expect(sink.got.map((g) => numberOf(g.data))).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    for (const g of sink.got) expect(g.data.equals(Buffer.from(synthetic(numberOf(g.data), g.data.length).data))).toBe(true);
    expect(f.stats).toMatchObject({ records: n, overruns: 0, suspect: 0, corrupt: 0 });
  });

  it('when the writer laps it: the skipped bytes are counted and only intact records follow', () => {
    const ring = new MemoryRing(64 * 1024);
    const sink = new Collect();
    const f = new RingFollower(ring, sink);
    let n = 0;
    const write = (k: number): void => { for (let i = 0; i < k; i++) { const p = synthetic(++n, 200 + (n * 17) % 700); ring.write(p.data, p.origLen, p.tsSec, p.tsNsec, p.linkType); } };
    write(50);
    f.poll();
    write(2000); // ~1 MiB into a 64 KiB ring: lapped many times over
    f.poll();
    write(20);
    f.poll();
    expect(f.stats.overruns).toBe(1);
    expect(f.stats.overrunBytes).toBeGreaterThan(64 * 1024);
    const nums = sink.got.map((g) => numberOf(g.data));
    expect(nums.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    // After the lap: a gap, then consecutive records up to the newest, each intact.
    const after = nums.slice(50);
    expect(after.at(-1)).toBe(n);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 1);
    for (const g of sink.got) expect(g.data.equals(Buffer.from(synthetic(numberOf(g.data), g.data.length).data))).toBe(true);
    // It kept its margin: what it read after the lap fits in three quarters of the ring.
    expect(after.length).toBeGreaterThan(0);
    expect(f.stats.suspect).toBe(0);
    expect(f.stats.corrupt).toBe(0); // it resumed on a record boundary
  });

  it('after a lap inside one 100 ms bucket it waits for the next bucket start, never reading a torn header', () => {
    const ring = new MemoryRing(64 * 1024);
    const sink = new Collect();
    const f = new RingFollower(ring, sink);
    let n = 0;
    // Every record in the same 100 ms bucket: the time index's one start for them is overwritten.
    const write = (k: number, nsec: number): void => { for (let i = 0; i < k; i++) { const p = synthetic(++n, 300); ring.write(p.data, p.origLen, 1_800_000_000, nsec, p.linkType); } };
    write(10, 5);
    f.poll();
    write(1000, 5);
    expect(f.poll()).toBe(0); // no record start known to be safe yet
    const firstOfNext = n + 1;
    write(20, 250_000_000); // the next bucket begins
    f.poll();
    const after = sink.got.slice(10).map((g) => numberOf(g.data));
    expect(after[0]).toBe(firstOfNext);
    expect(after.length).toBeGreaterThan(0);
    expect(after.at(-1)).toBe(n);
    for (let i = 1; i < after.length; i++) expect(after[i]).toBe(after[i - 1]! + 1);
    for (const g of sink.got) expect(g.data.equals(Buffer.from(synthetic(numberOf(g.data), g.data.length).data))).toBe(true);
    expect(f.stats).toMatchObject({ overruns: 1, corrupt: 0, suspect: 0 });
  });

  it('reads at most maxPerPoll records per poll', () => {
    const ring = new MemoryRing(1 << 20);
    const sink = new Collect();
    const f = new RingFollower(ring, sink, { maxPerPoll: 100 });
    for (let i = 1; i <= 250; i++) { const p = synthetic(i, 100); ring.write(p.data, p.origLen, p.tsSec, p.tsNsec, p.linkType); }
    expect([f.poll(), f.poll(), f.poll(), f.poll()]).toEqual([100, 100, 50, 0]);
    expect(sink.got).toHaveLength(250);
  });

  it('an analyzer fed through it gives the records analyze gives for the same packets', async () => {
    for (const file of ['client-think.pcap', 'loss-server-flight.pcap', 'hrr.pcap', 'ipv6.pcap', 'cwnd-stall.pcap']) {
      const pkts = await packetsOf(file);
      const offline: string[] = [];
      const a1 = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => offline.push(recordToJson(r)) });
      const pkt = new DecodedPacket();
      for (const p of pkts) {
        pkt.buf = p.data; pkt.off = 0; pkt.caplen = p.data.length; pkt.origLen = p.origLen; pkt.linkType = p.linkType;
        pkt.tsSec = p.tsSec; pkt.tsNsec = p.tsNsec; pkt.tsUs = p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000);
        a1.onPacket(pkt);
      }
      a1.finish();
      const live: string[] = [];
      const a2 = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => live.push(recordToJson(r)) });
      const ring = new MemoryRing(256 * 1024);
      const f = new RingFollower(ring, a2);
      for (let i = 0; i < pkts.length; i++) {
        const p = pkts[i]!;
        ring.write(p.data, p.origLen, p.tsSec, p.tsNsec, p.linkType);
        if (i % 5 === 0) f.poll();
      }
      f.poll();
      a2.finish();
      expect(live, file).toEqual(offline);
      expect(f.stats.overruns).toBe(0);
    }
  });
});
