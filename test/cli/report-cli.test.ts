/**
 * `slowshake report` (built CLI): bad inputs end in one line naming the file (and the byte
 * offset), exit 2; a 100k-record input made by replicating the bundled captures' records renders
 * into a page whose size is bounded (distributions aggregated, waterfalls and table rows capped).
 * The time it took is printed, never asserted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURES, expectOneLineError, runCli, tempDir } from '../helpers/cli.js';
import type { FlowRecord } from '../../src/handshake/record.js';
import { RecordStreamWriter } from '../../src/sinks/protobuf-records.js';
import { replicateRecords } from '../helpers/replicate.js';

let dir: string;
let ndjson: string;
let records: FlowRecord[];
beforeAll(() => {
  dir = tempDir('ss-report-cli-');
  const files = readdirSync(CAPTURES).sort().map((f) => join(CAPTURES, f));
  const a = runCli(['analyze', ...files, '--format', 'ndjson', '--no-progress', '--records', join(dir, 'records.pb')]);
  expect(a.status, a.stderr).toBe(0);
  ndjson = a.stdout;
  records = ndjson.trimEnd().split('\n').map((l) => JSON.parse(l) as FlowRecord);
  writeFileSync(join(dir, 'all.ndjson'), ndjson);
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('report: inputs and help', () => {
  it('analyze --format json (one document with a flows array) gives the same page as its ndjson', () => {
    const files = readdirSync(CAPTURES).sort().map((f) => join(CAPTURES, f));
    const a = runCli(['analyze', ...files, '--format', 'json', '--no-progress']);
    expect(a.status, a.stderr).toBe(0);
    writeFileSync(join(dir, 'all.json'), a.stdout);
    for (const [name, input] of [['from-json', 'all.json'], ['from-ndjson', 'all.ndjson']]) {
      const r = runCli(['report', join(dir, input), '-o', join(dir, `${name}.html`)]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toContain(`(${name === 'from-json' ? 'json' : 'ndjson'}, ${records.length})`);
    }
    expect(readFileSync(join(dir, 'from-json.html'), 'utf8')).toBe(readFileSync(join(dir, 'from-ndjson.html'), 'utf8'));
  });

  it('--help lists the options; slowshake help lists the command', () => {
    const h = runCli(['report', '--help']);
    expect(h.status).toBe(0);
    for (const o of ['-o, --output FILE', '--waterfalls N', '--table-rows N']) expect(h.stdout).toContain(o);
    expect(runCli(['help']).stdout).toMatch(/^ {2}report INPUT\.\.\. /m);
  });
});

describe('report: bad input', () => {
  it('a missing input, a missing -o, a bad --waterfalls: one line, exit 2', () => {
    expectOneLineError(runCli(['report', join(dir, 'nope.pb'), '-o', join(dir, 'r.html')]), /nope\.pb: byte 0: cannot open: no such file/);
    expectOneLineError(runCli(['report', join(dir, 'all.ndjson')]), /^slowshake: report: no output file given/);
    expectOneLineError(runCli(['report', '-o', join(dir, 'r.html')]), /^slowshake: report: no input given/);
    expectOneLineError(runCli(['report', join(dir, 'all.ndjson'), '-o', join(dir, 'r.html'), '--waterfalls', 'ten']), /^slowshake: --waterfalls: expected a whole number/);
    expectOneLineError(runCli(['report', join(dir, 'all.ndjson'), '-o', join(dir, 'no-dir', 'r.html')]), /^slowshake: --output .*no-dir\/r\.html: ENOENT/);
  });

  it('a truncated record stream names the file and the offset of the torn frame', () => {
    const f = join(dir, 'torn.pb');
    copyFileSync(join(dir, 'records.pb'), f);
    truncateSync(f, statSync(f).size - 7);
    expectOneLineError(runCli(['report', f, '-o', join(dir, 'r.html')]), new RegExp(`^slowshake: ${f}: byte \\d+: truncated record: \\d+ bytes announced`));
  });

  it('a broken ndjson line names the file, its byte offset and line; a pcap is not a record stream', () => {
    const lines = ndjson.split('\n');
    const f = join(dir, 'broken.ndjson');
    writeFileSync(f, [lines[0], lines[1], '{"client": "x"', lines[2]].join('\n'));
    const off = Buffer.byteLength(`${lines[0]}\n${lines[1]}\n`);
    expectOneLineError(runCli(['report', f, '-o', join(dir, 'r.html')]), new RegExp(`^slowshake: ${f}: byte ${off}: line 3: not valid JSON$`));
    const g = join(dir, 'other.ndjson');
    writeFileSync(g, '{"hello": 1}\n');
    expectOneLineError(runCli(['report', g, '-o', join(dir, 'r.html')]), /other\.ndjson: byte 0: line 1: not a slowshake flow record \(no "client"\)/);
    expectOneLineError(runCli(['report', join(CAPTURES, 'hrr.pcap'), '-o', join(dir, 'r.html')]), /hrr\.pcap: byte 0: not a slowshake record stream/);
  });

  it('ndjson is read in chunks: a broken line past the first 4 MiB still has its exact byte offset and line', () => {
    const lines = ndjson.trimEnd().split('\n');
    const many: string[] = [];
    let k = 0;
    replicateRecords(records, Math.ceil(6e6 / ndjson.length), (c) => { many.push(JSON.stringify(c)); k++; });
    const at = many.findIndex((_, i) => Buffer.byteLength(many.slice(0, i).join('\n')) > 5 * 1024 * 1024);
    many[at] = many[at]!.slice(0, -3); // cut short: not valid JSON
    const f = join(dir, 'long.ndjson');
    writeFileSync(f, many.join('\n') + '\n');
    const off = Buffer.byteLength(many.slice(0, at).join('\n') + '\n');
    expect(k).toBeGreaterThan(lines.length);
    expectOneLineError(runCli(['report', f, '-o', join(dir, 'r.html')]), new RegExp(`: byte ${off}: line ${at + 1}: not valid JSON$`));
    // and whole: every record read (the line cut short restored)
    many[at] = JSON.stringify(JSON.parse(many[at - 1]!));
    writeFileSync(f, many.join('\r\n') + '\r\n');
    const r = runCli(['report', f, '-o', join(dir, 'r.html')]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`(ndjson, ${many.length})`);
  });

  it('a directory with a broken .json record names that file', () => {
    const d = join(dir, 'outdir');
    mkdirSync(d);
    writeFileSync(join(d, 'a.json'), ndjson.split('\n')[0]! + '\n');
    writeFileSync(join(d, 'b.json'), '{"client":');
    expectOneLineError(runCli(['report', d, '-o', join(dir, 'r.html')]), new RegExp(`^slowshake: ${d}/b\\.json: byte 0: not valid JSON$`));
  });
});

describe('report: 100k records', () => {
  it('renders with aggregated distributions, 20 waterfalls and 2000 table rows; the page stays small', () => {
    const copies = Math.ceil(100_000 / records.length);
    const f = join(dir, 'big.pb');
    const w = RecordStreamWriter.open(f);
    // copy k: its own client network and k seconds later (a new handshake); none has a pcap
    // (analyze ran without --out), so the waterfalls draw from the records alone
    replicateRecords(records, copies, (c) => w.append(c));
    w.close();
    const n = copies * records.length;
    const slow = copies * records.filter((r) => r.slow).length;
    const out = join(dir, 'big.html');
    const t0 = process.hrtime.bigint();
    const r = runCli(['report', f, '-o', out]);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    expect(r.status, r.stderr).toBe(0);
    const html = readFileSync(out, 'utf8');
    console.log(`report of ${n} records (${(statSync(f).size / 1048576).toFixed(1)} MiB records.pb): ${(ms / 1000).toFixed(2)} s, page ${(html.length / 1048576).toFixed(2)} MiB`);
    expect(html).toContain(`<b id="n-records">${n}</b>`);
    expect(html).toContain(`<b id="n-slow">${slow}</b>`);
    expect(html.match(/<section class="waterfall"/g)).toHaveLength(20);
    expect(html.match(/<tr><td class="n" data-v="\d+">/g)).toHaveLength(2000);
    expect(html).toContain(`(the slowest 2000 of ${slow}; --table-rows N for more)`);
    expect(html).toContain(`<figure class="hist" data-phase="total" data-n="${copies * records.filter((x) => x.phases_ms.total !== null).length}">`);
    expect(html.length).toBeLessThan(3 * 1024 * 1024);
    expect(statSync(out).mode & 0o777).toBe(0o600);
  });
});
