/**
 * The report page with hostile records: every string in a record comes from the client (sni,
 * alpn, PTR names) or from a file someone handed over, so none of it may become markup or a
 * link scheme; records that break the contract's types are refused with the file and line.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTURES, runCli } from '../../helpers/cli.js';
import type { FlowRecord } from '../../../src/handshake/record.js';
import { buildReport, InputDeadlineError, loadInputs, pcapHref } from '../../../src/report/index.js';

const dir = mkdtempSync(join(tmpdir(), 'ss-report-page-'));
let base: FlowRecord;
beforeAll(() => {
  const a = runCli(['analyze', join(CAPTURES, 'server-delay.pcap'), '--format', 'ndjson', '--no-progress']);
  expect(a.status, a.stderr).toBe(0);
  const recs = a.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as FlowRecord);
  base = recs.find((r) => r.slow)!;
  expect(base).toBeDefined();
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

describe('hostile strings', () => {
  it('sni, PTR name, notes and a pcap named like a URL scheme stay text and a relative link', async () => {
    const evil = '<script>alert(1)</script>"\'&';
    const r: FlowRecord = {
      ...structuredClone(base), sni: evil, notes: [evil], pcap: 'javascript:alert(1)',
      client_info: { rdns: `${evil}.example`, provider: null, service: null, region: null, asn: 64500, as_org: evil, prefix: '198.51.100.0/24' },
    };
    const f = join(dir, 'evil.ndjson');
    writeFileSync(f, JSON.stringify(r) + '\n');
    const { records } = await loadInputs([f]);
    const html = await buildReport(records, { output: join(dir, 'page.html') });
    expect(html).not.toContain('<script>alert');
    expect(html).not.toMatch(/href="javascript:/i);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;&amp;');
    // (a relative pcap path is resolved against the working directory)
    expect(pcapHref(r, process.cwd())).toBe('./javascript:alert(1)');
    // the one script on the page is the report's own
    expect(html.match(/<script>/g)).toHaveLength(1);
  });

  it('a record with a bad verdict, a string where a number belongs, or notes not a list: one error naming the file and line', async () => {
    const cases: [Partial<Record<keyof FlowRecord, unknown>>, RegExp][] = [
      [{ verdict: '<b>client</b>' }, /line 2: not a slowshake flow record \(verdict "<b>client<\/b>" is not client, network, server, loss or incomplete\)/],
      [{ phases_ms: { ...base.phases_ms, total: '" onmouseover="x' } }, /line 2: not a slowshake flow record \(phases_ms\.total is not a number or null\)/],
      [{ notes: 'x' }, /line 2: not a slowshake flow record \(notes is not a list of strings\)/],
      [{ event_elapsed_ms: '12' }, /event_elapsed_ms is not a number or null/],
    ];
    for (const [patch, re] of cases) {
      const f = join(dir, 'bad.ndjson');
      writeFileSync(f, `${JSON.stringify(base)}\n${JSON.stringify({ ...base, ...patch })}\n`);
      await expect(loadInputs([f])).rejects.toThrow(re);
    }
  });
});

describe('every bundled capture', () => {
  it('loads as records without complaint (the checks accept what analyze writes)', async () => {
    const files = readdirSync(CAPTURES).sort().map((x) => join(CAPTURES, x));
    const a = runCli(['analyze', ...files, '--format', 'ndjson', '--no-progress']);
    const f = join(dir, 'all.ndjson');
    writeFileSync(f, a.stdout);
    const { records } = await loadInputs([f]);
    expect(records.length).toBe(a.stdout.trimEnd().split('\n').length);
  });
});

describe('an evidence directory', () => {
  /** `n` records of the bundled server-delay capture as an evidence directory's .json files (each a distinct client port). */
  function evidenceDir(n: number): string {
    const d = mkdtempSync(join(dir, 'evidence-'));
    for (let i = 0; i < n; i++) {
      const port = 20000 + i;
      writeFileSync(join(d, `flow-${String(i).padStart(5, '0')}.json`), `${JSON.stringify({ ...base, client: base.client.replace(/:\d+$/, `:${port}`) })}\n`);
    }
    writeFileSync(join(d, '.flow-99999.json.123.tmp'), '{"half":'); // a writer's temp file: not read
    return d;
  }

  it('reads every record in name order, one per .json file (read in batches between turns of the event loop)', async () => {
    const d = evidenceDir(600);
    const { records, inputs } = await loadInputs([d]);
    expect(inputs).toEqual([{ path: d, kind: 'directory', records: 600 }]);
    expect(new Set(records.map((r) => r.client)).size).toBe(600);
  });

  it('the first bad file in name order is named, however the reads were batched', async () => {
    const d = evidenceDir(600);
    writeFileSync(join(d, 'flow-00300.json'), '{"client":1}\n');
    writeFileSync(join(d, 'flow-00500.json'), 'not json\n');
    await expect(loadInputs([d])).rejects.toThrow(/flow-00300\.json/);
  });

  it('a stop signal aborted while reading: InputDeadlineError says how far it got (watch\'s deadline at stop)', async () => {
    const d = evidenceDir(600);
    const err = await loadInputs([d], { stop: AbortSignal.abort() }).then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(InputDeadlineError);
    expect((err as Error).message).toBe(`${d}: the deadline came after 256 of 600 files were read`);
    // aborted during the read: at the next batch
    const ac = new AbortController();
    setImmediate(() => ac.abort());
    await expect(loadInputs([d], { stop: ac.signal })).rejects.toThrow(/after (256|512) of 600 files/);
    // one never aborted: the same directory reads in full
    expect((await loadInputs([d], { stop: new AbortController().signal })).records).toHaveLength(600);
  });
});
