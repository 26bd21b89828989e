/**
 * analyze --threads (issue 13): the flows split by hash across worker threads, the records merged
 * back; the output must equal the single-threaded run's byte for byte — stdout, stderr and exit
 * status — for every output format, with per-flow pcaps and record files, on the bundled captures,
 * on a large generated one (several checkpoints of the workers' flow control, sweeps and
 * end-of-input records from both workers), where --max-flows forces the single-threaded re-run,
 * and for broken files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURES, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { replicateCapture } from '../helpers/replicate.js';
import { AWS_RANGES, GCP_RANGES, MULTI_NET, writeAsnMmdb } from '../helpers/mmdb.js';
import { chooseThreads, defaultThreads } from '../../src/cli/analyze-threads.js';

const bundled = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).sort().map((f) => join(CAPTURES, f));
let dir = '';
let big = '';
let big2 = '';

beforeAll(() => {
  dir = tempDir('slowshake-threads-');
  big = join(dir, 'big.pcap');
  // ~220k packets, ~1,600 handshakes one second apart: 14 checkpoints of 16384 packets
  writeFileSync(big, Buffer.concat([replicateCapture(join(CAPTURES, 'interleaved.pcap'), 1200), replicateCapture(join(CAPTURES, 'loss-server-flight.pcap'), 400).subarray(24)]));
  big2 = join(dir, 'big2.pcap');
  writeFileSync(big2, replicateCapture(join(CAPTURES, 'mtls.pcap'), 60));
});
afterAll(() => { if (dir) rmSync(dir, { recursive: true, force: true }); });

function both(args: string[], env: NodeJS.ProcessEnv = {}): [CliResult, CliResult] {
  return [runCli(['analyze', ...args, '--threads', '1'], { env }), runCli(['analyze', ...args, '--threads', '2'], { env })];
}

function expectSame([one, two]: [CliResult, CliResult]): void {
  expect(two.status).toBe(one.status);
  expect(two.stderr).toBe(one.stderr);
  expect(two.stdout === one.stdout, 'stdout identical').toBe(true);
}

describe('analyze --threads 2 equals --threads 1 byte for byte', () => {
  it('bundled captures, each alone (ndjson, table) and all as one run (json, table)', () => {
    for (const f of bundled) {
      for (const format of ['ndjson', 'table']) expectSame(both([f, '--format', format, '--all']));
    }
    for (const format of ['json', 'table']) {
      const all = both([...bundled, '--format', format, '--all']);
      expect(all[0].status).toBe(0);
      expectSame(all);
    }
  });

  it('a large generated capture: ndjson, json, table, several files in one run', () => {
    for (const format of ['ndjson', 'json', 'table']) {
      const r = both([big, '--format', format, '--all']);
      expect(r[0].status).toBe(0);
      expectSame(r);
    }
    const nd = both([big, big2, '--format', 'ndjson']);
    expect(nd[0].stdout.split('\n').length).toBeGreaterThan(1600);
    expectSame(nd);
    // this thread and two workers: a three-way merge
    for (const format of ['ndjson', 'json']) {
      const one = runCli(['analyze', big, big2, '--format', format, '--all', '--threads', '1']);
      expectSame([one, runCli(['analyze', big, big2, '--format', format, '--all', '--threads', '3'])]);
    }
  });

  it('attributed clients (ranges, ASN database): the same records and the same top slow networks', () => {
    // The workers send each slow record's parts for the summary, not the record (analyze-share.ts
    // SlowParts): provider, ASN and prefix groups, many of each (multi-net.pcap 150 times over).
    const nets = join(dir, 'nets.pcap');
    writeFileSync(nets, replicateCapture(MULTI_NET, 150));
    const asn = writeAsnMmdb(join(dir, 'asn.mmdb'));
    const r = both([nets, '--format', 'ndjson', '--slow', '1', '--ranges', AWS_RANGES, '--ranges', GCP_RANGES, '--asn-db', asn]);
    expect(r[0].status).toBe(0);
    expect(r[0].stderr).toMatch(/aws us-east-1 EC2 +\d+/);
    expect(r[0].stderr).toMatch(/\n {2}AS\d+ /);
    expectSame(r);
  });

  it('per-flow pcaps (--out) and record files (--records) are the same files', () => {
    const out1 = join(dir, 'out1'), out2 = join(dir, 'out2');
    const rec1 = join(dir, 'r1.records'), rec2 = join(dir, 'r2.records');
    const one = runCli(['analyze', big, '--format', 'ndjson', '--slow', '150', '--out', out1, '--records', rec1, '--threads', '1']);
    const two = runCli(['analyze', big, '--format', 'ndjson', '--slow', '150', '--out', out2, '--records', rec2, '--threads', '2']);
    expect(one.status).toBe(0);
    expect(two.status).toBe(0);
    expect(two.stdout.replaceAll(out2, out1) === one.stdout, 'stdout identical').toBe(true);
    expect(two.stderr).toBe(one.stderr);
    const files = readdirSync(out1).sort();
    expect(files.length).toBeGreaterThan(10);
    expect(readdirSync(out2).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(out2, f)).equals(readFileSync(join(out1, f))), f).toBe(true);
    // the records carry their pcap's path: out1 and out2 have the same length
    expect(readFileSync(rec2, 'latin1').replaceAll(out2, out1) === readFileSync(rec1, 'latin1'), 'records file identical').toBe(true);
  });

  it('a --max-flows the shares might reach: the re-run in one thread gives the same records and evictions', () => {
    for (const format of ['ndjson', 'table']) {
      const r = both([big, '--format', format, '--all', '--max-flows', '3']);
      expect(r[0].stdout + r[0].stderr).toMatch(/flows evicted/);
      expectSame(r);
    }
  });

  it('a truncated and a corrupt large file: same records, same message naming file and offset, same exit', () => {
    const data = readFileSync(big);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, data.subarray(0, Math.floor(data.length * 0.6)));
    const rc = both([cut, '--format', 'ndjson']);
    expect(rc[0].stderr).toMatch(/cut\.pcap: byte \d+: truncated last record/);
    expectSame(rc);

    // a record length of 2^31-1 about half way: fatal at that offset, records before it kept
    let o = 24;
    while (o < data.length / 2) o += 16 + data.readUInt32LE(o + 8);
    const bad = Buffer.from(data);
    bad.writeUInt32LE(0x7fffffff, o + 8);
    const corrupt = join(dir, 'corrupt.pcap');
    writeFileSync(corrupt, bad);
    for (const format of ['ndjson', 'json']) {
      const r = both([corrupt, '--format', format]);
      expect(r[0].status).toBe(2);
      expect(r[0].stderr).toContain(`corrupt.pcap: byte ${o}: record length 2147483647 exceeds the maximum`);
      expectSame(r);
    }
    // a missing file among good ones
    expectSame(both([big2, join(dir, 'missing.pcap'), '--format', 'ndjson']));
  });

  it('the default: 1 thread (opt-in), and only for large regular uncompressed files when not asked', () => {
    expect([1, 2, 3, 4, 8].map((n) => defaultThreads(n))).toEqual([1, 1, 1, 1, 1]); // opt-in: no speed-up measured on any machine here
    expect(chooseThreads([big], 4)).toBe(4);
    expect(chooseThreads([big2], null)).toBe(1); // under 16 MiB
    expect(chooseThreads(['-'], 4)).toBe(1);
    const gz = join(dir, 'x.pcap.gz');
    writeFileSync(gz, Buffer.from([0x1f, 0x8b, 8, 0]));
    expect(chooseThreads([big, gz], 4)).toBe(1);
    expect(chooseThreads([big, join(dir, 'missing.pcap')], 4)).toBe(1);
  });

  it('--threads takes a whole number from 1 to 64 (and SLOWSHAKE_THREADS)', () => {
    const r = runCli(['analyze', big2, '--threads', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toBe('slowshake: --threads: expected a whole number of threads from 1 to 64, got "0"');
    expectSame([runCli(['analyze', big2, '--format', 'ndjson'], { env: { SLOWSHAKE_THREADS: '1' } }), runCli(['analyze', big2, '--format', 'ndjson'], { env: { SLOWSHAKE_THREADS: '2' } })]);
  });
});
