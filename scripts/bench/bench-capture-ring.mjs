// Live capture through the library for scripts/bench-capture (runs inside the capture namespace,
// as root). Two modes:
//
// --mode capture: what `slowshake capture` does while capturing (LiveCapture.open, stats() every
//   200 ms), plus commands on stdin so the orchestrator can read the counters between two
//   replays, which the CLI only prints at the end: "MARK" prints "STATS <json>"; "QUIT" stops
//   the capture, prints "STATS <json>" and exits.
//
// --mode lookup (default):
// 1. Open a live capture (LiveCapture.open) with the given options; print "READY" on stdout.
// 2. Wait for "GO" on stdin (the orchestrator has replayed the traffic and the capture is idle).
// 3. Walk the whole ring once (RingReader.forEach, untimed) to learn every TCP flow it holds:
//    5-tuple, first/last timestamp and packet count.
// 4. Measure the machine's scheduling stalls (2 s spin). Pick random flows (seeded) and time
//    RingReader.lookupFlow with performance.now() over (a) a 10 s window around the flow's first
//    packet and (b) the flow's own lifetime, and (c) a flow the ring does not hold over (a)'s
//    window, after untimed warm-up lookups (JIT); check each returns exactly the flow's packets.
// 5. Print one line "RESULT <json>" and exit.
//
// usage: node bench-capture-ring.mjs [--mode capture|lookup] --app DIR --device DEV [--filter F] [--buffer-size N]
//        [--ring-size N] [--snaplen N] [--lookups N] [--warmup N] [--seed N]
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';

const { values: v } = parseArgs({
  options: {
    mode: { type: 'string', default: 'lookup' }, app: { type: 'string' }, device: { type: 'string' }, filter: { type: 'string', default: '' },
    'buffer-size': { type: 'string', default: String(64 << 20) }, 'ring-size': { type: 'string', default: String(512 << 20) },
    snaplen: { type: 'string', default: '262144' }, lookups: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '100' }, seed: { type: 'string', default: '7' },
  },
});
const { LiveCapture } = await import(pathToFileURL(join(v.app, 'dist/sources/live-capture.js')).href);
const { RingReader } = await import(pathToFileURL(join(v.app, 'dist/ring/reader.js')).href);

const cap = LiveCapture.open({
  device: v.device, filter: v.filter, snaplen: Number(v.snaplen), bufferSize: Number(v['buffer-size']),
  promisc: true, ringSize: Number(v['ring-size']), timeoutMs: 50,
});
const reader = new RingReader(cap);
process.stdout.write('READY\n');

const rl = createInterface({ input: process.stdin });
if (v.mode === 'capture') {
  const pick = (s) => ({ received: s.packets, kernelReceived: s.kernelReceived, drops: s.kernelDrops, ifDrops: s.ifDrops, overwrites: s.overwrites, state: s.state });
  const timer = setInterval(() => { if (cap.stats().state === 'failed') process.exit(1); }, 200); // as the CLI's status timer
  await new Promise((resolve) => rl.on('line', (l) => {
    if (l.trim() === 'MARK') process.stdout.write(`STATS ${JSON.stringify(pick(cap.stats()))}\n`);
    if (l.trim() === 'QUIT') { clearInterval(timer); cap.stop(); process.stdout.write(`STATS ${JSON.stringify(pick(cap.stats()))}\n`); resolve(); }
  }));
  process.exit(0);
}
await new Promise((resolve) => rl.on('line', (l) => { if (l.trim() === 'GO') resolve(); }));
rl.close();

const stats = cap.stats();
const reach = reader.reach();

// 3. Every Ethernet/IPv4/TCP flow in the ring, keyed by its symmetric 4-tuple.
const flows = new Map();
const walkStart = performance.now();
const walk = reader.forEach((p) => {
  const d = p.data;
  if (d.length < 54 || d[12] !== 0x08 || d[13] !== 0x00 || d[23] !== 6) return;
  const ihl = (d[14] & 15) * 4;
  const src = ((d[26] << 24) | (d[27] << 16) | (d[28] << 8) | d[29]) >>> 0;
  const dst = ((d[30] << 24) | (d[31] << 16) | (d[32] << 8) | d[33]) >>> 0;
  const sp = (d[14 + ihl] << 8) | d[15 + ihl];
  const dp = (d[16 + ihl] << 8) | d[17 + ihl];
  const fwd = src < dst || (src === dst && sp <= dp);
  const key = fwd ? `${src}:${sp}-${dst}:${dp}` : `${dst}:${dp}-${src}:${sp}`;
  let f = flows.get(key);
  if (!f) {
    f = { a: d.slice(26, 30), aPort: sp, b: d.slice(30, 34), bPort: dp, first: p.tsNs, last: p.tsNs, count: 0 };
    flows.set(key, f);
  }
  f.count++;
  if (p.tsNs < f.first) f.first = p.tsNs;
  if (p.tsNs > f.last) f.last = p.tsNs;
});
const walkMs = performance.now() - walkStart;
// The walk above made ~1 GB of garbage (a copy of every record); collect it now (node runs with
// --expose-gc) so that its collection does not land inside a timed lookup.
globalThis.gc?.();

// 4. Random flows (mulberry32, seeded), timed lookups.
let s = Number(v.seed) >>> 0;
const rnd = () => { s = (s + 0x6d2b79f5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
const all = [...flows.values()];
const pick = () => all[Math.floor(rnd() * all.length)];
const windows = {
  '10 s window': (f) => [f.first - 5e9, f.first + 5e9],
  'flow lifetime': (f) => [f.first, f.last],
};
// (c) a flow the ring does not hold (an event about a connection that was never captured): the
// 4-tuple of a real flow with the client port changed to one no generated flow uses.
const absent = (f) => ({ a: f.a, aPort: f.aPort === 443 ? 443 : 1, b: f.b, bPort: f.bPort === 443 ? 443 : 1, first: f.first, last: f.last, count: 0 });
const result = {
  ring: { size: cap.ring.byteLength, records: walk.records, torn: walk.torn, reachSeconds: reach.seconds, walkMs,
    packets: stats.packets, overwrites: stats.overwrites, kernelReceived: stats.kernelReceived, kernelDrops: stats.kernelDrops, ifDrops: stats.ifDrops },
  flows: all.length,
  windows: {},
};
// Scheduling hiccups of this machine (a VM's vCPU can stall for milliseconds): spin 2 s and
// record gaps between consecutive clock reads, so a lookup outlier can be told from a stall.
{
  const gaps = [];
  let last = performance.now();
  const end = last + 2000;
  for (;;) { const t = performance.now(); if (t - last > 0.25) gaps.push(t - last); last = t; if (t > end) break; }
  gaps.sort((a, b) => b - a);
  result.stalls = { over1ms: gaps.filter((g) => g > 1).length, max: gaps[0] ?? 0, top: gaps.slice(0, 5) };
}
if (all.length > 0) {
  for (let i = 0; i < Number(v.warmup); i++) {
    const f = pick();
    for (const w of Object.values(windows)) { const [a, b] = w(f); reader.lookupFlow(f, a, b); }
    if (i % 10 === 0) reader.lookupFlow(absent(f), f.first - 5e9, f.first + 5e9);
  }
  const names = [...Object.keys(windows), 'absent flow, 10 s'];
  const samples = Object.fromEntries(names.map((k) => [k, { ms: [], scanned: [], packets: [], wrong: 0, torn: 0, collisions: 0, tooOld: 0 }]));
  for (let i = 0; i < Number(v.lookups); i++) {
    const real = pick();
    for (const name of names) {
      const f = name === 'absent flow, 10 s' ? absent(real) : real;
      const [from, to] = (windows[name] ?? windows['10 s window'])(f);
      const t0 = performance.now();
      const r = reader.lookupFlow(f, from, to);
      const ms = performance.now() - t0;
      const x = samples[name];
      x.ms.push(ms);
      x.scanned.push(r.scanned);
      x.packets.push(r.packets.length);
      // The whole flow lies in both windows (flows last far less than 5 s in the replay).
      if (r.packets.length !== f.count && f.last - f.first < 5e9) x.wrong++;
      x.torn += r.torn;
      x.collisions += r.collisions;
      if (r.tooOld) x.tooOld++;
    }
  }
  result.windows = samples;
}
const st = readFileSync('/proc/self/status', 'utf8');
result.vmRssKiB = Number(/VmRSS:\s+(\d+)/.exec(st)?.[1]);
result.vmHwmKiB = Number(/VmHWM:\s+(\d+)/.exec(st)?.[1]);
cap.stop();
process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
process.exit(0);
