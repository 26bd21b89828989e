// Builds a large benchmark capture from REAL handshakes.
//
// 1. Templates: every complete IPv4 TCP flow (SYN … FIN/RST) in the given classic-pcap
//    Ethernet captures (captures/tls/*.pcap, made by openssl/curl through the delay line).
// 2. Bulk data: each template is extended, just before its first FIN/RST (so after the handshake
//    is done), with N server→client segments of 1448 bytes that carry TLS application-data
//    records (proper sequence numbers, client ACK every second segment one RTT later); every
//    later packet of the flow is shifted in time and in sequence/ack space (SACK edges too).
// 3. Replication: copy k gets its own client address/port (unique 4-tuple), IPv4 header and
//    TCP checksums are recomputed, and flows start as a Poisson process (default 2500 flows per
//    simulated second) so thousands of flows are in flight and their packets interleave.
// 4. Output: one time-ordered classic pcap (µs), written through a large buffer.
//
// Library: generateCapture({ templates, out, minPackets, minFlows, ... }) → summary.
// CLI: node gen-capture.mjs --out FILE [--packets N] [--flows N] [--bulk 15-20] [--rate R]
//      [--seed S] [--quiet] captures/tls/*.pcap
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import { parseArgs } from 'node:util';

const MSS = 1448;
const TLS_RECORD_MAX = 16384 + 17; // AEAD record: 16 KiB plaintext + type byte + tag
const SEG_GAP_US = 12; // 1448 B at ~1 Gbit/s
const FIN_GAP_US = 30;
const OUT_BUF = 8 << 20;
const BASE_SEC = 1_750_000_000;

// ---------------------------------------------------------------------------------------------
// Template extraction

function readPcap(file) {
  const b = readFileSync(file);
  if (b.length < 24) throw new Error(`${file}: too short for a pcap`);
  const m = b.readUInt32LE(0);
  let le;
  let nano;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) { le = true; nano = m === 0xa1b23c4d; }
  else if (b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d) { le = false; nano = b.readUInt32BE(0) === 0xa1b23c4d; }
  else throw new Error(`${file}: not a classic pcap`);
  const u32 = (o) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const linkType = u32(20) & 0xffff;
  const recs = [];
  let pos = 24;
  while (pos + 16 <= b.length) {
    const sec = u32(pos);
    const frac = u32(pos + 4);
    const incl = u32(pos + 8);
    const orig = u32(pos + 12);
    if (pos + 16 + incl > b.length) break; // file still being written: ignore the torn tail
    const tsUs = sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac);
    recs.push({ tsUs, data: Buffer.from(b.subarray(pos + 16, pos + 16 + incl)), truncated: incl < orig });
    pos += 16 + incl;
  }
  return { linkType, recs };
}

/** Parses Ethernet/IPv4/TCP; null for anything else. Offsets are into `data`. */
function parseTcp4(data) {
  if (data.length < 14 + 20 + 20) return null;
  if (data.readUInt16BE(12) !== 0x0800) return null;
  const ip = 14;
  if (data[ip] >> 4 !== 4) return null;
  const ihl = (data[ip] & 15) * 4;
  if (ihl < 20 || data[ip + 9] !== 6) return null;
  if (data.readUInt16BE(ip + 6) & 0x3fff) return null; // fragment
  const totLen = data.readUInt16BE(ip + 2);
  const tcp = ip + ihl;
  if (ip + totLen > data.length || tcp + 20 > ip + totLen) return null;
  const thl = (data[tcp + 12] >> 4) * 4;
  if (thl < 20 || tcp + thl > ip + totLen) return null;
  return {
    ip, ihl, tcp, thl, totLen,
    src: data.readUInt32BE(ip + 12), dst: data.readUInt32BE(ip + 16),
    sport: data.readUInt16BE(tcp), dport: data.readUInt16BE(tcp + 2),
    seq: data.readUInt32BE(tcp + 4), ack: data.readUInt32BE(tcp + 8),
    flags: data[tcp + 13],
    payOff: tcp + thl, payLen: ip + totLen - tcp - thl,
  };
}

const F_FIN = 1, F_SYN = 2, F_RST = 4, F_PSH = 8, F_ACK = 16;

/** Whole TCP flows (first packet a SYN, ends with FIN or RST) of one capture. */
export function extractFlows(file) {
  const { linkType, recs } = readPcap(file);
  if (linkType !== 1) return { flows: [], skipped: `link type ${linkType}, not Ethernet` };
  const open = new Map();
  const flows = [];
  for (const r of recs) {
    if (r.truncated) continue;
    const h = parseTcp4(r.data);
    if (h === null) continue;
    const a = `${h.src}:${h.sport}`, z = `${h.dst}:${h.dport}`;
    const key = a < z ? `${a}-${z}` : `${z}-${a}`;
    let f = open.get(key);
    const isSyn = (h.flags & (F_SYN | F_ACK)) === F_SYN;
    if (isSyn && (f === undefined || (f.ended && h.seq !== f.cliIsn))) {
      if (f !== undefined) flows.push(f);
      f = { file, cliAddr: h.src, cliPort: h.sport, srvAddr: h.dst, srvPort: h.dport, cliIsn: h.seq, pkts: [], ended: false };
      open.set(key, f);
    }
    if (f === undefined) continue; // no SYN seen: not a whole flow
    const fromClient = h.src === f.cliAddr && h.sport === f.cliPort;
    f.pkts.push({ tsUs: r.tsUs, data: r.data, h, fromClient });
    if (h.flags & (F_FIN | F_RST)) f.ended = true;
  }
  for (const f of open.values()) flows.push(f);
  const whole = flows.filter((f) => f.ended && f.pkts.some((p) => !p.fromClient));
  for (const f of whole) {
    // A TLS flow for slowshake: some client payload starts a ClientHello record.
    f.tls = f.pkts.some((p) => p.fromClient && p.h.payLen >= 6 && p.data[p.h.payOff] === 22 && p.data[p.h.payOff + 1] === 3 && p.data[p.h.payOff + 5] === 1);
    f.name = `${basename(file)}:${f.cliPort}`;
  }
  return { flows: whole, skipped: null };
}

// ---------------------------------------------------------------------------------------------
// Checksums (one's-complement sums kept unfolded in a JS number; folded at the end)

function sum16(b, start, end) {
  let s = 0;
  let i = start;
  for (; i + 1 < end; i += 2) s += (b[i] << 8) | b[i + 1];
  if (i < end) s += b[i] << 8;
  return s;
}
function fold(s) {
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Plans: one template flow with N bulk segments injected, as finished frames whose only
// per-copy fields are the client address/port (and timestamps). Checksums are pre-summed
// with those fields zeroed.

function tsOption(data, h) {
  // Returns [TSval, TSecr] if the TCP header carries a timestamp option.
  let o = h.tcp + 20;
  const end = h.tcp + h.thl;
  while (o < end) {
    const kind = data[o];
    if (kind === 0) break;
    if (kind === 1) { o++; continue; }
    const len = data[o + 1];
    if (len < 2 || o + len > end) break;
    if (kind === 8 && len === 10) return [data.readUInt32BE(o + 2), data.readUInt32BE(o + 6)];
    o += len;
  }
  return null;
}

function shiftSack(data, h, delta) {
  let o = h.tcp + 20;
  const end = h.tcp + h.thl;
  while (o < end) {
    const kind = data[o];
    if (kind === 0) break;
    if (kind === 1) { o++; continue; }
    const len = data[o + 1];
    if (len < 2 || o + len > end) break;
    if (kind === 5) for (let e = o + 2; e + 4 <= o + len; e += 4) data.writeUInt32BE((data.readUInt32BE(e) + delta) >>> 0, e);
    o += len;
  }
}

/** Builds a frame modelled on template packet `m` (Ethernet + IPv4 header copied) with new TCP fields. */
function buildFrame(m, { seq, ack, flags, ipId, ts, payload, payStart, payEnd }) {
  const d = m.data, h = m.h;
  const optLen = ts ? 12 : 0;
  const thl = 20 + optLen;
  const payLen = payload ? payEnd - payStart : 0;
  const totLen = h.ihl + thl + payLen;
  const f = Buffer.alloc(h.ip + totLen);
  d.copy(f, 0, 0, h.ip + h.ihl); // Ethernet + IPv4 header (options kept)
  f.writeUInt16BE(totLen, h.ip + 2);
  f.writeUInt16BE(ipId & 0xffff, h.ip + 4);
  const t = h.ip + h.ihl;
  f.writeUInt16BE(h.sport, t);
  f.writeUInt16BE(h.dport, t + 2);
  f.writeUInt32BE(seq >>> 0, t + 4);
  f.writeUInt32BE(ack >>> 0, t + 8);
  f[t + 12] = (thl / 4) << 4;
  f[t + 13] = flags;
  f.writeUInt16BE(d.readUInt16BE(h.tcp + 14), t + 14); // window
  if (ts) {
    f[t + 20] = 1; f[t + 21] = 1; f[t + 22] = 8; f[t + 23] = 10;
    f.writeUInt32BE(ts[0] >>> 0, t + 24);
    f.writeUInt32BE(ts[1] >>> 0, t + 28);
  }
  if (payLen) payload.copy(f, t + thl, payStart, payEnd);
  return f;
}

/** Server→client application data: TLS 1.2/1.3 application_data records, D bytes in all. */
function bulkStream(total, seed) {
  const b = Buffer.alloc(total);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < total; i++) { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; b[i] = x & 255; }
  let o = 0;
  while (o < total) {
    let rec = Math.min(5 + TLS_RECORD_MAX, total - o);
    if (total - o - rec > 0 && total - o - rec < 6) rec -= 6; // keep the last record ≥ 1 byte of payload
    b[o] = 23; b[o + 1] = 3; b[o + 2] = 3;
    b.writeUInt16BE(rec - 5, o + 3);
    o += rec;
  }
  return b;
}

/**
 * A segment holding just a TLS alert: plaintext type 21 (TLS ≤ 1.2), or a TLS 1.3 AEAD record of
 * 19 bytes (2-byte alert + inner type + 16-byte tag), i.e. close_notify.
 */
function isCloseAlert(p) {
  const d = p.data, o = p.h.payOff, n = p.h.payLen;
  if (n < 7 || d[o + 1] !== 3) return false;
  if (d[o] === 21) return true;
  return d[o] === 23 && n === 24 && d.readUInt16BE(o + 3) === 19;
}

function seqAfter(a, b) { return ((a - b) | 0) > 0; }

export function buildPlan(flow, nBulk) {
  const pk = flow.pkts;
  // Inject before the connection starts closing: the first close_notify alert, FIN or RST.
  let j = pk.findIndex((p) => p.h.flags & (F_FIN | F_RST) || isCloseAlert(p));
  if (j < 0) j = pk.length;
  // Sequence state just before the injection point.
  let srvNext = null, cliNext = null, lastSrv = null, lastCli = null, synAckTs = null, ackTs = null;
  for (let i = 0; i < j; i++) {
    const { h, fromClient } = pk[i];
    const end = (h.seq + h.payLen + (h.flags & F_SYN ? 1 : 0)) >>> 0;
    if (fromClient) { if (cliNext === null || seqAfter(end, cliNext)) cliNext = end; lastCli = pk[i]; }
    else { if (srvNext === null || seqAfter(end, srvNext)) srvNext = end; lastSrv = pk[i]; }
    if (!fromClient && (h.flags & (F_SYN | F_ACK)) === (F_SYN | F_ACK) && synAckTs === null) synAckTs = pk[i].tsUs;
    if (fromClient && synAckTs !== null && ackTs === null && !(h.flags & F_SYN)) ackTs = pk[i].tsUs;
  }
  const t0 = pk[0].tsUs;
  const frames = []; // { rel, data, fromClient, h }
  const D = lastSrv && lastCli ? nBulk * MSS : 0;
  for (let i = 0; i < j; i++) frames.push({ rel: pk[i].tsUs - t0, data: Buffer.from(pk[i].data), fromClient: pk[i].fromClient, h: pk[i].h });
  let shiftUs = 0;
  if (D > 0) {
    const rtt = Math.min(Math.max(ackTs !== null && synAckTs !== null ? ackTs - synAckTs : 50, 20), 200_000);
    const stream = bulkStream(D, flow.cliPort * 2654435761 + nBulk);
    const sTs = tsOption(lastSrv.data, lastSrv.h), cTs = tsOption(lastCli.data, lastCli.h);
    const srvId = lastSrv.data.readUInt16BE(lastSrv.h.ip + 4), cliId = lastCli.data.readUInt16BE(lastCli.h.ip + 4);
    const start = frames[frames.length - 1].rel + FIN_GAP_US;
    const bulk = [];
    for (let i = 0; i < nBulk; i++) {
      const data = buildFrame(lastSrv, {
        seq: srvNext + i * MSS, ack: cliNext, flags: F_ACK | (i === nBulk - 1 ? F_PSH : 0), ipId: srvId + 1 + i,
        ts: sTs, payload: stream, payStart: i * MSS, payEnd: (i + 1) * MSS,
      });
      bulk.push({ rel: start + i * SEG_GAP_US, data, fromClient: false });
      if (i % 2 === 1 || i === nBulk - 1) {
        const a = buildFrame(lastCli, { seq: cliNext, ack: srvNext + (i + 1) * MSS, flags: F_ACK, ipId: cliId + 1 + (i >> 1), ts: cTs });
        bulk.push({ rel: start + i * SEG_GAP_US + rtt, data: a, fromClient: true });
      }
    }
    bulk.sort((x, y) => x.rel - y.rel); // stable: data before the ACK that covers it
    for (const b of bulk) { b.h = parseTcp4(b.data); frames.push(b); }
    shiftUs = bulk[bulk.length - 1].rel + FIN_GAP_US - (pk[j - 1].tsUs - t0) - (j < pk.length ? pk[j].tsUs - pk[j - 1].tsUs : 0);
    if (shiftUs < 0) shiftUs = 0;
  }
  for (let i = j; i < pk.length; i++) {
    const data = Buffer.from(pk[i].data);
    const h = pk[i].h;
    if (D > 0) {
      if (pk[i].fromClient) {
        if (h.flags & F_ACK) data.writeUInt32BE((h.ack + D) >>> 0, h.tcp + 8);
        shiftSack(data, h, D);
      } else {
        data.writeUInt32BE((h.seq + D) >>> 0, h.tcp + 4);
      }
    }
    frames.push({ rel: pk[i].tsUs - t0 + shiftUs, data, fromClient: pk[i].fromClient, h });
  }
  // Monotonic timestamps within the flow; pre-summed checksums with the client fields zeroed.
  let prev = 0;
  for (const fr of frames) {
    if (fr.rel < prev) fr.rel = prev;
    prev = fr.rel;
    const h = fr.h, d = fr.data;
    const caddr = fr.fromClient ? h.ip + 12 : h.ip + 16;
    const cport = fr.fromClient ? h.tcp : h.tcp + 2;
    d.fill(0, caddr, caddr + 4);
    d.writeUInt16BE(0, cport);
    d.writeUInt16BE(0, h.ip + 10);
    d.writeUInt16BE(0, h.tcp + 16);
    fr.caddr = caddr;
    fr.cport = cport;
    fr.ipSum = sum16(d, h.ip, h.ip + h.ihl);
    const tcpLen = h.totLen - h.ihl;
    // pseudo header: src, dst (client one is zero here), zero+proto, TCP length
    fr.tcpSum = sum16(d, h.ip + 12, h.ip + 20) + 6 + tcpLen + sum16(d, h.tcp, h.ip + h.totLen);
  }
  return { flow, nBulk, frames, bulkBytes: D };
}

// ---------------------------------------------------------------------------------------------
// Generation

function prng(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const CLIENTS = 65000;
/** Client endpoint of copy k: 65000 client addresses in 10.1.0.0/15, ports unique per address. */
function clientOf(k) {
  const i = k % CLIENTS;
  const addr = (0x0a010000 + 1 + i) >>> 0;
  const round = Math.floor(k / CLIENTS);
  const port = 32768 + ((round + ((i * 2654435761) >>> 0)) % 28232);
  if (round >= 28232) throw new Error('too many flows for unique client endpoints');
  return { addr, port };
}

export function loadTemplates(files) {
  const flows = [];
  const perFile = [];
  for (const file of files) {
    let r;
    try { r = extractFlows(file); } catch (err) { perFile.push({ file, flows: 0, tls: 0, skipped: err.message }); continue; }
    perFile.push({ file, flows: r.flows.length, tls: r.flows.filter((f) => f.tls).length, skipped: r.skipped });
    flows.push(...r.flows);
  }
  return { flows, perFile };
}

/**
 * Writes the capture. Starts flows until at least minPackets packets and minFlows flows are
 * scheduled, then drains. Returns counts (packets, bytes, flows, tlsFlows, …).
 */
export function generateCapture({ templates, out, minPackets, minFlows = 0, bulk = [15, 20], rate = 2500, seed = 1, pick = null }) {
  if (templates.length === 0) throw new Error('no whole IPv4 TCP flows in the template captures');
  const plans = []; // plans[t][n - bulk[0]]
  for (const f of templates) {
    const row = [];
    for (let n = bulk[0]; n <= bulk[1]; n++) row.push(buildPlan(f, n));
    plans.push(row);
  }
  const rnd = prng(seed);
  const fd = openSync(out, 'w');
  let buf = Buffer.allocUnsafe(OUT_BUF);
  let pos = 0;
  let bytesOut = 0;
  const flush = () => { let o = 0; while (o < pos) o += writeSync(fd, buf, o, pos - o); bytesOut += pos; pos = 0; };
  // Global header: LE, µs, v2.4, snaplen 262144, Ethernet.
  buf.writeUInt32LE(0xa1b2c3d4, 0); buf.writeUInt16LE(2, 4); buf.writeUInt16LE(4, 6);
  buf.writeUInt32LE(0, 8); buf.writeUInt32LE(0, 12); buf.writeUInt32LE(262144, 16); buf.writeUInt32LE(1, 20);
  pos = 24;

  // Min-heap of in-flight flows keyed by the timestamp of their next packet.
  const heap = [];
  const key = (c) => c.start + c.plan.frames[c.idx].rel;
  const push = (c) => {
    c.k2 = key(c);
    heap.push(c);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (heap[p].k2 < c.k2 || (heap[p].k2 === c.k2 && heap[p].seqNo < c.seqNo)) break;
      heap[i] = heap[p]; i = p;
    }
    heap[i] = c;
  };
  const siftDown = () => {
    const n = heap.length;
    const c = heap[0];
    let i = 0;
    for (;;) {
      let l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      if (r < n && (heap[r].k2 < heap[l].k2 || (heap[r].k2 === heap[l].k2 && heap[r].seqNo < heap[l].seqNo))) l = r;
      if (c.k2 < heap[l].k2 || (c.k2 === heap[l].k2 && c.seqNo < heap[l].seqNo)) break;
      heap[i] = heap[l]; i = l;
    }
    heap[i] = c;
  };

  let scheduledPackets = 0;
  let flows = 0, tlsFlows = 0, packets = 0, bulkBytes = 0, maxConcurrent = 0;
  let nextStart = 0; // µs since BASE_SEC
  let seqNo = 0;
  const startFlow = () => {
    // `pick(r)` (r uniform in [0,1)) chooses a template index, for weighted mixes; default uniform.
    const t = pick !== null ? pick(rnd()) : Math.floor(rnd() * templates.length);
    const n = Math.floor(rnd() * (bulk[1] - bulk[0] + 1));
    const plan = plans[t][n];
    const { addr, port } = clientOf(flows);
    push({ start: nextStart, plan, idx: 0, addr, port, seqNo: seqNo++ });
    flows++;
    if (plan.flow.tls) tlsFlows++;
    scheduledPackets += plan.frames.length;
    bulkBytes += plan.bulkBytes;
    nextStart += Math.max(1, Math.round(-Math.log(1 - rnd()) * 1e6 / rate));
  };
  const more = () => scheduledPackets < minPackets || flows < minFlows;
  let lastTs = 0;
  while (heap.length > 0 || more()) {
    if (more() && (heap.length === 0 || nextStart <= heap[0].k2)) { startFlow(); if (heap.length > maxConcurrent) maxConcurrent = heap.length; continue; }
    const c = heap[0];
    const fr = c.plan.frames[c.idx];
    const ts = c.k2;
    const len = fr.data.length;
    if (pos + 16 + len > buf.length) flush();
    const sec = BASE_SEC + Math.floor(ts / 1e6);
    buf.writeUInt32LE(sec, pos); buf.writeUInt32LE(ts % 1e6, pos + 4);
    buf.writeUInt32LE(len, pos + 8); buf.writeUInt32LE(len, pos + 12);
    const o = pos + 16;
    fr.data.copy(buf, o);
    const a = c.addr;
    buf[o + fr.caddr] = a >>> 24; buf[o + fr.caddr + 1] = (a >>> 16) & 255; buf[o + fr.caddr + 2] = (a >>> 8) & 255; buf[o + fr.caddr + 3] = a & 255;
    buf[o + fr.cport] = c.port >>> 8; buf[o + fr.cport + 1] = c.port & 255;
    const as = (a >>> 16) + (a & 0xffff);
    const h = fr.h;
    const ipc = ~fold(fr.ipSum + as) & 0xffff;
    buf[o + h.ip + 10] = ipc >>> 8; buf[o + h.ip + 11] = ipc & 255;
    let tc = ~fold(fr.tcpSum + as + c.port) & 0xffff;
    if (tc === 0) tc = 0xffff;
    buf[o + h.tcp + 16] = tc >>> 8; buf[o + h.tcp + 17] = tc & 255;
    pos = o + len;
    packets++;
    if (ts < lastTs) throw new Error('internal: output not time-ordered');
    lastTs = ts;
    c.idx++;
    if (c.idx < c.plan.frames.length) { c.k2 = key(c); siftDown(); }
    else { const last = heap.pop(); if (heap.length > 0) { heap[0] = last; siftDown(); } }
  }
  flush();
  closeSync(fd);
  buf = null;
  return {
    file: out, packets, bytes: bytesOut, flows, tlsFlows, bulkBytes, maxConcurrent,
    simulatedSec: lastTs / 1e6, templates: templates.length,
    tlsTemplates: templates.filter((f) => f.tls).length,
    avgPacketsPerFlow: packets / flows,
  };
}

// ---------------------------------------------------------------------------------------------
// CLI

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: v, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      out: { type: 'string' }, packets: { type: 'string' }, flows: { type: 'string' }, bulk: { type: 'string' },
      rate: { type: 'string' }, seed: { type: 'string' }, quiet: { type: 'boolean' },
    },
  });
  if (!v.out || positionals.length === 0) {
    console.error('usage: gen-capture.mjs --out FILE [--packets N] [--flows N] [--bulk LO-HI] [--rate FLOWS_PER_SEC] [--seed S] TEMPLATE.pcap...');
    process.exit(2);
  }
  const bulk = (v.bulk ?? '15-20').split('-').map(Number);
  if (bulk.length === 1) bulk.push(bulk[0]);
  const { flows, perFile } = loadTemplates(positionals);
  if (!v.quiet) for (const p of perFile) console.error(`template ${p.file}: ${p.flows} whole flows, ${p.tls} TLS${p.skipped ? ` (skipped: ${p.skipped})` : ''}`);
  const t = process.hrtime.bigint();
  const r = generateCapture({
    templates: flows, out: v.out, minPackets: Number(v.packets ?? 1_200_000), minFlows: Number(v.flows ?? 0),
    bulk, rate: Number(v.rate ?? 2500), seed: Number(v.seed ?? 1),
  });
  r.genSec = Number(process.hrtime.bigint() - t) / 1e9;
  console.log(JSON.stringify(r));
}
