/**
 * Issue 8 item 4: bounded memory under a SYN flood, and no silent caps.
 *
 * - A flood of SYNs from distinct sources: the analyzer keeps at most --max-flows flows, evicts
 *   the oldest and counts it, and allocates no handshake tracker for a flow that never sends a
 *   byte (the pre-payload state lives in fixed-size arrays, handshake/pre-tls.ts).
 * - Real handshakes from captures/ mixed into a flood get exactly the record they get alone.
 * - A handshake evicted mid-way still produces its record, incomplete and saying why.
 * - The per-flow kept-packet limit (4096) is noted on the record and counted.
 * - RingReader: a flow of more than ~120k packets whose chain start is uncertain used to throw
 *   a RangeError from `unshift(...older)`.
 * - The CLI: --max-flows, its one-line error, and the eviction figures in every summary.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Analyzer, type AnalyzerOptions } from '../../src/handshake/analyzer.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { recordToJson } from '../../src/handshake/record-json.js';
import type { FlowRecord } from '../../src/handshake/record.js';
import type { HandshakeTracker } from '../../src/handshake/tracker.js';
import { RingReader } from '../../src/ring/reader.js';
import { flowHash } from '../../src/ring/flow-hash.js';
import { FLOW_BUCKETS } from '../../src/ring/layout.js';
import { MemoryRing } from '../helpers/memory-ring.js';
import { readCapture, writePcap, type Capture, type Packet } from '../helpers/capture-variants.js';
import { CAPTURES, expectOneLineError, runCli, tempDir } from '../helpers/cli.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SERVER = [203, 0, 113, 1];

/** An Ethernet/IPv4/TCP frame (checksums zero: the analyzer does not check them). */
function tcpFrame(src: number[], sport: number, dst: number[], dport: number, flags: number, seq: number, ack: number, ipId: number, mss = 0): Uint8Array {
  const opt = mss > 0 ? 4 : 0;
  const f = new Uint8Array(14 + 20 + 20 + opt);
  const dv = new DataView(f.buffer);
  dv.setUint16(12, 0x0800);
  f[14] = 0x45;
  dv.setUint16(16, 40 + opt);
  dv.setUint16(18, ipId & 0xffff);
  f[22] = 64;
  f[23] = 6;
  f.set(src, 26);
  f.set(dst, 30);
  dv.setUint16(34, sport);
  dv.setUint16(36, dport);
  dv.setUint32(38, seq >>> 0);
  dv.setUint32(42, ack >>> 0);
  f[46] = ((20 + opt) / 4) << 4;
  f[47] = flags;
  dv.setUint16(48, 64240);
  if (mss > 0) { f[54] = 2; f[55] = 4; dv.setUint16(56, mss); }
  return f;
}

/** Flood source i: a distinct address in 100.64.0.0/10. */
const floodSrc = (i: number): number[] => [100, 64 + ((i >>> 16) & 63), (i >>> 8) & 255, i & 255];

/** `n` SYNs from distinct sources to 203.0.113.1:443, evenly spread over [fromUs, toUs). */
function flood(n: number, fromUs: number, toUs: number): Packet[] {
  const out: Packet[] = [];
  for (let i = 0; i < n; i++) {
    const us = fromUs + Math.floor(((toUs - fromUs) * i) / n);
    const data = tcpFrame(floodSrc(i), 1024 + (i % 60000), SERVER, 443, 0x02, Math.imul(i, 2654435761), 0, i, 1460);
    out.push({ sec: Math.floor(us / 1e6), nsec: (us % 1e6) * 1000, data, origLen: data.length });
  }
  return out;
}

const us = (p: Packet): number => p.sec * 1e6 + Math.floor(p.nsec / 1000);

/** Time-ordered merge (stable: on equal times, `a` first). */
function merge(a: Packet[], b: Packet[]): Packet[] {
  const out: Packet[] = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && us(a[i]!) <= us(b[j]!))) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}

interface Run { records: FlowRecord[]; json: string[]; trackers: HandshakeTracker[]; an: Analyzer; maxSize: number }

function analyze(packets: Packet[], linkType: number, opts: Partial<AnalyzerOptions> = {}): Run {
  const run: Run = { records: [], json: [], trackers: [], an: null as unknown as Analyzer, maxSize: 0 };
  const an = new Analyzer({
    slowMs: 200, keepPackets: false, flowFilter: null, ...opts,
    onRecord: (rec, t) => { run.records.push(rec); run.json.push(recordToJson(rec)); run.trackers.push(t); },
  });
  run.an = an;
  const p = new DecodedPacket();
  for (const x of packets) {
    p.buf = x.data; p.off = 0; p.caplen = x.data.length; p.origLen = x.origLen; p.linkType = linkType;
    p.tsSec = x.sec; p.tsNsec = x.nsec; p.tsUs = x.sec * 1e6 + Math.floor(x.nsec / 1000);
    an.onPacket(p);
    if (an.table.size > run.maxSize) run.maxSize = an.table.size;
  }
  an.finish();
  return run;
}

const captureFiles = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).sort();

describe('SYN flood: bounded flow table, no tracker per SYN', () => {
  it('100k SYNs from distinct sources: never more than --max-flows flows, every eviction counted, no tracker, no record', () => {
    const t0 = 1_750_000_000e6;
    const r = analyze(flood(100_000, t0, t0 + 2e6), 1, { maxFlows: 10_000 });
    expect(r.maxSize).toBe(10_000);
    expect(r.an.table.size).toBe(10_000);
    const s = r.an.stats;
    expect(s.flowsTracked).toBe(100_000);
    expect(s.flowsEvicted).toBe(90_000);
    expect(s.evictedHandshakes).toBe(0);
    expect(s.trackers).toBe(0);
    expect(s.records).toBe(0);
    // with packets kept (--out), the SYNs wait in the fixed kept-packet areas: still no tracker
    const kept = analyze(flood(100_000, t0, t0 + 2e6), 1, { maxFlows: 10_000, keepPackets: true });
    expect(kept.maxSize).toBe(10_000);
    expect(kept.an.stats.trackers).toBe(0);
  });

  it('the oldest flows are the ones evicted: the newest --max-flows SYNs are still tracked', () => {
    const t0 = 1_750_000_000e6;
    const syns = flood(5000, t0, t0 + 1e6);
    const r = analyze(syns, 1, { maxFlows: 1000 });
    const p = new DecodedPacket();
    const present = syns.map((x) => {
      // the fields the table reads
      p.buf = x.data; p.ipVersion = 4; p.srcAddrOff = 26; p.dstAddrOff = 30; p.srcPort = (x.data[34]! << 8) | x.data[35]!; p.dstPort = 443;
      return r.an.table.lookup(p) >= 0;
    });
    expect(present.slice(0, 4000).some(Boolean)).toBe(false);
    expect(present.slice(4000).every(Boolean)).toBe(true);
  });

  it.each(captureFiles)('%s: each real handshake mixed into a flood that evicts gets exactly its record', (file) => {
    const cap: Capture = readCapture(join(CAPTURES, file));
    const alone = analyze(cap.packets, cap.linkType);
    expect(alone.records.length).toBeGreaterThan(0);
    // 40k SYNs over the capture's span and a second either side, 16384 flows at most: every
    // entry lives ≥ 1.09 s before it is the oldest, longer than any handshake in captures/.
    const first = us(cap.packets[0]!), last = us(cap.packets[cap.packets.length - 1]!);
    const mixed = analyze(merge(cap.packets, flood(40_000, first - 1e6, last + 1e6)), cap.linkType, { maxFlows: 16_384 });
    expect(mixed.an.stats.flowsEvicted).toBeGreaterThan(20_000);
    expect(mixed.maxSize).toBeLessThanOrEqual(16_384);
    expect(mixed.json.slice().sort()).toEqual(alone.json.slice().sort());
    // trackers only for the flows that sent payload: the capture's own
    expect(mixed.an.stats.trackers).toBe(alone.an.stats.trackers);
  });

  it.each(['interleaved.pcap', 'loss-synack.pcap', 'ipv6.pcap'])('%s with kept packets (--out) in a flood: the same records and the same kept packets', (file) => {
    const cap: Capture = readCapture(join(CAPTURES, file));
    const first = us(cap.packets[0]!), last = us(cap.packets[cap.packets.length - 1]!);
    const keptOf = (r: Run): string[] => r.records.map((rec, i) => `${r.json[i]} ${r.trackers[i]!.kept!.map((k) => `${k.tsUs}/${k.fromClient}/${k.flags}/${k.seq}/${k.ack}/${Buffer.from(k.data).toString('hex')}`).join(',')}`).sort();
    const alone = analyze(cap.packets, cap.linkType, { keepPackets: true });
    const mixed = analyze(merge(cap.packets, flood(40_000, first - 1e6, last + 1e6)), cap.linkType, { maxFlows: 16_384, keepPackets: true });
    expect(mixed.an.stats.flowsEvicted).toBeGreaterThan(20_000);
    expect(keptOf(mixed)).toEqual(keptOf(alone));
    expect(mixed.an.stats.trackers).toBe(alone.an.stats.trackers);
  });

  it('a handshake evicted mid-way still gets its record: incomplete, saying so, and counted', () => {
    const cap = readCapture(join(CAPTURES, 'loss-synack.pcap'));
    const alone = analyze(cap.packets, cap.linkType);
    // the slowest handshake: flood right after its ClientHello, enough to evict everything
    const slow = alone.records.reduce((a, b) => ((a.phases_ms.total ?? 0) >= (b.phases_ms.total ?? 0) ? a : b));
    const ch = slow.timeline.client_hello!;
    const mixed = analyze(merge(cap.packets, flood(300, ch + 1, ch + 300)), cap.linkType, { maxFlows: 100 });
    const evicted = mixed.records.filter((r) => r.client === slow.client && r.notes.some((n) => /evicted to stay within the analyzer's limit of 100 tracked flows/.test(n)));
    expect(evicted).toHaveLength(1);
    expect(evicted[0]!.verdict).toBe('incomplete');
    expect(evicted[0]!.timeline.client_hello).toBe(ch);
    expect(evicted[0]!.notes[0]).toMatch(/^handshake not completed: evicted/);
    expect(mixed.an.stats.evictedHandshakes).toBeGreaterThanOrEqual(1);
    // the rest of that flow comes back as a mid-handshake flow whose record says its start may have been evicted
    const later = mixed.records.filter((r) => r.client === slow.client && r !== evicted[0]);
    for (const r of later) expect(r.notes).toContain('first seen mid-connection after the analyzer had evicted flows (--max-flows): its start may have been evicted');
  });
});

describe('kept-packet limit', () => {
  it('a flow past 4096 kept packets: the record notes it, the analyzer counts it, the record is otherwise unchanged', () => {
    const cap = readCapture(join(CAPTURES, 'fast-tls13.pcap'));
    const port = 40001;
    const fromClient = (d: Uint8Array): boolean => d.length >= 54 && d[23] === 6 && ((d[34]! << 8) | d[35]!) === port;
    // 5000 copies of the client's first pure ACK (before its ClientHello): duplicates change
    // nothing in the record (same ACK number, same IP ID, same time)
    const ackIndex = cap.packets.findIndex((p) => fromClient(p.data) && p.data[47] === 0x10);
    const ack = cap.packets[ackIndex]!;
    const dups: Packet[] = Array.from({ length: 5000 }, () => ({ ...ack, data: ack.data.slice() }));
    const packets = [...cap.packets.slice(0, ackIndex + 1), ...dups, ...cap.packets.slice(ackIndex + 1)];
    const base = analyze(cap.packets, cap.linkType, { keepPackets: true });
    const big = analyze(packets, cap.linkType, { keepPackets: true });
    const i = big.records.findIndex((r) => r.client.endsWith(`:${port}`));
    const rec = big.records[i]!;
    expect(big.trackers[i]!.kept).toHaveLength(4096);
    const seen = base.trackers[base.records.findIndex((r) => r.client.endsWith(`:${port}`))]!.kept!.length + 5000;
    const dropped = seen - 4096;
    expect(rec.notes).toContain(`${dropped} packet(s) not kept for the per-flow pcap (limit 4096 per flow)`);
    expect(big.an.stats.keptCapFlows).toBe(1);
    expect(big.an.stats.keptPacketsDropped).toBe(dropped);
    const want = base.records.find((r) => r.client.endsWith(`:${port}`))!;
    expect({ ...rec, notes: rec.notes.filter((n) => !/not kept/.test(n)) }).toEqual(want);
    expect(base.an.stats.keptCapFlows).toBe(0);
  });
});

describe('RingReader: a flow of more than 120k packets', () => {
  it('looks up all of it when the chain start is uncertain (bucket eviction), without a RangeError', () => {
    const A = [198, 51, 100, 7];
    const N = 200_000;
    const ring = new MemoryRing(64 * 1024 * 1024, { flowChains: true });
    const t0 = 1_750_000_000;
    let n = 0;
    const write = (data: Uint8Array): void => { const ns = n++ * 1000; ring.write(data, data.length, t0 + Math.floor(ns / 1e9), ns % 1e9, 1); };
    for (let i = 0; i < N; i++) write(tcpFrame(A, 40000, SERVER, 443, 0x10, 1000 + i, 5000, i));
    // four other flows in the same flow-table bucket evict this flow's way while its records are
    // still in the ring, so the chain that starts with its next packet is marked uncertain
    const bucket = flowHash(new Uint8Array(A), 40000, new Uint8Array(SERVER), 443) & (FLOW_BUCKETS - 1);
    const colliders: number[] = [];
    for (let port = 1; colliders.length < 4; port++) {
      const src = [10, (port >>> 16) & 255, (port >>> 8) & 255, port & 255];
      if ((flowHash(new Uint8Array(src), 2000, new Uint8Array(SERVER), 443) & (FLOW_BUCKETS - 1)) === bucket) colliders.push(port);
    }
    for (const port of colliders) write(tcpFrame([10, (port >>> 16) & 255, (port >>> 8) & 255, port & 255], 2000, SERVER, 443, 0x02, 1, 0, 1));
    for (let i = 0; i < 10; i++) write(tcpFrame(A, 40000, SERVER, 443, 0x10, 1000 + N + i, 5000, N + i));
    expect(ring.tail).toBe(0); // nothing overwritten: every packet is still there
    const reader = new RingReader(ring);
    const r = reader.lookupFlow({ a: new Uint8Array(A), aPort: 40000, b: new Uint8Array(SERVER), bPort: 443 }, t0 * 1e9, (t0 + 10) * 1e9);
    expect(r.packets).toHaveLength(N + 10);
    let ordered = true;
    for (let i = 1; i < r.packets.length; i++) if (r.packets[i]!.pos <= r.packets[i - 1]!.pos) ordered = false;
    expect(ordered).toBe(true); // oldest first, each record once
  });
});

describe('analyze --max-flows', () => {
  const file = join(dir, 'flood.pcap');
  const cap = readCapture(join(CAPTURES, 'fast-tls13.pcap'));
  const first = us(cap.packets[0]!);
  const packets = merge(cap.packets, flood(3000, first - 1e6, first));
  writeFileSync(file, writePcap({ linkType: 1, snaplen: 262144, packets }));

  it('evictions are shown in the ndjson and table summaries and the json summary; records unchanged', () => {
    const alone = runCli(['analyze', '--format', 'ndjson', join(CAPTURES, 'fast-tls13.pcap')]);
    const r = runCli(['analyze', '--format', 'ndjson', '--max-flows', '1000', file]);
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n').sort()).toEqual(alone.stdout.split('\n').sort());
    // 2000 flood SYNs over the limit, and one more for each capture flow that found the table full
    const evicted = analyze(packets, 1, { maxFlows: 1000 }).an.stats.flowsEvicted;
    expect(evicted).toBeGreaterThan(2000);
    expect(r.stderr).toMatch(new RegExp(`^Flow limit: ${evicted} flows evicted \\(oldest first\\) to stay within --max-flows 1000; 0 of them handshakes`, 'm'));
    const table = runCli(['analyze', '--format', 'table', '--max-flows', '1000', file]);
    expect(table.stdout).toMatch(new RegExp(`^Flow limit: ${evicted} flows evicted`, 'm'));
    const j = JSON.parse(runCli(['analyze', '--format', 'json', file], { env: { SLOWSHAKE_MAX_FLOWS: '1000' } }).stdout) as { summary: Record<string, number> };
    expect(j.summary).toMatchObject({ max_flows: 1000, flows_evicted: evicted, evicted_handshakes: 0, kept_packet_cap_flows: 0, kept_packets_dropped: 0 });
    // under the default bound nothing is evicted, and the summary has no flow-limit line
    const d = runCli(['analyze', '--format', 'ndjson', file]);
    expect(d.stderr).not.toMatch(/Flow limit/);
  });

  it.each(['0', '-5', '1.5', 'many', ''])('--max-flows "%s" is a one-line usage error', (v) => {
    expectOneLineError(runCli(['analyze', `--max-flows=${v}`, file]), /^slowshake: --max-flows: expected a whole number of flows from 1 to \d+, got "/);
  });
});
