/**
 * `slowshake analyze --records FILE` and `slowshake records FILE…` (built CLI): what analyze
 * stores, records prints back exactly as analyze printed it; bad and truncated files end in one
 * line on stderr and exit 2.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURES, expectOneLineError, runCli, tempDir } from '../helpers/cli.js';
import { readRecordFile } from '../../src/sinks/protobuf-records.js';

const CAPTURE_FILES = readdirSync(CAPTURES).sort().map((f) => join(CAPTURES, f));
const THINK = join(CAPTURES, 'client-think.pcap');
const FAST = join(CAPTURES, 'fast-tls13.pcap');

let dir: string;
beforeAll(() => { dir = tempDir(); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });


/** Lines of a table output before the summary (the part both commands render with renderTable). */
const tablePart = (out: string): string => out.split(/\n(?=Summary:|Records:)/)[0]!;

describe('analyze --records, then records', () => {
  it('ndjson: records prints exactly what analyze printed, for every bundled capture appended to one file', () => {
    const f = join(dir, 'all.pb');
    let expected = '';
    for (const c of CAPTURE_FILES) {
      const a = runCli(['analyze', c, '--records', f, '--format', 'ndjson']);
      expect(a.status).toBe(0);
      expected += a.stdout;
    }
    expect(expected.split('\n').length).toBeGreaterThan(30);
    expect(statSync(f).mode & 0o777).toBe(0o600);
    const r = runCli(['records', f, '--format', 'ndjson']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(expected);
    // then "Top slow networks" from the records' client_info (issue 10)
    expect(r.stderr.split('\n')[0]).toBe(`Records: ${expected.trim().split('\n').length} read from 1 file`);
    expect(r.stderr).toMatch(/\nTop slow networks .*\n.*\n {2}198\.51\.100\.0\/24 +\d+ /);
  });
  it('with journal events, a pcap per slow flow, and the json format', () => {
    const recs = runCli(['analyze', THINK, '--format', 'ndjson']).stdout.trim().split('\n')
      .map((l) => JSON.parse(l) as { client: string; server: string; slow: boolean; timeline: { done: number }; phases_ms: { total: number } });
    const [a, b] = recs.filter((x) => x.slow) as [typeof recs[0], typeof recs[0]];
    const events = [
      { __REALTIME_TIMESTAMP: String(a.timeline.done + 800), __CURSOR: 's=abc;i=1', SYSLOG_IDENTIFIER: 'edge-proxy',
        MESSAGE: `slow TLS handshake remote_addr=${a.client} local_addr=${a.server} sni=bücher.example elapsed_ms=${(a.phases_ms.total + 25).toFixed(3)}` },
      { __REALTIME_TIMESTAMP: String(b.timeline.done + 500), MESSAGE: 'slow handshake', REMOTE_ADDR: b.client },
    ];
    const ev = join(dir, 'events.ndjson');
    writeFileSync(ev, events.map((e) => JSON.stringify(e)).join('\n') + '\n');
    const f = join(dir, 'events.pb');
    const out = join(dir, 'pcaps');
    const nd = runCli(['analyze', THINK, '--events', ev, '--out', out, '--records', f, '--format', 'ndjson']);
    expect(nd.status).toBe(0);
    expect(nd.stdout).toMatch(/"event":\{"cursor":"s=abc;i=1"/);
    expect(nd.stdout).toMatch(/"event":\{"cursor":null/); // b: no cursor logged
    expect(nd.stdout).toMatch(/"pcap":"/);
    expect(runCli(['records', f, '--format', 'ndjson']).stdout).toBe(nd.stdout);
    // json: the same flows as analyze --format json (and in the same key order)
    const g = join(dir, 'events-json.pb');
    const aj = runCli(['analyze', THINK, '--events', ev, '--records', g, '--format', 'json']);
    const rj = runCli(['records', g, '--format', 'json']);
    expect(rj.status).toBe(0);
    const flows = (s: string): unknown[] => (JSON.parse(s) as { flows: unknown[] }).flows;
    expect(JSON.stringify(flows(rj.stdout))).toBe(JSON.stringify(flows(aj.stdout)));
    expect(JSON.parse(rj.stdout).summary).toMatchObject({ files: [{ file: g, records: recs.length, bytes: statSync(g).size, error: null }], records: recs.length });
    // table: the event column appears because records carry events
    const t = runCli(['records', g, '--format', 'table']);
    expect(t.stdout).toMatch(/proxy_ms/);
  });
  it('table: the same table as analyze (slow only, and --all)', () => {
    const f = join(dir, 'table.pb');
    for (const all of [[], ['--all']]) {
      rmSync(f, { force: true });
      const a = runCli(['analyze', THINK, '--records', f, '--format', 'table', ...all]);
      const r = runCli(['records', f, '--format', 'table', ...all]);
      expect(r.status).toBe(0);
      expect(tablePart(r.stdout)).toBe(tablePart(a.stdout));
      expect(r.stdout).toMatch(/^Slow TLS handshakes|^TLS handshakes/);
    }
  });
  it('--slow re-decides slow from the stored totals; several files are read in order', () => {
    const f1 = join(dir, 's1.pb');
    const f2 = join(dir, 's2.pb');
    runCli(['analyze', THINK, '--records', f1]);
    runCli(['analyze', FAST, '--records', f2]);
    const base = runCli(['records', f1, f2, '--format', 'ndjson']);
    const lines = base.stdout.trim().split('\n').map((l) => JSON.parse(l) as { slow: boolean; phases_ms: { total: number | null } });
    expect(base.stderr).toMatch(/Records: \d+ read from 2 files/);
    const again = runCli(['records', f1, f2, '--format', 'ndjson', '--slow', '0']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { slow: boolean; phases_ms: { total: number | null } });
    expect(again.map((x) => x.slow)).toEqual(lines.map((x) => (x.phases_ms.total !== null ? true : x.slow)));
    expect(runCli(['records', f1, '--format', 'ndjson', '--slow', '100000']).stdout).not.toMatch(/"slow":true,"cwnd_stall"/);
    expect(runCli(['analyze', FAST, '--format', 'ndjson']).stdout).toBe(runCli(['records', f2, '--format', 'ndjson']).stdout);
  });
  it('SLOWSHAKE_RECORDS is the env twin of --records', async () => {
    const f = join(dir, 'env.pb');
    expect(runCli(['analyze', FAST, '--format', 'ndjson'], { env: { SLOWSHAKE_RECORDS: f } }).status).toBe(0);
    expect((await readRecordFile(f)).records.length).toBeGreaterThan(0);
  });
});

describe('records: bad input', () => {
  it('a missing file, a directory, a capture file instead of records: one line, exit 2', () => {
    expectOneLineError(runCli(['records', join(dir, 'nope.pb')]), /nope\.pb: byte 0: cannot open: no such file/);
    expectOneLineError(runCli(['records', dir]), /byte 0: cannot read: is a directory/);
    expectOneLineError(runCli(['records', FAST, '--format', 'ndjson']), /fast-tls13\.pcap: byte 0: not a slowshake record stream: record length \d+ exceeds the maximum/);
    const t = join(dir, 'text.pb');
    writeFileSync(t, 'hello world, not records\n');
    expectOneLineError(runCli(['records', t]), /text\.pb: byte 0: not a slowshake record stream: truncated record: 104 bytes announced, 24 present/);
  });
  it('a truncated file: the records before the cut are printed, the error names file and offset, exit 2', async () => {
    const f = join(dir, 'cut.pb');
    const full = runCli(['analyze', THINK, '--records', f, '--format', 'ndjson']).stdout;
    const { records } = await readRecordFile(f);
    expect(records.length).toBeGreaterThan(2);
    // the offset of the last frame: the file minus the last record's frame
    const size = statSync(f).size;
    const { RecordStreamWriter } = await import('../../src/sinks/protobuf-records.js');
    const probe = join(dir, 'probe.pb');
    const w = RecordStreamWriter.open(probe);
    w.append(records[records.length - 1]!);
    w.close();
    const lastStart = size - statSync(probe).size;
    truncateSync(f, size - 5);
    const r = runCli(['records', f, '--format', 'ndjson']);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe(full.split('\n').slice(0, records.length - 1).join('\n') + '\n');
    expect(r.stderr).toContain(`slowshake: ${f}: byte ${lastStart}: truncated record: `);
    expect(r.stderr).toMatch(/^Records: \d+ read from 1 file\n/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    // analyze refuses to append behind the torn record and leaves the file alone
    expectOneLineError(runCli(['analyze', FAST, '--records', f]), new RegExp(`cut\\.pb: byte ${lastStart}: truncated record: .*refusing to append`));
    expect(statSync(f).size).toBe(size - 5);
  });
  it('usage errors', () => {
    expectOneLineError(runCli(['records']), /records: no record file given/);
    expectOneLineError(runCli(['records', FAST, '--format', 'xml']), /--format: expected table, json or ndjson, got "xml"/);
    expectOneLineError(runCli(['records', FAST, '--slow', 'soon']), /--slow: expected a number of milliseconds >= 0, got "soon"/);
    expectOneLineError(runCli(['records', FAST, '--bogus']), /records: Unknown option '--bogus'/);
    expectOneLineError(runCli(['analyze', FAST, '--records', join(dir, 'no/such/dir.pb')]), /dir\.pb: byte 0: cannot open: no such file/);
    const h = runCli(['records', '--help']);
    expect(h.status).toBe(0);
    expect(h.stdout).toMatch(/usage: slowshake records/);
    expect(runCli(['help']).stdout).toMatch(/records FILE\.\.\./);
    expect(runCli(['analyze', '--help']).stdout).toMatch(/--records FILE/);
  });
  it('an empty record file is an empty stream', () => {
    const f = join(dir, 'empty.pb');
    writeFileSync(f, '');
    const r = runCli(['records', f, '--format', 'ndjson']);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(readFileSync(f).length).toBe(0);
  });
});
