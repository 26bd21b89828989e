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
 * - Review of the above (review.md findings 1, 2): packets without payload of any kind (ACKs with
 *   any number, RSTs, FINs, window probes, new ISNs, ACK storms, SYN-ACK retransmissions) stay in
 *   the fixed row, with kept packets too; what the row keeps reproduces the tracker's record; the
 *   kept packets of flows without payload share one bounded area whose reuse is counted and noted.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Analyzer, type AnalyzerOptions } from '../../src/handshake/analyzer.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { decodePacket } from '../../src/decode/dispatch.js';
import { Status } from '../../src/decode/reader.js';
import { AnomalyCounters } from '../../src/telemetry/anomalies.js';
import { formatEndpoint } from '../../src/handshake/addr.js';
import { recordToJson } from '../../src/handshake/record-json.js';
import { buildRecord, type FlowRecord } from '../../src/handshake/record.js';
import { HandshakeTracker } from '../../src/handshake/tracker.js';
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

// ---- review of item 4 (review.md findings 1 and 2): payload-less packets and kept packets stay bounded

/** A reproducible pseudo-random 32-bit number for flow i, packet k. */
const rnd = (i: number, k: number): number => {
  let x = Math.imul(i ^ 0x5bd1e995, 0x85ebca6b) ^ Math.imul(k + 1, 0x27d4eb2f);
  x ^= x >>> 13;
  return Math.imul(x, 0xc2b2ae35) >>> 0;
};

const SYN = 0x02, ACK = 0x10, SYN_ACK = 0x12, RST_ACK = 0x14, FIN_ACK = 0x11;

/**
 * `n` flows of packets without payload from distinct sources to 203.0.113.1:443, of eight hostile
 * kinds (flow i is kind i % 8), each flow's packets 20 µs apart from its start, the starts evenly
 * spread over [fromUs, toUs):
 *   0  SYN, SYN-ACK, an ACK with a random number (review.md finding 1: half acknowledge bytes never sent)
 *   1  SYN, SYN-ACK, an ACK of 1000 bytes never sent, an RST with a random ACK number
 *   2  SYN, SYN-ACK, a FIN acknowledging 5000 bytes never sent
 *   3  SYN, SYN-ACK, ACK, five zero-window probes (sequence one below the next, window 0, random ACK numbers)
 *   4  five SYNs with new ISNs
 *   5  SYN, SYN-ACK, an ACK storm: 50 ACKs with random numbers
 *   6  SYN, SYN-ACK, three SYN-ACK retransmissions and a SYN retransmission (finding 2: overflowed the
 *      512-byte kept area, one tracker per flow with --out)
 *   7  SYN-ACK first (the SYN not seen), a client ACK with a random number, a server ACK with one
 */
function hostileFlood(n: number, fromUs: number, toUs: number): Packet[] {
  const out: Packet[] = [];
  for (let i = 0; i < n; i++) {
    const start = fromUs + Math.floor(((toUs - fromUs) * i) / n);
    const src = floodSrc(i), port = 1024 + (i % 60000);
    const cIsn = Math.imul(i, 2654435761) >>> 0, sIsn = Math.imul(i + 7, 2246822519) >>> 0;
    let k = 0, id = i & 0xffff;
    const cli = (flags: number, seq: number, ack: number, win = 502): void => {
      const f = tcpFrame(src, port, SERVER, 443, flags, seq, ack, id++, flags & SYN ? 1460 : 0);
      new DataView(f.buffer).setUint16(48, win);
      const at = start + 20 * k++;
      out.push({ sec: Math.floor(at / 1e6), nsec: (at % 1e6) * 1000, data: f, origLen: f.length });
    };
    const srv = (flags: number, seq: number, ack: number): void => {
      const f = tcpFrame(SERVER, 443, src, port, flags, seq, ack, 0, flags & SYN ? 1460 : 0);
      const at = start + 20 * k++;
      out.push({ sec: Math.floor(at / 1e6), nsec: (at % 1e6) * 1000, data: f, origLen: f.length });
    };
    const open = (): void => { cli(SYN, cIsn, 0); srv(SYN_ACK, sIsn, cIsn + 1); };
    switch (i % 8) {
      case 0: open(); cli(ACK, cIsn + 1, rnd(i, 0)); break;
      case 1: open(); cli(ACK, cIsn + 1, sIsn + 1001); cli(RST_ACK, cIsn + 1, rnd(i, 1)); break;
      case 2: open(); cli(FIN_ACK, cIsn + 1, sIsn + 5001); break;
      case 3: open(); cli(ACK, cIsn + 1, sIsn + 1); for (let j = 0; j < 5; j++) cli(ACK, cIsn, rnd(i, j), 0); break;
      case 4: for (let j = 0; j < 5; j++) cli(SYN, rnd(i, j), 0); break;
      case 5: open(); for (let j = 0; j < 50; j++) cli(ACK, cIsn + 1, rnd(i, j)); break;
      case 6: open(); for (let j = 0; j < 3; j++) srv(SYN_ACK, sIsn, cIsn + 1); cli(SYN, cIsn, 0); break;
      case 7: srv(SYN_ACK, sIsn, cIsn + 1); cli(ACK, cIsn + 1, rnd(i, 0)); srv(ACK, sIsn + 1, rnd(i, 1)); break;
    }
  }
  return out.sort((a, b) => us(a) - us(b));
}

describe('packets without payload never allocate per flow (review.md findings 1 and 2)', () => {
  const t0 = 1_750_000_000e6;

  it('16k hostile flows (random ACKs, RSTs, FINs, window probes, new ISNs, ACK storms, SYN-ACK retransmissions): no tracker, no record, with and without kept packets', () => {
    const packets = hostileFlood(16_000, t0, t0 + 1e6);
    for (const keepPackets of [false, true]) {
      const r = analyze(packets, 1, { keepPackets });
      const s = r.an.stats;
      expect(s.trackers).toBe(0);
      expect(s.records).toBe(0);
      expect(s.flowsTracked).toBeGreaterThanOrEqual(16_000); // kind 4 restarts its flow with each new ISN
      expect(r.an.anomalies.toObject().pre_tls_time_jump).toBeUndefined();
    }
    // the reviewer's figure: 100k flows of SYN, SYN-ACK and a random ACK gave 100,000 trackers
    const big = analyze(hostileFlood(100_000, t0, t0 + 2e6), 1, { maxFlows: 10_000 });
    expect(big.an.stats.trackers).toBe(0);
    expect(big.maxSize).toBeLessThanOrEqual(10_000);
    expect(big.an.stats.flowsEvicted).toBeGreaterThan(50_000);
  });

  it.each(captureFiles)('%s mixed into 8k hostile flows: the same records, trackers only for the capture\'s own flows, kept packets unchanged', (file) => {
    const cap: Capture = readCapture(join(CAPTURES, file));
    const first = us(cap.packets[0]!), last = us(cap.packets[cap.packets.length - 1]!);
    const mixedPackets = merge(cap.packets, hostileFlood(8000, first - 1e5, last + 1e5));
    const keptOf = (r: Run): string[] => r.records.map((rec, i) => `${r.json[i]} ${r.trackers[i]!.kept!.map((k) => `${k.tsUs}/${k.fromClient}/${k.flags}/${k.seq}/${k.ack}/${Buffer.from(k.data).toString('hex')}`).join(',')}`).sort();
    for (const keepPackets of [false, true]) {
      const alone = analyze(cap.packets, cap.linkType, { keepPackets });
      const mixed = analyze(mixedPackets, cap.linkType, { keepPackets });
      expect(mixed.json.slice().sort()).toEqual(alone.json.slice().sort());
      expect(mixed.an.stats.trackers).toBe(alone.an.stats.trackers);
      if (keepPackets) expect(keptOf(mixed)).toEqual(keptOf(alone));
    }
  });

  it('an ACK of bytes never sent before the first payload is kept in the row: the record is the one a tracker that saw every packet makes', () => {
    const cap = readCapture(join(CAPTURES, 'cwnd-stall.pcap'));
    const client = '198.51.100.2:41201';
    // after the client's handshake ACK (frame 6), 100 µs later, the same ACK acknowledging 2^30
    // server bytes: the client's highest ACK then stays above every later one, so the tracker's
    // cwnd-stall test never fires for this flow
    const ackAt = cap.packets.findIndex((p) => p.data[47] === ACK && ((p.data[34]! << 8) | p.data[35]!) === 41201);
    const bogus = new Uint8Array(cap.packets[ackAt]!.data); // a copy (Buffer#slice would share the capture's bytes)
    const dv = new DataView(bogus.buffer);
    dv.setUint32(42, (dv.getUint32(42) + 2 ** 30) >>> 0);
    const at = us(cap.packets[ackAt]!) + 100;
    const packets = [...cap.packets.slice(0, ackAt + 1), { sec: Math.floor(at / 1e6), nsec: (at % 1e6) * 1000, data: bogus, origLen: bogus.length }, ...cap.packets.slice(ackAt + 1)];
    const recOf = (r: Run): string => r.json[r.records.findIndex((x) => x.client === client)]!;
    const plain = analyze(cap.packets, cap.linkType);
    const injected = analyze(packets, cap.linkType);
    expect(JSON.parse(recOf(plain)).cwnd_stall).toBe(true);
    expect(JSON.parse(recOf(injected)).cwnd_stall).toBe(false);
    expect(recOf(injected)).toBe(trackerRecord(packets, cap.linkType, client));
    expect(injected.an.stats.trackers).toBe(plain.an.stats.trackers);
  });

  it('a packet without payload more than 35 min from its flow\'s first: the row ends, counted, still no tracker', () => {
    const src = floodSrc(1);
    const at = (u: number, data: Uint8Array): Packet => ({ sec: Math.floor(u / 1e6), nsec: (u % 1e6) * 1000, data, origLen: data.length });
    // forward: a flow kept from idling out by an ACK every 50 s reaches 2^31 µs after its SYN at the 43rd
    const fwd: Packet[] = [at(t0, tcpFrame(src, 5000, SERVER, 443, SYN, 100, 0, 1, 1460)), at(t0 + 100, tcpFrame(SERVER, 443, src, 5000, SYN_ACK, 900, 101, 0, 1460))];
    for (let k = 1; k <= 44; k++) fwd.push(at(t0 + k * 50e6, tcpFrame(src, 5000, SERVER, 443, ACK, 101, 901, 1 + k)));
    const f = analyze(fwd, 1);
    expect(f.an.anomalies.toObject().pre_tls_time_jump).toBe(1);
    expect(f.an.stats.trackers).toBe(0);
    expect(f.an.stats.untrackedSegments).toBe(2); // the 43rd and 44th ACKs: no flow to belong to
    // backward (files out of order): a SYN-ACK 40 min before the SYN ends that row and starts a flow of its own
    const b = analyze([
      at(t0, tcpFrame(src, 5000, SERVER, 443, SYN, 100, 0, 1, 1460)),
      at(t0 - 40 * 60e6, tcpFrame(SERVER, 443, src, 5000, SYN_ACK, 900, 101, 0, 1460)),
    ], 1);
    expect(b.an.anomalies.toObject().pre_tls_time_jump).toBe(1);
    expect(b.an.stats.trackers).toBe(0);
    expect(b.an.stats.flowsTracked).toBe(2);
  });
});

/** The record of `client`'s flow from a HandshakeTracker fed every packet of it (no pre-payload row), at `done`. */
function trackerRecord(packets: Packet[], linkType: number, client: string): string {
  const an = new AnomalyCounters();
  const p = new DecodedPacket();
  let t: HandshakeTracker | null = null;
  for (const x of packets) {
    p.buf = x.data; p.off = 0; p.caplen = x.data.length; p.origLen = x.origLen; p.linkType = linkType;
    p.tsSec = x.sec; p.tsNsec = x.nsec; p.tsUs = x.sec * 1e6 + Math.floor(x.nsec / 1000);
    if (decodePacket(p, an) !== Status.OK) continue;
    const alen = p.ipVersion === 6 ? 16 : 4;
    const srcAddr = p.buf.slice(p.srcAddrOff, p.srcAddrOff + alen), dstAddr = p.buf.slice(p.dstAddrOff, p.dstAddrOff + alen);
    const src = formatEndpoint(srcAddr, p.srcPort), dst = formatEndpoint(dstAddr, p.dstPort);
    if (src !== client && dst !== client) continue;
    t ??= new HandshakeTracker(p.ipVersion, srcAddr, dstAddr, p.srcPort, p.dstPort, an); // the flow starts with the client's SYN
    t.onPacket(p, src === client);
    if (t.done) break;
  }
  return recordToJson(buildRecord(t!, 200));
}

describe('kept packets of flows without payload share one bounded area (review.md finding 2)', () => {
  it('a flood between a handshake\'s SYN and its ClientHello reuses the area: the lost packets are counted and noted, never a tracker, the rest is kept', () => {
    const cap = readCapture(join(CAPTURES, 'fast-tls13.pcap'));
    const alone = analyze(cap.packets, cap.linkType, { keepPackets: true });
    // every flow's ClientHello comes after 4000 flood SYNs (+ SYN-ACKs) that overflow a 256 KiB area
    const first = us(cap.packets[0]!);
    const chAt = Math.min(...alone.records.map((r) => r.timeline.client_hello!));
    const floodPackets = hostileFlood(4000 * 8, first + 1, chAt - 1);
    const mixed = analyze(merge(cap.packets, floodPackets), cap.linkType, { keepPackets: true, keptAreaBytes: 256 * 1024 });
    expect(mixed.an.stats.trackers).toBe(alone.an.stats.trackers);
    expect(mixed.records).toHaveLength(alone.records.length);
    let lostFlows = 0, lostPackets = 0;
    for (const [i, rec] of mixed.records.entries()) {
      const j = alone.records.findIndex((r) => r.client === rec.client);
      const want = alone.records[j]!;
      const keptAlone = alone.trackers[j]!.kept!, kept = mixed.trackers[i]!.kept!;
      const lost = keptAlone.length - kept.length;
      const hex = (k: { data: Uint8Array }): string => Buffer.from(k.data).toString('hex');
      expect(kept.map(hex)).toEqual(keptAlone.slice(lost).map(hex)); // the oldest are the ones gone
      if (lost > 0) {
        lostFlows++;
        lostPackets += lost;
        expect(rec.notes).toContain(`${lost} packet(s) from before the first payload not kept for the per-flow pcap (the area they waited in, shared by all flows without payload, was reused by newer flows)`);
      }
      expect({ ...rec, notes: rec.notes.filter((n) => !/not kept/.test(n)) }).toEqual(want);
    }
    expect(lostFlows).toBeGreaterThan(0);
    expect(mixed.an.stats.keptLostEarlyFlows).toBe(lostFlows);
    expect(mixed.an.stats.keptPacketsLostEarly).toBe(lostPackets);
    // the same flood with the default area: nothing lost
    const roomy = analyze(merge(cap.packets, floodPackets), cap.linkType, { keepPackets: true });
    expect(roomy.an.stats.keptPacketsLostEarly).toBe(0);
  });

  it('analyze --out: the lost packets are in the summary; the default flow bound is lower with --out and --flow', () => {
    const cap = readCapture(join(CAPTURES, 'fast-tls13.pcap'));
    const first = us(cap.packets[0]!);
    const alone = analyze(cap.packets, cap.linkType, { keepPackets: true });
    const chAt = Math.min(...alone.records.map((r) => r.timeline.client_hello!));
    // 1000 flows of 400 ACKs each (96 bytes an entry): 38 MB, more than the 32 MiB area
    const storm: Packet[] = [];
    for (let i = 0; i < 1000; i++) {
      for (let k = 0; k < 402; k++) {
        const at = first + 1 + Math.floor(((chAt - first - 2) * (i * 402 + k)) / 402_000);
        const data = k === 0 ? tcpFrame(floodSrc(i), 7000, SERVER, 443, SYN, 5, 0, 0, 1460)
          : k === 1 ? tcpFrame(SERVER, 443, floodSrc(i), 7000, SYN_ACK, 9, 6, 0, 1460) : tcpFrame(floodSrc(i), 7000, SERVER, 443, ACK, 6, 10 + k, k);
        storm.push({ sec: Math.floor(at / 1e6), nsec: (at % 1e6) * 1000, data, origLen: data.length });
      }
    }
    const file = join(dir, 'storm.pcap');
    writeFileSync(file, writePcap({ linkType: 1, snaplen: 262144, packets: merge(cap.packets, storm.sort((a, b) => us(a) - us(b))) }), { mode: 0o600 });
    const out = join(dir, 'storm-out');
    const r = runCli(['analyze', '--format', 'ndjson', '--slow', '0', '--out', out, file]);
    expect(r.status).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    expect(recs).toHaveLength(alone.records.length);
    const noted = recs.filter((x) => x.notes.some((n) => /from before the first payload not kept/.test(n)));
    expect(noted.length).toBeGreaterThan(0);
    const lost = noted.reduce((a, x) => a + Number(/^(\d+) packet\(s\) from before/.exec(x.notes.find((n) => /from before/.test(n))!)![1]), 0);
    expect(r.stderr).toMatch(new RegExp(`^Kept packets reused: ${lost} packets from before the first payload of ${noted.length} flows not in their per-flow pcaps`, 'm'));
    // each of those pcaps lacks exactly its lost packets, the oldest
    for (const x of noted) {
      const n = Number(/^(\d+) packet/.exec(x.notes.find((m) => /from before/.test(m))!)![1]);
      const keptAlone = alone.trackers[alone.records.findIndex((a) => a.client === x.client)]!.kept!;
      const hex = (d: Uint8Array): string => Buffer.from(d).toString('hex');
      expect(readCapture(x.pcap!).packets.map((q) => hex(q.data))).toEqual(keptAlone.slice(n).map((k) => hex(k.data)));
    }
    const j = (args: string[]): Record<string, number> => (JSON.parse(runCli(['analyze', '--format', 'json', ...args, join(CAPTURES, 'fast-tls13.pcap')]).stdout) as { summary: Record<string, number> }).summary;
    expect(j([]).max_flows).toBe(524288);
    expect(j(['--out', join(dir, 'j-out')]).max_flows).toBe(262144);
    expect(j(['--out', join(dir, 'j-out'), '--max-flows', '1000']).max_flows).toBe(1000);
    expect(j(['--flow', alone.records[0]!.client]).max_flows).toBe(262144);
  });
});
