// Cost of the analyzer's per-packet flow-table lookup (src/flow/flow-table.ts: key build, bucket
// hash, chain walk), this tree's build against a peer build of another revision, on the same
// packets.
//
// 1. Decode every TCP packet of the capture once (dist/decode/dispatch.js) and keep a copy of
//    each decoded packet (header bytes and offsets), untimed.
// 2. For each build: fill a fresh FlowTable with every flow (lookup, insert on a miss), then time
//    --passes passes of lookup() over all packets (every lookup hits: steady state of a busy
//    edge); the builds alternate run by run, --runs runs each.
// 3. Print median and minimum ns per lookup for both and the ratios.
//
// usage: node scripts/bench/bench-flow-table.mjs --capture FILE [--peer DIR] [--passes N] [--runs N] [--max-packets N]
//        DIR is a checkout of another revision built with `npm run build` (its dist/ is used).
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: v } = parseArgs({
  options: {
    capture: { type: 'string' }, peer: { type: 'string' }, passes: { type: 'string', default: '5' },
    runs: { type: 'string', default: '7' }, 'max-packets': { type: 'string', default: '1000000' },
  },
});
if (!v.capture) { console.error('usage: node scripts/bench/bench-flow-table.mjs --capture FILE [--peer DIR] [--passes N] [--runs N]'); process.exit(2); }

const load = async (dir, mod) => import(pathToFileURL(join(dir, 'dist', mod)).href);
const { readCaptureFile } = await load(ROOT, 'sources/capture-file.js');
const { decodePacket } = await load(ROOT, 'decode/dispatch.js');
const { DecodedPacket } = await load(ROOT, 'decode/packet.js');
const { AnomalyCounters } = await load(ROOT, 'telemetry/anomalies.js');

// 1. Decoded TCP packets, each a standalone copy (the reader reuses its buffer).
const max = Number(v['max-packets']);
const pkts = [];
const an = new AnomalyCounters();
await readCaptureFile(resolve(v.capture), new DecodedPacket(), {
  onPacket(p) {
    if (pkts.length >= max || decodePacket(p, an) !== 0) return;
    const q = Object.assign(new DecodedPacket(), p);
    q.buf = Uint8Array.prototype.slice.call(p.buf, p.off, p.payloadOff); // a copy (Buffer#slice is a view); headers only
    const d = p.off;
    q.off = 0; q.srcAddrOff -= d; q.dstAddrOff -= d; q.payloadOff -= d;
    pkts.push(q);
  },
});

const builds = [['this', ROOT]];
if (v.peer) builds.push(['peer', resolve(v.peer)]);
const tables = [];
for (const [name, dir] of builds) tables.push([name, (await load(dir, 'flow/flow-table.js')).FlowTable]);

function run(FlowTable) {
  const t = new FlowTable(1 << 14, 1 << 22);
  for (const p of pkts) if (t.lookup(p) < 0) t.insert(2, null, 0);
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < Number(v.passes); r++) for (let i = 0; i < pkts.length; i++) sink += t.lookup(pkts[i]);
  const ns = Number(process.hrtime.bigint() - t0);
  if (sink < 0) throw new Error('a lookup missed');
  return { ns: ns / (Number(v.passes) * pkts.length), flows: t.size };
}

const res = Object.fromEntries(builds.map(([n]) => [n, []]));
let flows = 0;
for (let r = 0; r < Number(v.runs); r++) {
  for (const [name, T] of r % 2 === 0 ? tables : [...tables].reverse()) {
    const x = run(T);
    flows = x.flows;
    res[name].push(x.ns);
  }
}
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];
console.log(`${pkts.length} TCP packets, ${flows} flows, ${v.passes} passes x ${v.runs} runs`);
for (const [name] of builds) {
  console.log(`${name.padEnd(5)} median ${median(res[name]).toFixed(1)} min ${Math.min(...res[name]).toFixed(1)} ns/lookup (runs ${res[name].map((x) => x.toFixed(1)).join(' ')})`);
}
if (v.peer) {
  console.log(`ratio this/peer: median ${(median(res.this) / median(res.peer)).toFixed(3)}, min ${(Math.min(...res.this) / Math.min(...res.peer)).toFixed(3)}`);
}
