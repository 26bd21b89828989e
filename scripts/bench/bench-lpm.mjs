// Longest-prefix match with ~500k prefixes (issue 10 benchmark): load time of a range file that
// large, table build time, and lookup cost per address and per record, against a peer (a plain
// binary trie, one node per prefix bit, the textbook structure).
//
//   npm run build && node --expose-gc scripts/bench/bench-lpm.mjs [--v4 450000] [--v6 50000] [--lookups 2000000]
//
// 1. Generate prefixes shaped like a BGP table (IPv4 mostly /24, then /22../16; IPv6 /32../48)
//    with a fixed-seed generator, and write them as one AWS-format ip-ranges.json (0600, temp dir).
// 2. RangeSet.load(file): read + JSON.parse + validate + build the interval table (timed), and
//    PrefixTableBuilder.build alone on the parsed prefixes (timed).
// 3. Lookups: random addresses, half inside a generated prefix; ns per lookup for
//    PrefixTable.lookup4/lookup6 (numbers in hand), RangeSet.lookup (bytes), and
//    Enricher.attribute (the per-record cost: endpoint text -> client_info), median of 5 runs.
// 4. The peer: the same IPv4 prefixes in a binary trie (Int32Array nodes), ns per lookup; its
//    answers are checked equal to the table's on every address.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { RangeSet, PrefixTableBuilder, Enricher, parsePrefix } = await import(join(ROOT, 'dist/enrich/index.js'));
const { missingFlowRecord } = await import(join(ROOT, 'dist/handshake/record.js'));

const { values: o } = parseArgs({ options: { v4: { type: 'string', default: '450000' }, v6: { type: 'string', default: '50000' }, lookups: { type: 'string', default: '2000000' } } });
const N4 = Number(o.v4), N6 = Number(o.v6), L = Number(o.lookups);

let seed = 12345;
const rnd = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
const LEN4 = [[24, 0.6], [23, 0.06], [22, 0.1], [21, 0.05], [20, 0.06], [19, 0.04], [18, 0.03], [17, 0.02], [16, 0.04]];
const pickLen = () => { let x = (rnd() / 2 ** 32); for (const [l, p] of LEN4) { if ((x -= p) < 0) return l; } return 24; };
const v4text = (a) => `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;

const prefixes4 = new Map();
while (prefixes4.size < N4) {
  const len = pickLen();
  const a = (rnd() & (0xffffffff << (32 - len))) >>> 0;
  if ((a >>> 24) === 0 || (a >>> 24) >= 224) continue;
  prefixes4.set(`${v4text(a)}/${len}`, a);
}
const prefixes6 = new Set();
while (prefixes6.size < N6) {
  const len = 32 + (rnd() % 17);
  const w0 = 0x20010000 | (rnd() & 0xffff), w1 = len > 32 ? (rnd() & (0xffffffff << (64 - len))) >>> 0 : 0;
  prefixes6.add(`${(w0 >>> 16).toString(16)}:${(w0 & 0xffff).toString(16)}:${(w1 >>> 16).toString(16)}:${(w1 & 0xffff).toString(16)}::/${len}`);
}
const doc = {
  syncToken: '1', createDate: '2026-12-01-00-00-00',
  prefixes: [...prefixes4.keys()].map((p, i) => ({ ip_prefix: p, region: `r${i % 30}`, service: 'EC2', network_border_group: `r${i % 30}` })),
  ipv6_prefixes: [...prefixes6].map((p, i) => ({ ipv6_prefix: p, region: `r${i % 30}`, service: 'EC2', network_border_group: `r${i % 30}` })),
};
const dir = mkdtempSync(join(tmpdir(), 'slowshake-bench-lpm-'));
const file = join(dir, 'ip-ranges.json');
writeFileSync(file, JSON.stringify(doc), { mode: 0o600 });

const time = (f) => { const t = process.hrtime.bigint(); const r = f(); return [Number(process.hrtime.bigint() - t) / 1e6, r]; };
const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

globalThis.gc?.();
const heap0 = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const [loadMs, ranges] = time(() => RangeSet.load([file]));
globalThis.gc?.();
const heapRanges = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers - heap0;
const parsed = [...prefixes4.keys(), ...prefixes6].map((p) => parsePrefix(p));
const [buildMs, table] = time(() => { const b = new PrefixTableBuilder(); parsed.forEach((p, i) => b.add(p, i)); return b.build(); });

// addresses: half inside generated prefixes, half uniform
const keys4 = [...prefixes4.values()];
const addrs = new Uint32Array(L);
for (let i = 0; i < L; i++) addrs[i] = i & 1 ? rnd() >>> 0 : (keys4[rnd() % keys4.length] + (rnd() & 255)) >>> 0;
const v6 = new Uint32Array(4 * 100_000);
for (let i = 0; i < v6.length; i += 4) { v6[i] = 0x20010000 | (rnd() & 0xffff); v6[i + 1] = rnd() >>> 0; v6[i + 2] = rnd() >>> 0; v6[i + 3] = rnd() >>> 0; }

function nsPer(n, f) {
  const runs = [];
  for (let r = 0; r < 5; r++) { const t = process.hrtime.bigint(); f(); runs.push(Number(process.hrtime.bigint() - t) / n); }
  return median(runs);
}
let sink = 0;
const ns4 = nsPer(L, () => { for (let i = 0; i < L; i++) sink += table.lookup4(addrs[i]); });
const ns6 = nsPer(v6.length / 4, () => { for (let i = 0; i < v6.length; i += 4) sink += table.lookup6(v6[i], v6[i + 1], v6[i + 2], v6[i + 3]); });
const bytes = Array.from({ length: 100_000 }, (_, i) => Uint8Array.of(addrs[i] >>> 24, (addrs[i] >>> 16) & 255, (addrs[i] >>> 8) & 255, addrs[i] & 255));
const nsBytes = nsPer(bytes.length, () => { for (const b of bytes) sink += ranges.lookup(b) === null ? 0 : 1; });
const recs = Array.from({ length: 100_000 }, (_, i) => missingFlowRecord(`${v4text(addrs[i])}:443`, '203.0.113.1:443', null, 'x'));
const enricher = new Enricher({ ranges });
const nsRecord = nsPer(recs.length, () => { for (const r of recs) enricher.attribute(r); });

// the peer: a binary trie over the IPv4 prefixes (node = [child0, child1, value])
const trie = { kids: new Int32Array(2 * 64 * 1024 * 1024 / 8), val: new Int32Array(64 * 1024 * 1024 / 8).fill(-1), n: 1 };
const [trieBuildMs] = time(() => {
  let idx = 0;
  for (const [text, a] of prefixes4) {
    const len = Number(text.slice(text.indexOf('/') + 1));
    let node = 0;
    for (let b = 0; b < len; b++) {
      const bit = (a >>> (31 - b)) & 1;
      let next = trie.kids[2 * node + bit];
      if (next === 0) { next = trie.n++; trie.kids[2 * node + bit] = next; }
      node = next;
    }
    trie.val[node] = idx++;
  }
});
function trieLookup(a) {
  let node = 0, best = trie.val[0];
  for (let b = 0; b < 32; b++) {
    node = trie.kids[2 * node + ((a >>> (31 - b)) & 1)];
    if (node === 0) break;
    if (trie.val[node] >= 0) best = trie.val[node];
  }
  return best;
}
for (let i = 0; i < 200_000; i++) if (trieLookup(addrs[i]) !== table.lookup4(addrs[i])) throw new Error(`peer disagrees on ${v4text(addrs[i])}`);
const nsTrie = nsPer(L, () => { for (let i = 0; i < L; i++) sink += trieLookup(addrs[i]); });

rmSync(dir, { recursive: true, force: true });
const mb = (n) => (n / 1048576).toFixed(1);
console.log(`prefixes: ${N4} IPv4 + ${N6} IPv6 = ${ranges.size} (${table.intervals} intervals); range file ${mb(JSON.stringify(doc).length)} MiB`);
console.log(`load   RangeSet.load (read + JSON.parse + validate + build): ${loadMs.toFixed(0)} ms`);
console.log(`build  PrefixTableBuilder (${parsed.length} parsed prefixes):        ${buildMs.toFixed(0)} ms   peer binary trie (IPv4 only): ${trieBuildMs.toFixed(0)} ms, ${trie.n} nodes`);
console.log(`lookup IPv4 lookup4:            ${ns4.toFixed(0)} ns   peer binary trie: ${nsTrie.toFixed(0)} ns  (${(nsTrie / ns4).toFixed(1)}x)`);
console.log(`lookup IPv6 lookup6:            ${ns6.toFixed(0)} ns`);
console.log(`lookup RangeSet.lookup (bytes): ${nsBytes.toFixed(0)} ns`);
console.log(`record Enricher.attribute (endpoint text -> client_info, ranges only): ${(nsRecord / 1000).toFixed(2)} µs`);
console.log(`memory held by the loaded RangeSet: ${globalThis.gc ? `${mb(heapRanges)} MiB` : 'run with node --expose-gc to measure'}`);
console.log(`rss ${mb(process.memoryUsage().rss)} MiB (includes the peer trie's preallocated 48 MiB)  (checksum ${sink % 7})`);
