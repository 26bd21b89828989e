/**
 * Property tests (style §7, undici test/fuzzing): every decoder given arbitrary bytes, mutated
 * real packets and arbitrary chunk splits returns a status and never throws; chunked parsing
 * equals one-shot parsing; TCP reassembly of a shuffled, duplicated, re-split real stream delivers
 * the original bytes.
 *
 * Real inputs come from the bundled captures, read with the test helper's own pcap reader and a
 * test-local Ethernet/IP/TCP walker (independent of src/decode), so expectations are not derived
 * from the code under test.
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodePacket } from '../../src/decode/dispatch.js';
import { ja4 } from '../../src/decode/ja4.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { Status } from '../../src/decode/reader.js';
import { decodeClientHello, decodeServerHello, helloStatus } from '../../src/decode/tls-hello.js';
import { TlsStream, type TlsStreamOwner } from '../../src/decode/tls-stream.js';
import { TcpStream, type InOrderSink } from '../../src/flow/tcp-stream.js';
import { Analyzer } from '../../src/handshake/analyzer.js';
import type { FlowRecord } from '../../src/handshake/record.js';
import { analyzeCaptures, CaptureFileError } from '../../src/index.js';
import { PcapParser } from '../../src/sources/pcap-file.js';
import { PcapngParser } from '../../src/sources/pcapng-file.js';
import { AnomalyCounters, Anomaly } from '../../src/telemetry/anomalies.js';
import { CAPTURES } from '../helpers/cli.js';
import {
  LINK_REWRITES, LT_ETHERNET, LT_SLL, LT_RAW, PcapngWriter, ethPayload, privateTempDir, readCapture, rewriteLink,
  sllFrame, writePcap, type Capture, type Packet,
} from '../helpers/capture-variants.js';

const RUNS = 300;
const CAPTURE_NAMES = ['network-delay.pcap', 'fast-tls12.pcap', 'hrr.pcap', 'ipv6.pcap', 'resumption.pcap', 'loss-server-flight.pcap'];
const LINK_TYPES = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147 /* unsupported */];

const caps: Capture[] = CAPTURE_NAMES.map((n) => readCapture(join(CAPTURES, n)));

// ---- a test-local TCP flow walker (Ethernet, IPv4/IPv6 without extension headers) -----------------

interface Seg { seq: number; data: Uint8Array; sec: number; nsec: number }
interface Direction { isn: number; segs: Seg[]; stream: Uint8Array }
interface Flow { client: Direction; server: Direction }

function tcpOf(frame: Uint8Array): { key: string; rkey: string; seq: number; flags: number; payload: Uint8Array } | null {
  const { ethertype, net } = ethPayload(frame);
  let l4: number, src: string, dst: string, end: number;
  if (ethertype === 0x0800 && net[9] === 6) {
    l4 = (net[0]! & 0x0f) * 4;
    end = (net[2]! << 8) | net[3]!;
    src = net.subarray(12, 16).join('.');
    dst = net.subarray(16, 20).join('.');
  } else if (ethertype === 0x86dd && net[6] === 6) {
    l4 = 40;
    end = 40 + ((net[4]! << 8) | net[5]!);
    src = Buffer.from(net.subarray(8, 24)).toString('hex');
    dst = Buffer.from(net.subarray(24, 40)).toString('hex');
  } else return null;
  const t = net.subarray(l4, end);
  const sp = (t[0]! << 8) | t[1]!, dp = (t[2]! << 8) | t[3]!;
  return {
    key: `${src}:${sp}>${dst}:${dp}`, rkey: `${dst}:${dp}>${src}:${sp}`,
    seq: ((t[4]! << 24) | (t[5]! << 16) | (t[6]! << 8) | t[7]!) >>> 0,
    flags: t[13]!, payload: t.subarray((t[12]! >> 4) * 4),
  };
}

/** The contiguous byte stream from ISN + 1 (retransmissions carry the same bytes). */
function reassemble(isn: number, segs: Seg[]): Uint8Array {
  const parts = new Map<number, Uint8Array>();
  for (const s of segs) parts.set((s.seq - isn - 1) >>> 0, s.data);
  const out: number[] = [];
  for (;;) {
    let progressed = false;
    for (const [rel, d] of parts) {
      if (rel <= out.length && rel + d.length > out.length) {
        for (let i = out.length - rel; i < d.length; i++) out.push(d[i]!);
        progressed = true;
      }
    }
    if (!progressed) return Uint8Array.from(out);
  }
}

function flowsOf(cap: Capture): Flow[] {
  const byKey = new Map<string, { client: { isn: number; segs: Seg[] }; server: { isn: number; segs: Seg[] } }>();
  const dirOf = new Map<string, 'client' | 'server'>();
  for (const p of cap.packets) {
    const t = tcpOf(p.data);
    if (t === null) continue;
    if ((t.flags & 0x12) === 0x02 && !byKey.has(t.key)) {
      byKey.set(t.key, { client: { isn: t.seq, segs: [] }, server: { isn: -1, segs: [] } });
      dirOf.set(t.key, 'client');
      dirOf.set(t.rkey, 'server');
      continue;
    }
    const d = dirOf.get(t.key);
    if (d === undefined) continue;
    const f = byKey.get(d === 'client' ? t.key : t.rkey)!;
    if ((t.flags & 0x12) === 0x12) { f.server.isn = t.seq; continue; }
    if (t.payload.length > 0) f[d].segs.push({ seq: t.seq, data: t.payload.slice(), sec: p.sec, nsec: p.nsec });
  }
  return [...byKey.values()].filter((f) => f.server.isn >= 0).map((f) => ({
    client: { ...f.client, stream: reassemble(f.client.isn, f.client.segs) },
    server: { ...f.server, stream: reassemble(f.server.isn, f.server.segs) },
  }));
}

const flows: Flow[] = caps.flatMap(flowsOf);

/** First handshake message body of a stream of plaintext handshake records (hello bodies). */
function firstHelloBody(stream: Uint8Array): Uint8Array {
  const hs: number[] = [];
  for (let o = 0; o + 5 <= stream.length && stream[o] === 22; ) {
    const len = (stream[o + 3]! << 8) | stream[o + 4]!;
    hs.push(...stream.subarray(o + 5, o + 5 + len));
    o += 5 + len;
    if (hs.length >= 4 && hs.length >= 4 + ((hs[1]! << 16) | (hs[2]! << 8) | hs[3]!)) break;
  }
  const n = (hs[1]! << 16) | (hs[2]! << 8) | hs[3]!;
  return Uint8Array.from(hs.slice(4, 4 + n));
}

const clientHellos = flows.map((f) => firstHelloBody(f.client.stream));
const serverHellos = flows.map((f) => firstHelloBody(f.server.stream));

describe('fixtures', () => {
  test('every bundled flow yields streams and hellos that decode', () => {
    expect(flows.length).toBeGreaterThanOrEqual(12);
    for (const b of clientHellos) expect(decodeClientHello(b, 0, b.length)).not.toBeNull();
    for (const b of serverHellos) expect(decodeServerHello(b, 0, b.length)).not.toBeNull();
    expect(serverHellos.some((b) => decodeServerHello(b, 0, b.length)!.hrr)).toBe(true);
  });
});

// ---- arbitraries ---------------------------------------------------------------------------------

/** Real frames of every capture, re-encoded for every link type (so mutations reach each decoder). */
const realFrames: { linkType: number; data: Uint8Array }[] = [];
for (const cap of caps) {
  for (const p of cap.packets) realFrames.push({ linkType: LT_ETHERNET, data: p.data });
  for (const rw of LINK_REWRITES) {
    for (const p of rewriteLink(cap, rw).packets.filter((_, i) => i % 7 === 0)) realFrames.push({ linkType: rw.linkType, data: p.data });
  }
}

interface Mutation { kind: 'flip' | 'set' | 'cut' | 'insert' | 'delete'; pos: number; val: number }
const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  kind: fc.constantFrom('flip', 'set', 'cut', 'insert', 'delete'),
  pos: fc.nat(),
  val: fc.nat(255),
}) as fc.Arbitrary<Mutation>;

function mutate(data: Uint8Array, muts: Mutation[]): Uint8Array {
  let d = Array.from(data);
  for (const m of muts) {
    if (d.length === 0) break;
    const i = m.pos % d.length;
    switch (m.kind) {
      case 'flip': d[i] = d[i]! ^ (1 << (m.val & 7)); break;
      case 'set': d[i] = m.val; break;
      case 'cut': d = d.slice(0, i); break;
      case 'insert': d.splice(i, 0, m.val); break;
      case 'delete': d.splice(i, 1); break;
    }
  }
  return Uint8Array.from(d);
}

const arbitraryPacket = fc.record({ linkType: fc.constantFrom(...LINK_TYPES), data: fc.uint8Array({ maxLength: 160 }) });
const mutatedPacket = fc.record({
  frame: fc.constantFrom(...realFrames),
  muts: fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
}).map(({ frame, muts }) => ({ linkType: frame.linkType, data: mutate(frame.data, muts) }));
const anyPacket = fc.oneof(arbitraryPacket, mutatedPacket);

// ---- (a) decodePacket -----------------------------------------------------------------------------

const STATUSES = [Status.OK, Status.TRUNCATED, Status.INVALID, Status.UNSUPPORTED];

function decodeAt(linkType: number, data: Uint8Array, lead: number, trail: Uint8Array) {
  const pkt = new DecodedPacket();
  const buf = new Uint8Array(lead + data.length + trail.length);
  buf.fill(0xa5, 0, lead);
  buf.set(data, lead);
  buf.set(trail, lead + data.length);
  pkt.buf = buf;
  pkt.off = lead;
  pkt.caplen = data.length;
  pkt.linkType = linkType;
  const an = new AnomalyCounters();
  const status = decodePacket(pkt, an);
  return { status, pkt, an };
}

/** The decoded fields, with buffer offsets made relative to the packet start. */
function fields(pkt: DecodedPacket) {
  const o = pkt.off;
  return {
    ipVersion: pkt.ipVersion, src: pkt.srcAddrOff - o, dst: pkt.dstAddrOff - o, srcPort: pkt.srcPort, dstPort: pkt.dstPort,
    seq: pkt.seq, ack: pkt.ack, flags: pkt.flags, window: pkt.window, mss: pkt.mss,
    payloadOff: pkt.payloadOff - o, payloadLen: pkt.payloadLen, payloadAvail: pkt.payloadAvail,
  };
}

describe('(a) decodePacket', () => {
  test.prop([anyPacket], { numRuns: RUNS * 3 })('never throws, returns a Status, counts exactly one anomaly when not OK', ({ linkType, data }) => {
    const { status, pkt, an } = decodeAt(linkType, data, 0, new Uint8Array(0));
    expect(STATUSES).toContain(status);
    const total = an.counts.reduce((a, b) => a + b, 0);
    if (status !== Status.OK) {
      expect(total).toBe(1);
      return;
    }
    // OK: only the two "segment still usable" anomalies may have been counted.
    expect(total - an.counts[Anomaly.BAD_TCP_OPTION]! - an.counts[Anomaly.TRUNCATED_TCP_PAYLOAD]!).toBe(0);
    const end = pkt.off + pkt.caplen;
    const alen = pkt.ipVersion === 6 ? 16 : 4;
    expect([4, 6]).toContain(pkt.ipVersion);
    expect(pkt.srcAddrOff + alen).toBeLessThanOrEqual(end);
    expect(pkt.dstAddrOff + alen).toBeLessThanOrEqual(end);
    expect(pkt.payloadOff).toBeLessThanOrEqual(end);
    expect(pkt.payloadAvail).toBeGreaterThanOrEqual(0);
    expect(pkt.payloadAvail).toBeLessThanOrEqual(pkt.payloadLen);
    expect(pkt.payloadOff + pkt.payloadAvail).toBeLessThanOrEqual(end);
    expect(an.counts[Anomaly.TRUNCATED_TCP_PAYLOAD]! > 0).toBe(pkt.payloadAvail < pkt.payloadLen);
  });

  test.prop([anyPacket, fc.nat(40), fc.uint8Array({ minLength: 1, maxLength: 64 })], { numRuns: RUNS * 2 })(
    'never reads outside [off, off + caplen): leading and trailing bytes change nothing',
    ({ linkType, data }, lead, trail) => {
      const a = decodeAt(linkType, data, 0, new Uint8Array(0));
      const b = decodeAt(linkType, data, lead, trail);
      const c = decodeAt(linkType, data, lead, trail.map((x) => x ^ 0xff));
      expect(b.status).toBe(a.status);
      expect(c.status).toBe(a.status);
      expect(b.an.toObject()).toEqual(a.an.toObject());
      expect(c.an.toObject()).toEqual(a.an.toObject());
      if (a.status === Status.OK) {
        expect(fields(b.pkt)).toEqual(fields(a.pkt));
        expect(fields(c.pkt)).toEqual(fields(a.pkt));
      }
    },
  );
});

// ---- (b) full pipeline ----------------------------------------------------------------------------

/** Every number in a record is finite (NaN or Infinity would turn into null in JSON silently). */
function expectFiniteNumbers(v: unknown, path = 'record'): void {
  if (typeof v === 'number') expect(Number.isFinite(v), path).toBe(true);
  else if (Array.isArray(v)) v.forEach((x, i) => expectFiniteNumbers(x, `${path}[${i}]`));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) expectFiniteNumbers(x, `${path}.${k}`);
}

function runAnalyzer(packets: { linkType: number; p: Packet }[]): { records: FlowRecord[]; an: Analyzer } {
  const records: FlowRecord[] = [];
  const an = new Analyzer({ slowMs: 200, keepPackets: true, flowFilter: null, onRecord: (r) => records.push(r) });
  const pkt = new DecodedPacket();
  for (const { linkType, p } of packets) {
    pkt.buf = p.data; pkt.off = 0; pkt.caplen = p.data.length; pkt.origLen = p.origLen; pkt.linkType = linkType;
    pkt.tsSec = p.sec; pkt.tsNsec = p.nsec; pkt.tsUs = p.sec * 1e6 + Math.floor(p.nsec / 1000);
    an.onPacket(pkt);
  }
  an.finish();
  return { records, an };
}

interface CaptureMutation { i: number; muts: Mutation[]; dup: boolean; drop: boolean; swap: boolean; dts: number }
const captureMutationArb: fc.Arbitrary<CaptureMutation> = fc.record({
  i: fc.nat(),
  muts: fc.array(mutationArb, { maxLength: 4 }),
  dup: fc.boolean(),
  drop: fc.boolean(),
  swap: fc.boolean(),
  dts: fc.integer({ min: -2_000_000, max: 2_000_000 }),
});

function mutateCapture(cap: Capture, ms: CaptureMutation[]): Packet[] {
  const ps = cap.packets.map((p) => ({ ...p }));
  for (const m of ms) {
    if (ps.length === 0) break;
    const i = m.i % ps.length;
    const p = ps[i]!;
    p.data = mutate(p.data, m.muts);
    const us = p.sec * 1e6 + Math.floor(p.nsec / 1000) + m.dts;
    p.sec = Math.max(0, Math.floor(us / 1e6));
    p.nsec = Math.max(0, (us - p.sec * 1e6) * 1000);
    if (m.drop) ps.splice(i, 1);
    else if (m.dup) ps.splice(i, 0, { ...p });
    if (m.swap && i + 1 < ps.length) [ps[i], ps[i + 1]] = [ps[i + 1]!, ps[i]!];
  }
  return ps;
}

describe('(b) full pipeline on mutated captures', () => {
  test.prop([
    fc.nat(caps.length - 1),
    fc.option(fc.constantFrom(...LINK_REWRITES), { nil: null }),
    fc.array(captureMutationArb, { minLength: 1, maxLength: 40 }),
  ], { numRuns: RUNS })('mutated packets (bit flips, truncation, reordering, time jumps) never throw', (ci, rw, ms) => {
    const cap = rw ? rewriteLink(caps[ci]!, rw) : caps[ci]!;
    const ps = mutateCapture(cap, ms);
    const t0 = performance.now();
    const { records, an } = runAnalyzer(ps.map((p) => ({ linkType: cap.linkType, p })));
    expect(performance.now() - t0).toBeLessThan(10_000); // a runaway guard, generous for loaded CI hosts
    expect(an.stats.packets).toBe(ps.length);
    for (const r of records) expectFiniteNumbers(JSON.parse(JSON.stringify(r)) as unknown);
    for (const r of records) expectFiniteNumbers(r);
  });

  test.prop([fc.array(anyPacket, { maxLength: 60 }), fc.array(fc.integer({ min: 0, max: 3_000_000 }), { minLength: 1, maxLength: 60 })], { numRuns: RUNS })(
    'arbitrary packets with arbitrary timestamps never throw',
    (pkts, gaps) => {
      let us = 1_700_000_000_000_000;
      const { records } = runAnalyzer(pkts.map(({ linkType, data }, i) => {
        us += gaps[i % gaps.length]!;
        return { linkType, p: { sec: Math.floor(us / 1e6), nsec: (us % 1e6) * 1000, data, origLen: data.length } };
      }));
      for (const r of records) expectFiniteNumbers(r);
    },
  );

  let dir: string;
  beforeAll(() => { dir = privateTempDir(); });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test.prop([
    fc.nat(caps.length - 1),
    fc.boolean(),
    fc.array(captureMutationArb, { maxLength: 20 }),
    fc.array(mutationArb.filter((m) => m.kind === 'flip' || m.kind === 'set' || m.kind === 'cut'), { maxLength: 4 }),
  ], { numRuns: 40 })('pcap/pcapng files of mutated packets, with raw file damage, through analyzeCaptures', async (ci, ng, ms, fileMuts) => {
    const cap = caps[ci]!;
    const ps = mutateCapture(cap, ms);
    let bytes: Uint8Array;
    if (ng) {
      const w = new PcapngWriter().shb().idb({ linkType: cap.linkType, tsresol: 9 });
      for (const p of ps) w.epb(0, p);
      bytes = w.toBuffer();
    } else bytes = writePcap({ ...cap, packets: ps });
    bytes = mutate(bytes, fileMuts);
    const f = join(dir, 'fuzz.cap');
    writeFileSync(f, bytes);
    try {
      const r = await analyzeCaptures([f]);
      for (const rec of r.records) expectFiniteNumbers(rec);
    } catch (err) {
      expect(err).toBeInstanceOf(CaptureFileError); // corrupt input is reported, never a crash
    }
  });
});

// ---- (c) hello parsers ----------------------------------------------------------------------------

const realHello = (bodies: Uint8Array[]) => fc.record({ b: fc.constantFrom(...bodies), muts: fc.array(mutationArb, { maxLength: 8 }) })
  .map(({ b, muts }) => mutate(b, muts));

type HelloDecoder = typeof decodeClientHello | typeof decodeServerHello;

function checkHello(decode: HelloDecoder, body: Uint8Array, lead: number, trail: Uint8Array): void {
  const r = decode(body, 0, body.length);
  const st = helloStatus.status;
  if (r === null) expect([Status.TRUNCATED, Status.INVALID]).toContain(st);
  else expect(st).toBe(Status.OK);
  if (r !== null && decode === decodeClientHello) ja4(r as NonNullable<ReturnType<typeof decodeClientHello>>);
  // The same body inside a larger buffer, bounded by `end`: identical result (no reads past end).
  const buf = new Uint8Array(lead + body.length + trail.length);
  buf.fill(0x16, 0, lead);
  buf.set(body, lead);
  buf.set(trail, lead + body.length);
  const r2 = decode(buf, lead, lead + body.length);
  expect(helloStatus.status).toBe(st);
  expect(r2).toEqual(r);
}

describe('(c) ClientHello / ServerHello parsers', () => {
  const trail = fc.uint8Array({ minLength: 1, maxLength: 32 });
  test.prop([fc.uint8Array({ maxLength: 300 }), fc.nat(8), trail], { numRuns: RUNS })('arbitrary ClientHello bodies', (b, lead, t) => {
    checkHello(decodeClientHello, b, lead, t);
  });
  test.prop([realHello(clientHellos), fc.nat(8), trail], { numRuns: RUNS * 2 })('mutated real ClientHello bodies', (b, lead, t) => {
    checkHello(decodeClientHello, b, lead, t);
  });
  test.prop([fc.uint8Array({ maxLength: 200 }), fc.nat(8), trail], { numRuns: RUNS })('arbitrary ServerHello bodies', (b, lead, t) => {
    checkHello(decodeServerHello, b, lead, t);
  });
  test.prop([realHello(serverHellos), fc.nat(8), trail], { numRuns: RUNS * 2 })('mutated real ServerHello bodies', (b, lead, t) => {
    checkHello(decodeServerHello, b, lead, t);
  });
});

// ---- (d) TlsStream chunking -----------------------------------------------------------------------

type Call = unknown[];

/** Runs `stream` through a TlsStream in chunks of the given sizes (cycled); ts of a chunk = tsOf(start). */
function runTls(stream: Uint8Array, fromClient: boolean, tls13: boolean, sizes: number[], tsOf: (start: number) => number): Call[] {
  const calls: Call[] = [];
  let s: TlsStream;
  const owner: TlsStreamOwner = {
    onTlsRecord: (c, t, e, ts) => { calls.push(['record', c, t, e, ts]); },
    onTlsHandshake: (c, t, b, o, n, ts) => {
      calls.push(['hs', c, t, b ? Buffer.from(b.subarray(o, o + n)).toString('hex') : null, n, ts]);
      // The tracker's policy: a TLS 1.3 ServerHello switches the encryption rules.
      if (t === 2 && b !== null && decodeServerHello(b, o, o + n)?.version === 0x0304) s.tls13 = true;
    },
    onTlsError: (c, a) => { calls.push(['error', c, a]); },
    onTlsRecordEnd: (c, t, e, len, ts) => { calls.push(['end', c, t, e, len, ts]); },
  };
  s = new TlsStream(fromClient, owner);
  s.tls13 = tls13;
  // Chunks are copied into a fresh buffer at an offset, like payload inside a packet.
  for (let off = 0, i = 0; off < stream.length; i++) {
    const n = Math.min(sizes[i % sizes.length]!, stream.length - off);
    const pktBuf = new Uint8Array(n + 20).fill(0xcc);
    pktBuf.set(stream.subarray(off, off + n), 10);
    s.push(pktBuf, 10, 10 + n, tsOf(off));
    off += n;
  }
  return calls;
}

const streams = flows.flatMap((f) => {
  const sh = decodeServerHello(serverHellos[flows.indexOf(f)]!, 0, serverHellos[flows.indexOf(f)]!.length);
  const v13 = sh?.version === 0x0304;
  return [{ bytes: f.client.stream, fromClient: true, tls13: v13 }, { bytes: f.server.stream, fromClient: false, tls13: false }];
});

const sizesArb = fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 30 });

describe('(d) TlsStream: chunk splits do not change the callbacks', () => {
  test('real streams produce records and hellos (fixture sanity)', () => {
    for (const st of streams) {
      const calls = runTls(st.bytes, st.fromClient, st.tls13, [st.bytes.length], () => 1);
      expect(calls.filter((c) => c[0] === 'error')).toEqual([]);
      expect(calls.some((c) => c[0] === 'hs' && c[2] === (st.fromClient ? 1 : 2))).toBe(true);
    }
  });

  test.prop([fc.nat(streams.length - 1), sizesArb], { numRuns: RUNS })('real stream: same callbacks as one piece (constant ts)', (si, sizes) => {
    const st = streams[si]!;
    const whole = runTls(st.bytes, st.fromClient, st.tls13, [st.bytes.length], () => 7);
    expect(runTls(st.bytes, st.fromClient, st.tls13, sizes, () => 7)).toEqual(whole);
  });

  test.prop([fc.nat(streams.length - 1), sizesArb], { numRuns: RUNS })(
    'real stream: record ts = chunk holding its first byte, handshake ts = chunk completing it',
    (si, sizes) => {
      const st = streams[si]!;
      // Reference: byte by byte with ts = byte index.
      const ref = runTls(st.bytes, st.fromClient, st.tls13, [1], (i) => i);
      const starts: number[] = [];
      for (let off = 0, i = 0; off < st.bytes.length; i++) { starts.push(off); off += sizes[i % sizes.length]!; }
      const chunkStart = (byte: number): number => {
        let lo = 0, hi = starts.length - 1;
        while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (starts[mid]! <= byte) lo = mid; else hi = mid - 1; }
        return starts[lo]!;
      };
      const want = ref.map((c) => (c[0] === 'error' ? c : [...c.slice(0, -1), chunkStart(c[c.length - 1] as number)]));
      expect(runTls(st.bytes, st.fromClient, st.tls13, sizes, (i) => i)).toEqual(want);
    },
  );

  const damaged = fc.record({ si: fc.nat(streams.length - 1), muts: fc.array(mutationArb, { maxLength: 6 }) })
    .map(({ si, muts }) => ({ ...streams[si]!, bytes: mutate(streams[si]!.bytes, muts) }));
  const random = fc.record({ bytes: fc.uint8Array({ maxLength: 600 }), fromClient: fc.boolean(), tls13: fc.boolean() });
  test.prop([fc.oneof(damaged, random), sizesArb], { numRuns: RUNS })('damaged or arbitrary stream: never throws, same callbacks', (st, sizes) => {
    const whole = runTls(st.bytes, st.fromClient, st.tls13, [Math.max(1, st.bytes.length)], () => 3);
    expect(runTls(st.bytes, st.fromClient, st.tls13, sizes, () => 3)).toEqual(whole);
    // tls_message_too_large is not fatal; bad_tls_record is, so it can only be the last callback.
    const fatal = whole.findIndex((c) => c[0] === 'error' && c[2] === Anomaly.BAD_TLS_RECORD);
    if (fatal >= 0) expect(fatal).toBe(whole.length - 1);
  });
});

// ---- (e) capture parsers: chunked = one-shot ------------------------------------------------------

interface Ev { ts: string; caplen: number; origLen: number; linkType: number; ifIndex: number; bytes: string }

/** The carry-over loop of capture-file.ts readChunks, over in-memory chunks. */
function parseChunks(data: Uint8Array, sizes: number[]): { events: Ev[]; error: string | null; leftover: number } {
  const events: Ev[] = [];
  const pkt = new DecodedPacket();
  const sink = {
    onPacket(p: DecodedPacket): void {
      events.push({
        ts: `${p.tsSec}.${p.tsNsec}/${p.tsUs}`, caplen: p.caplen, origLen: p.origLen, linkType: p.linkType, ifIndex: p.ifIndex,
        bytes: Buffer.from(p.buf.subarray(p.off, p.off + p.caplen)).toString('hex'),
      });
    },
  };
  let parser: PcapParser | PcapngParser | null = null;
  let pending: Buffer | null = null;
  let base = 0;
  try {
    for (let off = 0, i = 0; off < data.length; i++) {
      const n = sizes[i % sizes.length]!;
      const chunk = Buffer.from(data.subarray(off, off + n)); // a fresh buffer per read, like the file reader
      off += n;
      const d: Buffer = pending && pending.length ? Buffer.concat([pending, chunk]) : chunk;
      if (parser === null) {
        if (d.length < 4) { pending = d; continue; }
        parser = d.readUInt32BE(0) === 0x0a0d0d0a ? new PcapngParser('x') : new PcapParser('x');
      }
      const pos = parser.parse(d, 0, base, pkt, sink);
      pending = pos < d.length ? d.subarray(pos) : null;
      base += pos;
    }
  } catch (err) {
    if (!(err instanceof CaptureFileError)) throw err;
    return { events, error: `${err.offset}: ${err.reason}`, leftover: -1 };
  }
  return { events, error: null, leftover: pending?.length ?? 0 };
}

const files: Uint8Array[] = (() => {
  const nd = caps[0]!;
  const two = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET }).idb({ linkType: LT_SLL, tsresol: 9 }).nrb();
  nd.packets.forEach((p, i) => {
    if (i % 3 === 0) two.isb(0).custom(true);
    if (i % 2 && ethPayload(p.data).ethertype === 0x0800) two.epb(1, { ...p, data: sllFrame(p.data) });
    else two.epb(0, p);
  });
  const raw = rewriteLink(nd, LINK_REWRITES.find((r) => r.linkType === LT_RAW)!);
  return [
    readFileSync(join(CAPTURES, 'network-delay.pcap')),
    readFileSync(join(CAPTURES, 'network-delay-ns.pcapng')),
    writePcap(caps[3]!, { bigEndian: true, nano: true }),
    two.toBuffer(),
    new PcapngWriter({ bigEndian: true }).shb().idb({ linkType: LT_RAW, tsoffset: 5n }).toBuffer(),
    Buffer.concat([
      (() => { const w = new PcapngWriter({ bigEndian: true }).shb().idb({ linkType: LT_RAW, tsresol: 9 }); raw.packets.forEach((p) => w.epb(0, p)); return w.toBuffer(); })(),
      (() => { const w = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET }); nd.packets.slice(0, 9).forEach((p) => w.opb(0, p)); return w.toBuffer(); })(),
    ]),
  ];
})();

describe('(e) capture parsers: chunked parsing equals one-shot parsing', () => {
  test('one-shot parse agrees with the independent reader (count, µs timestamps)', () => {
    for (const [i, name] of [[0, 'network-delay.pcap'], [1, 'network-delay-ns.pcapng']] as const) {
      const one = parseChunks(files[i]!, [files[i]!.length]);
      const ref = readCapture(join(CAPTURES, name));
      expect(one.error).toBeNull();
      expect(one.leftover).toBe(0);
      expect(one.events.map((e) => e.ts)).toEqual(ref.packets.map((p) => `${p.sec}.${p.nsec}/${p.sec * 1e6 + Math.floor(p.nsec / 1000)}`));
    }
  });

  const chunkSizes = fc.array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 20 });
  test.prop([fc.nat(files.length - 1), chunkSizes], { numRuns: RUNS })('valid files', (fi, sizes) => {
    const f = files[fi]!;
    const one = parseChunks(f, [f.length]);
    expect(one.error).toBeNull();
    expect(parseChunks(f, sizes)).toEqual(one);
  });

  test.prop([fc.nat(files.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 5 }), chunkSizes], { numRuns: RUNS })(
    'damaged files: same packets, then the same error at the same offset (or the same leftover)',
    (fi, muts, sizes) => {
      const f = mutate(files[fi]!, muts);
      expect(parseChunks(f, sizes)).toEqual(parseChunks(f, [Math.max(1, f.length)]));
    },
  );
});

// ---- (f) TCP reassembly ---------------------------------------------------------------------------

class RecordingSink implements InOrderSink {
  bytes: number[] = [];
  failed = false;
  push(buf: Uint8Array, off: number, end: number): void {
    expect(off).toBeLessThanOrEqual(end);
    for (let i = off; i < end; i++) this.bytes.push(buf[i]!);
  }
  stop(): void { this.failed = true; }
}

const directions = flows.flatMap((f) => [f.client, f.server]).filter((d) => d.stream.length > 0);

interface Piece { start: number; end: number; key: number }
/**
 * A segment plan: the stream cut at arbitrary points, extra retransmissions of arbitrary ranges,
 * all shuffled by arbitrary keys.
 */
const planArb = fc.record({
  di: fc.nat(directions.length - 1),
  cuts: fc.array(fc.nat(), { maxLength: 40 }),
  dups: fc.array(fc.record({ a: fc.nat(), b: fc.nat(), key: fc.nat() }), { maxLength: 10 }),
  keys: fc.array(fc.nat(), { minLength: 1, maxLength: 50 }),
  isn: fc.oneof(fc.nat(0xffffffff), fc.integer({ min: 0xffffffff - 3000, max: 0xffffffff })),
  lead: fc.nat(60),
});

describe('(f) TcpStream: shuffled, duplicated, re-split real streams', () => {
  test.prop([planArb], { numRuns: RUNS })('delivers a prefix of the stream; all of it when the out-of-order buffer never fills', (plan) => {
    const stream = directions[plan.di]!.stream;
    const L = stream.length;
    const points = [...new Set([0, L, ...plan.cuts.map((c) => c % L)])].sort((a, b) => a - b);
    const pieces: Piece[] = [];
    for (let i = 0; i + 1 < points.length; i++) pieces.push({ start: points[i]!, end: points[i + 1]!, key: plan.keys[i % plan.keys.length]! });
    for (const d of plan.dups) {
      const a = d.a % L, b = d.b % L;
      pieces.push({ start: Math.min(a, b), end: Math.max(a, b) + 1, key: d.key });
    }
    pieces.sort((x, y) => x.key - y.key);

    const an = new AnomalyCounters();
    const s = new TcpStream(an);
    const sink = new RecordingSink();
    const loss: number[] = [];
    s.setIsn(plan.isn);
    let ts = 1_000_000;
    for (const pc of pieces) {
      const len = pc.end - pc.start;
      const seq = (plan.isn + 1 + pc.start) >>> 0;
      // Payload sits inside a larger packet buffer, as in a real frame.
      const buf = new Uint8Array(plan.lead + len + 4).fill(0xee);
      buf.set(stream.subarray(pc.start, pc.end), plan.lead);
      const rel = s.rel(seq);
      expect(rel).toBe(pc.start);
      s.classify(rel, len, ts, loss);
      s.deliver(rel, len, buf, plan.lead, len, ts, sink);
      ts += 100;
    }
    expect(s.maxRel).toBe(L);
    expect(loss.every(Number.isFinite)).toBe(true);
    const got = Uint8Array.from(sink.bytes);
    expect(Buffer.from(got).equals(Buffer.from(stream.subarray(0, got.length)))).toBe(true);
    if (an.counts[Anomaly.OUT_OF_ORDER_BUFFER_FULL] === 0) {
      expect(got.length).toBe(L);
      expect(s.nextRel).toBe(L);
    }
  });

  test.prop([planArb, fc.nat(), fc.nat()], { numRuns: RUNS })('a snaplen-cut segment stops delivery at a prefix, never delivers wrong bytes', (plan, cutAt, keep) => {
    const stream = directions[plan.di]!.stream;
    const L = stream.length;
    const points = [...new Set([0, L, ...plan.cuts.map((c) => c % L)])].sort((a, b) => a - b);
    const pieces: Piece[] = [];
    for (let i = 0; i + 1 < points.length; i++) pieces.push({ start: points[i]!, end: points[i + 1]!, key: plan.keys[i % plan.keys.length]! });
    pieces.sort((x, y) => x.key - y.key);
    const victim = cutAt % pieces.length;
    const an = new AnomalyCounters();
    const s = new TcpStream(an);
    const sink = new RecordingSink();
    s.setIsn(plan.isn);
    pieces.forEach((pc, i) => {
      const len = pc.end - pc.start;
      const avail = i === victim ? keep % len : len;
      const buf = new Uint8Array(plan.lead + avail).fill(0xee);
      buf.set(stream.subarray(pc.start, pc.start + avail), plan.lead);
      const rel = s.rel((plan.isn + 1 + pc.start) >>> 0);
      s.classify(rel, len, i, []);
      s.deliver(rel, len, buf, plan.lead, avail, i, sink);
    });
    const got = Buffer.from(sink.bytes);
    expect(got.equals(Buffer.from(stream.subarray(0, got.length)))).toBe(true);
    expect(got.length).toBeLessThan(L);
  });
});
