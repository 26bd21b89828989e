#!/usr/bin/env node
// Sanity check for a generated capture against its truth file, using tshark (not slowshake):
//
//   node check.mjs --capture captures/tls/hrr.pcap --expected captures/expected/hrr.json [--quiet]
//                  [--keylog captures/tls/mtls.keys]
//
// For every TCP flow it rebuilds a rough handshake timeline from tshark's TLS dissection
// (following the "Handshake timeline" table in the design: original transmissions only), the
// phases, the loss intervals (original -> retransmission, plus losses before the capture point
// inferred from gaps in a direction's per-socket IPv4 ID sequence), congestion-window stalls (charged to the network, as the analyzer
// does), and a verdict by the design's rule, then checks every expectation
// in the truth file: the flow exists and completes, TLS version, SNI, ALPN, HRR, resumption,
// slow, verdict, retransmission minimums, cwnd stall, phase lower bounds, ClientHello segment
// count, client certificate and client flight segment count. The client's flight ends with the
// frame completing its Finished: with --keylog (the server's key log) the frame where tshark shows
// the decrypted Finished; without, TLS 1.3: a record of a Finished's length under the suite, TLS
// 1.2: the handshake record after the client's CCS. It also fails on flows in the capture that the truth file does not list.
// Exit status 0 when everything matches. This is an independent cross-check for the generator,
// deliberately simple; the analyzer under src/ is the real implementation.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

const HRR_RANDOM = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';
const SLOW_MS = 200;

function fail(msg) {
  process.stderr.write(`check: ${msg}\n`);
  process.exit(2);
}

const args = { capture: null, expected: null, quiet: false, keylog: null };
for (let i = 2; i < process.argv.length; i++) {
  const a = process.argv[i];
  if (a === '--capture') args.capture = process.argv[++i];
  else if (a === '--expected') args.expected = process.argv[++i];
  else if (a === '--quiet') args.quiet = true;
  else if (a === '--keylog') args.keylog = process.argv[++i];
  else fail(`unknown argument '${a}'`);
}
if (!args.capture || !args.expected) fail('--capture and --expected are required');
const truth = JSON.parse(fs.readFileSync(args.expected, 'utf8'));

const FIELDS = [
  'frame.number', 'frame.time_epoch', 'tcp.stream', 'ip.src', 'ipv6.src', 'tcp.srcport',
  'ip.dst', 'ipv6.dst', 'tcp.dstport', 'tcp.flags', 'tcp.seq', 'tcp.nxtseq', 'tcp.ack', 'tcp.len',
  'tcp.analysis.retransmission', 'tcp.analysis.fast_retransmission',
  'tcp.analysis.spurious_retransmission', 'tcp.reassembled_in', 'tls.record.content_type',
  'tls.handshake.type', 'tls.handshake.random', 'tls.handshake.extensions.supported_version',
  'tls.handshake.extension.type', 'tls.handshake.extensions_alpn_str',
  'tls.handshake.extensions_server_name', 'tls.handshake.version', 'ip.id', 'tcp.options.mss_val',
  'tls.record.length', 'tls.handshake.ciphersuite', 'tls.handshake.certificates_length',
];

const ports = [...new Set(truth.flows.map((f) => f.server.replace(/^.*:/, '')))];
const tsharkArgs = ['-r', args.capture, '-2', '-o', 'tcp.desegment_tcp_streams:TRUE',
  '-o', 'tls.desegment_ssl_records:TRUE', '-o', 'tcp.relative_sequence_numbers:TRUE'];
if (args.keylog) tsharkArgs.push('-o', `tls.keylog_file:${args.keylog}`);
for (const p of ports) tsharkArgs.push('-d', `tcp.port==${p},tls`);
tsharkArgs.push('-Y', 'tcp', '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=a',
  '-E', 'aggregator=;');
for (const f of FIELDS) tsharkArgs.push('-e', f);
const out = execFileSync('tshark', tsharkArgs, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });

const list = (s) => (s === '' ? [] : s.split(';'));
const frames = out.split('\n').filter(Boolean).map((line) => {
  const v = line.split('\t');
  const o = Object.fromEntries(FIELDS.map((f, i) => [f, v[i] ?? '']));
  const v6 = o['ipv6.src'] !== '';
  const flags = parseInt(o['tcp.flags'], 16);
  return {
    no: Number(o['frame.number']),
    t: Number(o['frame.time_epoch']) * 1000, // ms
    stream: Number(o['tcp.stream']),
    src: v6 ? `[${o['ipv6.src']}]:${o['tcp.srcport']}` : `${o['ip.src']}:${o['tcp.srcport']}`,
    dst: v6 ? `[${o['ipv6.dst']}]:${o['tcp.dstport']}` : `${o['ip.dst']}:${o['tcp.dstport']}`,
    syn: (flags & 0x02) !== 0,
    ackf: (flags & 0x10) !== 0,
    seq: Number(o['tcp.seq']),
    nxt: Number(o['tcp.nxtseq'] || o['tcp.seq']),
    ack: Number(o['tcp.ack'] || 0),
    len: Number(o['tcp.len']),
    rtx: o['tcp.analysis.retransmission'] !== '' || o['tcp.analysis.fast_retransmission'] !== '' ||
      o['tcp.analysis.spurious_retransmission'] !== '',
    reassembledIn: o['tcp.reassembled_in'] ? Number(list(o['tcp.reassembled_in'])[0]) : null,
    ctypes: list(o['tls.record.content_type']).map(Number),
    hs: list(o['tls.handshake.type']).map(Number),
    randoms: list(o['tls.handshake.random']),
    supVer: list(o['tls.handshake.extensions.supported_version']),
    extTypes: list(o['tls.handshake.extension.type']).map(Number),
    alpn: list(o['tls.handshake.extensions_alpn_str']),
    sni: list(o['tls.handshake.extensions_server_name']),
    hsVersion: list(o['tls.handshake.version']),
    ipId: o['ip.id'] === '' ? -1 : parseInt(list(o['ip.id'])[0], 16),
    mss: Number(list(o['tcp.options.mss_val'])[0] || 0),
    recLens: list(o['tls.record.length']).map(Number),
    suites: list(o['tls.handshake.ciphersuite']).map((x) => parseInt(x, 16)),
    certLens: list(o['tls.handshake.certificates_length']).map(Number),
  };
});

const streams = new Map();
for (const f of frames) {
  if (!streams.has(f.stream)) streams.set(f.stream, []);
  streams.get(f.stream).push(f);
}

function union(intervals) {
  const s = intervals.filter(([a, b]) => b > a).sort((x, y) => x[0] - y[0]);
  const out = [];
  for (const [a, b] of s) {
    if (out.length && a <= out[out.length - 1][1]) out[out.length - 1][1] = Math.max(out[out.length - 1][1], b);
    else out.push([a, b]);
  }
  return out;
}
// Parts of union u not covered by union minus.
function subtract(u, minus) {
  const out = [];
  for (const [a0, b] of u) {
    let a = a0;
    for (const [x, y] of minus) {
      if (y <= a || x >= b) continue;
      if (x > a) out.push([a, x]);
      a = Math.max(a, y);
    }
    if (a < b) out.push([a, b]);
  }
  return out;
}
// Gaps in one direction's IPv4 ID sequence (Linux: a per-socket counter, +1 per packet). Same
// narrow rule as the analyzer: IPv4 only, only after the direction showed a sequential step, a gap
// of 1-8 IDs, and any irregular step turns the inference off for that direction. Returns, per
// frame number, [missing IDs, time of the previous packet of that direction].
function ipIdGaps(dirFrames, mss) {
  const gaps = new Map();
  let last = -1; let step = 1; let slack = 0; let sequential = 0; let prevT = null;
  for (const f of dirFrames) {
    if (f.ipId < 0) return gaps;
    const st = mss > 0 && f.len > mss ? Math.ceil(f.len / mss) : 1;
    if (last >= 0) {
      const diff = (f.ipId - ((last + step) & 0xffff)) & 0xffff;
      // After a super-segment (offloads on) the segment size is unknown: up to len/536 IDs are in sequence.
      if (diff === 0 || diff <= slack) sequential++;
      else if (diff >= 0x10000 - 32) continue; // duplicate or reordered: ignore
      else if (diff <= 8 && sequential >= 1) gaps.set(f.no, [diff, prevT]);
      else return gaps; // not a per-socket counter
    }
    last = f.ipId; step = st; slack = st > 1 ? Math.max(0, Math.ceil(f.len / 536) - st) : 0; prevT = f.t;
  }
  return gaps;
}

const overlap = (iv, a, b) => iv.reduce((s, [x, y]) => s + Math.max(0, Math.min(b, y) - Math.max(a, x)), 0);

function analyze(fr) {
  const r = { problems: [] };
  const synF = fr.find((f) => f.syn && !f.ackf);
  if (!synF) { r.problems.push('no SYN'); return r; }
  r.client = synF.src; r.server = synF.dst;
  const C = fr.filter((f) => f.src === r.client);
  const S = fr.filter((f) => f.src === r.server);
  const synAck = S.find((f) => f.syn && f.ackf);
  const ackF = synAck && C.find((f) => f.no > synAck.no && !f.syn && f.ackf);
  const chFrames = C.filter((f) => f.hs.includes(1));
  if (!chFrames.length) { r.problems.push('no ClientHello'); return r; }
  const firstSeg = (end) => {
    const parts = fr.filter((f) => f.reassembledIn === end.no && f.src === end.src && !f.rtx);
    return parts.length ? parts.reduce((a, b) => (a.no < b.no ? a : b)) : end;
  };
  // TCP Fast Open: the SYN carries the ClientHello. When the SYN-ACK acknowledges only the SYN, the
  // server refused that data and the hello ends with the client's copy covering the SYN's bytes.
  r.tfo = synF.len > 0;
  r.tfoRefused = r.tfo && !!synAck && synAck.ack === 1;
  let ch1End = chFrames[0];
  let ch1 = firstSeg(ch1End);
  r.tfoResend = null;
  if (r.tfoRefused) {
    const resend = C.find((f) => f.no > synAck.no && f.len > 0 && f.seq === 1 && f.nxt >= 1 + synF.len);
    if (!resend) { r.problems.push('refused TFO data never sent again'); return r; }
    ch1 = synF; ch1End = resend; r.tfoResend = resend.t;
  }
  r.chSegments = fr.filter((f) => f.reassembledIn === ch1End.no && f.src === r.client && !f.rtx).length + 1;
  r.sni = chFrames[0].sni[0] ?? null; // tshark dissects the hello where it first completes (a refused SYN's too)
  r.alpnOffered = chFrames[0].alpn.length ? chFrames[0].alpn : null;
  const hrrF = S.find((f) => f.hs.includes(2) && f.randoms.includes(HRR_RANDOM));
  r.hrr = !!hrrF;
  let ch2 = null; let ch2End = null;
  if (hrrF) {
    ch2End = chFrames.find((f) => f.no > hrrF.no);
    if (ch2End) ch2 = firstSeg(ch2End);
  }
  const lastChEnd = ch2End ?? ch1End;
  const shF = S.find((f) => f.no > lastChEnd.no && f.len > 0 && !f.rtx);
  const shMsg = S.find((f) => f.hs.includes(2) && !f.randoms.includes(HRR_RANDOM));
  if (!shF || !shMsg) { r.problems.push('no ServerHello'); return r; }
  r.tls = shMsg.supVer.includes('0x0304') ? '1.3' : shMsg.hsVersion.includes('0x0303') ? '1.2' : shMsg.hsVersion[0];
  // As visible on the wire: TLS 1.3 encrypts the server's choice (a key log would show it anyway).
  r.alpn = r.tls === '1.3' ? null : (shMsg.alpn[0] ?? null);
  r.resumed = r.tls === '1.3' ? shMsg.extTypes.includes(41) : !S.some((f) => f.hs.includes(11));
  const cFin = C.find((f) => f.no > shF.no && f.len > 0 && !f.rtx);
  if (!cFin) { r.problems.push('no client second flight'); return r; }
  const flight = S.filter((f) => f.no >= shF.no && f.no < cFin.no && f.len > 0 && !f.rtx);
  const flightEnd = flight[flight.length - 1];
  const flightNxt = Math.max(...flight.map((f) => f.nxt));
  const cAck = C.find((f) => f.no > flightEnd.no && f.ackf && f.ack >= flightNxt);
  // The frame completing the client's Finished.
  const cAfter = C.filter((f) => f.no >= cFin.no && !f.rtx);
  let cfEnd;
  if (args.keylog) cfEnd = cAfter.find((f) => f.hs.includes(20));
  else if (r.tls === '1.3') {
    const suite = shMsg.suites[0];
    const finLen = suite === 0x1302 ? 69 : suite === 0x1305 ? 45 : 53;
    cfEnd = cAfter.find((f) => f.recLens.includes(finLen));
  } else {
    let ccs = false;
    cfEnd = cAfter.find((f) => f.ctypes.some((ct) => { if (ct === 20) ccs = true; return ct === 22 && ccs; }));
  }
  if (!cfEnd) { r.problems.push('client Finished not found'); return r; }
  r.clientFlightSegments = C.filter((f) => f.no >= cFin.no && f.no <= cfEnd.no && f.len > 0 && !f.rtx).length;
  // Client certificate: TLS 1.2 in the clear; TLS 1.3 only when decrypted (null: unknown).
  const cCert = C.filter((f) => f.hs.includes(11));
  r.clientCert = r.tls === '1.3' && !args.keylog ? null : cCert.some((f) => f.certLens.some((n) => n > 0));
  let done;
  if (r.tls === '1.3' || r.resumed) done = cfEnd;
  else done = S.find((f) => f.no > cFin.no && f.len > 0 && !f.rtx);
  if (!done) { r.problems.push('handshake not complete'); return r; }
  const T = {
    syn: synF.t, syn_ack: synAck?.t, ack: ackF?.t, client_hello: ch1.t, client_hello_end: ch1End.t,
    hello_retry_request: hrrF?.t ?? null, client_hello2: ch2?.t ?? null, client_hello2_end: ch2End?.t ?? null,
    server_hello: shF.t, server_flight_end: flightEnd.t, client_ack: cAck?.t, client_finished: cFin.t,
    client_flight_end: cfEnd.t, done: done.t,
  };
  r.timeline = T;
  const d = (a, b) => (a == null || b == null ? 0 : b - a);
  const firstReply = T.hello_retry_request ?? T.server_hello;
  const ph = {
    syn_ack_delay: [T.syn, T.syn_ack, 'server'],
    tcp_rtt: [T.syn_ack, T.ack, 'network'],
    client_hello_wait: [T.ack, T.client_hello, 'client'],
    client_hello_xfer: [T.client_hello, T.client_hello_end, 'network'],
    server_hello_delay: [T.client_hello_end, firstReply, 'server'],
    hrr_rtt: [T.hello_retry_request, T.client_hello2_end, 'network'],
    hrr_server_delay: [T.client_hello2_end, T.hello_retry_request == null ? null : T.server_hello, 'server'],
    server_flight: [T.server_hello, T.server_flight_end, 'server'],
    flight_rtt: [T.server_flight_end, T.client_ack, 'network'],
    client_think: [T.client_ack, T.client_finished, 'client'],
    client_flight_xfer: [T.client_finished, T.client_flight_end, 'network'],
    server_finish: [T.client_flight_end, T.done, 'server'],
  };
  // The client's ACK of the server flight is its second flight: flight_rtt gets at most the flow's
  // RTT (hrr_rtt after an HRR, else tcp_rtt), the rest is the client's (design.md).
  if (cAck && cAck.no === cFin.no) {
    const rtt = T.hello_retry_request != null ? d(T.hello_retry_request, T.client_hello2_end) : d(T.syn_ack, T.ack);
    if (rtt > 0 && T.server_flight_end + rtt < T.client_ack) {
      ph.flight_rtt[1] = T.server_flight_end + rtt;
      ph.client_think[0] = T.server_flight_end + rtt;
    }
  }
  // Loss: from each retransmission's original transmission to the retransmission, within [syn, done].
  const iv = [];
  r.retransmits = { client: 0, server: 0 };
  for (const f of fr) {
    if (!f.rtx) continue;
    r.retransmits[f.src === r.client ? 'client' : 'server']++;
    const orig = fr.find((g) => g.src === f.src && g.no < f.no && g.seq === f.seq && g.syn === f.syn &&
      (g.len > 0 || g.syn) && !g.rtx);
    if (orig) iv.push([Math.max(orig.t, T.syn), Math.min(f.t, T.done)]);
  }
  // Losses before the capture point: a packet with new in-order data (before done) whose IP ID is
  // ahead of the direction's sequence. Interval: the previous packet of that direction -> it.
  // Linux sends the SYN-ACK from the request socket with ID 0, so the server's sequence starts after it.
  r.idGaps = [];
  for (const [dir, mss] of [[C, synAck?.mss ?? 0], [S.filter((f) => !f.syn), synF.mss]]) {
    const gaps = ipIdGaps(dir, mss);
    let maxNxt = 1; // relative sequence numbers: data starts at 1
    for (const f of dir) {
      const g = gaps.get(f.no);
      if (g && f.len > 0 && !f.rtx && f.seq === maxNxt && f.no <= done.no && g[1] != null) {
        iv.push([Math.max(g[1], T.syn), Math.min(f.t, T.done)]);
        r.idGaps.push(`${f.src === r.client ? 'client' : 'server'} id+${g[0]} ${Math.round(f.t - g[1])}ms`);
      }
      if (f.len > 0) maxNxt = Math.max(maxNxt, f.nxt);
    }
  }
  const loss = union(iv);
  // cwnd stall: inside the server flight, the server paused (> 2 ms) and resumed within 2 ms of
  // a client ACK: the wait [last server segment, that ACK] was the server waiting for the ACK.
  // Charged to the network as `cwnd_stall` (as src/handshake does), after loss.
  const stallIv = [];
  const sData = S.filter((f) => f.len > 0 && f.no >= shF.no && f.no < cFin.no);
  for (let i = 1; i < sData.length; i++) {
    const prev = sData[i - 1]; const next = sData[i];
    const acks = C.filter((f) => f.no > prev.no && f.no < next.no && f.ackf);
    if (!acks.length) continue;
    const lastAck = acks[acks.length - 1];
    if (next.t - lastAck.t <= 2 && lastAck.t - prev.t > 2) stallIv.push([prev.t, lastAck.t]);
  }
  const stall = subtract(union(stallIv), loss);
  // Refused TFO data: [syn, the client's copy] is the ClientHello in transit, taken out of the
  // phases it overlaps (as loss is) and charged to client_hello_xfer.
  const resend = r.tfoResend != null ? subtract([[T.syn, r.tfoResend]], loss) : [];
  const resendMs = overlap(resend, T.syn, T.done);
  r.phases = {};
  const cat = { client: 0, network: 0, server: 0, loss: 0 };
  // Each phase starts where the previous one ended, clipped at zero (design.md, TCP Fast Open:
  // points out of their usual order); in an ordinary handshake this changes nothing.
  let cursor = T.syn;
  for (const [k, [a0, b0, who]] of Object.entries(ph)) {
    if (a0 == null || b0 == null) { r.phases[k] = 0; continue; }
    const a = Math.max(a0, cursor); const b = Math.max(b0, a);
    cursor = b;
    const l = overlap(loss, a, b) + overlap(stall, a, b) + overlap(resend, a, b);
    r.phases[k] = Math.max(0, b - a - l) + (k === 'client_hello_xfer' ? resendMs : 0);
    cat[who] += r.phases[k];
  }
  r.phases.loss = overlap(loss, T.syn, T.done);
  r.phases.cwnd_stall = overlap(stall, T.syn, T.done);
  cat.loss = r.phases.loss;
  cat.network += r.phases.cwnd_stall;
  r.phases.total = T.done - T.syn;
  r.categories = cat;
  r.verdict = Object.entries(cat).reduce((a, b) => (b[1] > a[1] ? b : a))[0];
  r.slow = r.phases.total >= SLOW_MS;
  r.cwndStall = r.phases.cwnd_stall > 0;
  r.serverFlightSegments = flight.length;
  return r;
}

const results = [...streams.values()].map(analyze);
const errors = [];
const byClient = new Map(results.filter((r) => r.client).map((r) => [r.client, r]));
for (const r of results) {
  if (!r.client) errors.push(`stream without SYN: ${r.problems.join(', ')}`);
  else if (!truth.flows.some((f) => f.client === r.client)) errors.push(`${r.client}: flow not in the truth file`);
}
const fmt = (x) => (x == null ? '-' : Math.round(x));
for (const e of truth.flows) {
  const r = byClient.get(e.client);
  const who = `${e.client} -> ${e.server}`;
  if (!r) { errors.push(`${who}: flow not in capture`); continue; }
  if (r.problems.length) { errors.push(`${who}: ${r.problems.join(', ')}`); continue; }
  const x = e.expect;
  const want = (name, got, exp) => { if (got !== exp) errors.push(`${who}: ${name} is ${got}, expected ${exp}`); };
  want('server', r.server, e.server);
  want('tls_version', r.tls, e.tls_version);
  if (e.sni !== undefined) want('sni', r.sni, e.sni);
  if (e.alpn_selected !== undefined) want('alpn_selected', r.alpn, e.alpn_selected);
  if (e.alpn_offered !== undefined) want('alpn_offered', JSON.stringify(r.alpnOffered), JSON.stringify(e.alpn_offered));
  want('hrr', r.hrr, x.hrr);
  want('resumed', r.resumed, x.resumed);
  want('slow', r.slow, x.slow);
  if (x.verdict) want('verdict', r.verdict, x.verdict);
  want('tfo', r.tfo, x.tfo ?? false);
  want('tfo_refused', r.tfoRefused, x.tfo_refused ?? false);
  if (x.cwnd_stall !== undefined) want('cwnd_stall', r.cwndStall, x.cwnd_stall);
  if (r.retransmits.server < (x.retransmits_server_min ?? 0)) errors.push(`${who}: ${r.retransmits.server} server retransmissions < ${x.retransmits_server_min}`);
  if (r.retransmits.client < (x.retransmits_client_min ?? 0)) errors.push(`${who}: ${r.retransmits.client} client retransmissions < ${x.retransmits_client_min}`);
  if (x.client_hello_segments_min && r.chSegments < x.client_hello_segments_min) errors.push(`${who}: ClientHello in ${r.chSegments} segments < ${x.client_hello_segments_min}`);
  if (x.client_flight_segments_min && r.clientFlightSegments < x.client_flight_segments_min) errors.push(`${who}: client flight in ${r.clientFlightSegments} segments < ${x.client_flight_segments_min}`);
  if (x.client_cert !== undefined && r.clientCert !== null) want('client_cert', r.clientCert, x.client_cert);
  if (x.client_cert !== undefined && r.clientCert === null) errors.push(`${who}: client_cert expected but TLS 1.3 without --keylog cannot show it`);
  for (const [k, v] of Object.entries(x.phase_min_ms ?? {})) {
    if (!(r.phases[k] >= v)) errors.push(`${who}: ${k} ${fmt(r.phases[k])} ms < ${v} ms`);
  }
  if (!x.slow && r.phases.total >= SLOW_MS * 0.75) errors.push(`${who}: a fast flow took ${fmt(r.phases.total)} ms`);
  if (!args.quiet) {
    const nz = Object.entries(r.phases).filter(([k, v]) => k !== 'total' && v >= 1).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
    process.stdout.write(`  ${e.client.padEnd(22)} TLS${r.tls}${r.hrr ? ' HRR' : ''}${r.resumed ? ' resumed' : ''} total=${fmt(r.phases.total)}ms ` +
      `verdict=${r.verdict}${r.tfo ? (r.tfoRefused ? ' tfo(refused)' : ' tfo') : ''} rtx c/s=${r.retransmits.client}/${r.retransmits.server} ch_segs=${r.chSegments} ` +
      `flight_segs=${r.serverFlightSegments} client_flight_segs=${r.clientFlightSegments}${r.clientCert ? ' client_cert' : ''}${r.cwndStall ? ' cwnd_stall' : ''}` +
      `${r.idGaps.length ? ` ip_id_gaps=${r.idGaps.join(',')}` : ''} [${nz}]\n`);
  }
}
if (errors.length) {
  for (const e of errors) process.stderr.write(`check: ${truth.scenario}: ${e}\n`);
  process.exit(1);
}
if (!args.quiet) process.stdout.write(`check: ${truth.scenario}: ${truth.flows.length} flows ok\n`);
