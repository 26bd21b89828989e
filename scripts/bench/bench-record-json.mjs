// FlowRecord ndjson serialisation (issue 13): µs per record for writeRecordJson into one JsonOut,
// against JSON.stringify on the same records, and the bytes checked equal to JSON.stringify.
//
//   npm run build && node scripts/bench/bench-record-json.mjs FILE [--dist DIR] [--rounds 9]
//
// FILE: a capture (.pcap/.pcapng: analysed in this process and each record attributed by a default
// Enricher, so the records have the hidden classes buildRecord and the enricher give them, as in
// `analyze`), or an ndjson file of records (parsed back: other hidden classes, dictionary-free but
// not buildRecord's; figures differ). --dist: the build to measure (default: this worktree's dist),
// e.g. a reference build's, to compare two builds run by run.
import { readFileSync } from 'node:fs';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const { values: o, positionals } = parseArgs({ allowPositionals: true, options: { dist: { type: 'string', default: join(ROOT, 'dist') }, rounds: { type: 'string', default: '9' } } });
const dist = resolve(o.dist);
const file = positionals[0];
if (file === undefined) { console.error('usage: bench-record-json.mjs FILE [--dist DIR] [--rounds N]'); process.exit(2); }
const { JsonOut, writeRecordJson } = await import(join(dist, 'handshake/record-json.js'));

let recs;
if (/\.pcap(ng)?$/.test(file)) {
  const { analyzeCaptures } = await import(join(dist, 'index.js'));
  const { Enricher } = await import(join(dist, 'enrich/index.js'));
  recs = (await analyzeCaptures([file])).records;
  const e = new Enricher();
  for (const r of recs) e.attribute(r);
} else {
  recs = readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
}

const out = new JsonOut(1 << 16);
const run = () => {
  let bytes = 0;
  for (const r of recs) {
    writeRecordJson(r, out);
    bytes += out.pos;
    out.pos = 0;
  }
  return bytes;
};
// Byte identity first (also the warm-up).
const want = Buffer.from(recs.map((r) => JSON.stringify(r) + '\n').join(''));
const all = new JsonOut(1 << 16);
for (const r of recs) { writeRecordJson(r, all); all.room(1); all.buf[all.pos++] = 10; }
if (Buffer.compare(want, all.buf.subarray(0, all.pos)) !== 0) { console.error('MISMATCH with JSON.stringify'); process.exit(1); }

const rounds = Number(o.rounds);
const w = [], s = [];
let bytes = 0;
for (let i = 0; i < rounds; i++) {
  let t = process.hrtime.bigint();
  bytes = run();
  w.push(Number(process.hrtime.bigint() - t) / 1e3 / recs.length);
  t = process.hrtime.bigint();
  let n = 0;
  for (const r of recs) n += JSON.stringify(r).length;
  s.push(Number(process.hrtime.bigint() - t) / 1e3 / recs.length);
}
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const f = (a) => `${med(a).toFixed(2)} (${Math.min(...a).toFixed(2)}-${Math.max(...a).toFixed(2)})`;
console.log(`${recs.length} records, ${(bytes / recs.length).toFixed(0)} B/record, ${dist}`);
console.log(`writeRecordJson µs/record: ${f(w)}  ns/byte ${(med(w) * 1000 / (bytes / recs.length)).toFixed(2)}`);
console.log(`JSON.stringify  µs/record: ${f(s)}`);
