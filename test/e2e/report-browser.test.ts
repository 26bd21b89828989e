/**
 * `slowshake report` in a real browser (issue 14): the report made from the bundled captures
 * (analyze → ndjson, records.pb and per-flow pcaps) is loaded in headless Chromium over the
 * DevTools protocol (test/helpers/chromium.ts).
 *
 * 1. The three input kinds — ndjson, a records.pb stream, a directory of .json records — give
 *    byte-identical pages.
 * 2. The page loads with no console error, no exception and no request besides its own file.
 * 3. Its DOM holds the expected waterfalls (slowest 20 slow flows, in order, each linking a pcap
 *    that exists), one table row per slow flow, and counts equal to the records'; the cwnd-stall
 *    and loss flows show their stall and hatched loss intervals, the packets their ticks.
 * 4. The table's script sorts on a header click and filters on typing.
 * A PNG screenshot is kept under SLOWSHAKE_ARTIFACTS (default test-artifacts/) and printed.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CAPTURES, ROOT, runCli, tempDir } from '../helpers/cli.js';
import { Chromium, CHROMIUM } from '../helpers/chromium.js';
import { replicateRecords } from '../helpers/replicate.js';
import { RecordStreamWriter } from '../../src/sinks/protobuf-records.js';
import { flowFileName } from '../../src/sinks/pcap-writer.js';
import type { FlowRecord } from '../../src/handshake/record.js';

const ARTIFACTS = resolve(process.env.SLOWSHAKE_ARTIFACTS ?? join(ROOT, 'test-artifacts'));
const HAVE_CHROMIUM = existsSync(CHROMIUM);

describe.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? 'report in a real browser' : `report in a real browser (skipped: no ${CHROMIUM}; scripts/install.sh installs it)`, () => {
  const dir = tempDir('ss-report-');
  const page = join(dir, 'report-ndjson.html');
  let records: FlowRecord[] = [];
  let browser: Chromium | undefined;

  beforeAll(async () => {
    const files = readdirSync(CAPTURES).sort().map((f) => join(CAPTURES, f));
    const a = runCli(['analyze', ...files, '--format', 'ndjson', '--out', join(dir, 'pcaps'), '--records', join(dir, 'records.pb'), '--no-progress']);
    expect(a.status, a.stderr).toBe(0);
    writeFileSync(join(dir, 'all.ndjson'), a.stdout);
    records = a.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as FlowRecord);
    // a directory of per-flow .json records, named the way capture names them
    const jdir = join(dir, 'json');
    mkdirSync(jdir);
    for (const r of records) writeFileSync(join(jdir, flowFileName(r.timeline.syn ?? r.timeline.client_hello!, r.client, r.server, 'json')), JSON.stringify(r) + '\n');
    browser = await Chromium.launch();
  });

  afterAll(async () => {
    await browser?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the three input kinds give the same page, byte for byte', () => {
    const kinds = { ndjson: join(dir, 'all.ndjson'), pb: join(dir, 'records.pb'), dir: join(dir, 'json') };
    const pages: Record<string, Buffer> = {};
    for (const [k, input] of Object.entries(kinds)) {
      const r = runCli(['report', input, '-o', join(dir, `report-${k}.html`)]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr).toMatch(new RegExp(`^Report: .*: ${records.length} records, ${records.filter((x) => x.slow).length} slow, 20 waterfalls`));
      pages[k] = readFileSync(join(dir, `report-${k}.html`));
    }
    expect(pages.pb!.equals(pages.ndjson!)).toBe(true);
    expect(pages.dir!.equals(pages.ndjson!)).toBe(true);
    // a record given twice (the directory and the stream) counts once
    const both = runCli(['report', kinds.dir, kinds.pb, '-o', join(dir, 'report-both.html')]);
    expect(both.status, both.stderr).toBe(0);
    expect(both.stderr).toContain(`${records.length} duplicate records counted once`);
    expect(readFileSync(join(dir, 'report-both.html')).equals(pages.ndjson!)).toBe(true);
  });

  it('loads with no error and no request, and shows the records', async () => {
    expect(existsSync(page)).toBe(true);
    const url = pathToFileURL(page).href;
    const { session, log } = await browser!.open(url);
    const slow = records.filter((r) => r.slow).sort((a, b) => (b.phases_ms.total ?? -1) - (a.phases_ms.total ?? -1));
    const dom = await browser!.evaluate<{
      records: string; slow: string; waterfalls: number; rows: number; hists: number; wfClients: string[];
      slowVerdicts: Record<string, string>; allVerdicts: Record<string, string>; pcaps: string[]; ticks: number[]; loss: number; stall: number; rtx: number;
    }>(session, `(() => {
      const q = (s) => Array.from(document.querySelectorAll(s));
      const counts = (id) => Object.fromEntries(q('#' + id + ' .count[data-verdict]').map((e) => [e.dataset.verdict, e.textContent]));
      return {
        records: document.getElementById('n-records').textContent, slow: document.getElementById('n-slow').textContent,
        waterfalls: q('section.waterfall').length, rows: q('#slow-table tbody tr').length, hists: q('figure.hist').length,
        wfClients: q('section.waterfall').map((s) => s.dataset.client),
        slowVerdicts: counts('verdicts-slow'), allVerdicts: counts('verdicts-all'),
        pcaps: q('section.waterfall a.pcap').map((a) => a.href),
        ticks: q('section.waterfall').map((s) => s.querySelectorAll('line.pk').length),
        loss: q('section.waterfall rect.loss').length, stall: q('section.waterfall rect.stall').length, rtx: q('section.waterfall line.pk.rtx').length,
      };
    })()`);
    expect(log.errors).toEqual([]);
    expect(log.requests).toEqual([url]);
    expect(dom.records).toBe(String(records.length));
    expect(dom.slow).toBe(String(slow.length));
    expect(dom.waterfalls).toBe(Math.min(20, slow.length));
    expect(dom.wfClients).toEqual(slow.slice(0, 20).map((r) => r.client));
    expect(dom.rows).toBe(slow.length);
    expect(dom.hists).toBe(15);
    const tally = (rs: FlowRecord[]): Record<string, string> => {
      const t: Record<string, number> = { client: 0, network: 0, server: 0, loss: 0, incomplete: 0 };
      for (const r of rs) t[r.verdict]!++;
      return Object.fromEntries(Object.entries(t).map(([k, v]) => [k, String(v)]));
    };
    expect(dom.slowVerdicts).toEqual(tally(slow));
    expect(dom.allVerdicts).toEqual(tally(records));
    // every waterfall links its own pcap, and the link leads to the file
    expect(dom.pcaps).toHaveLength(dom.waterfalls);
    for (const [i, href] of dom.pcaps.entries()) {
      const file = decodeURIComponent(new URL(href).pathname);
      expect(existsSync(file), href).toBe(true);
      expect(resolve(file)).toBe(resolve(slow[i]!.pcap!));
    }
    // packets from the pcaps: ticks on every waterfall, loss hatched, stalls marked, retransmissions red
    expect(Math.min(...dom.ticks)).toBeGreaterThan(4);
    const shown = slow.slice(0, 20);
    if (shown.some((r) => (r.phases_ms.loss ?? 0) > 0)) expect(dom.loss).toBeGreaterThan(0);
    if (shown.some((r) => r.cwnd_stall)) expect(dom.stall).toBeGreaterThan(0);
    if (shown.some((r) => r.retransmits.client + r.retransmits.server > 0)) expect(dom.rtx).toBeGreaterThan(0);

    const png = await browser!.screenshot(session, 2200);
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, 'report-browser.png');
    writeFileSync(shot, png);
    writeFileSync(join(ARTIFACTS, 'report-browser-full.png'), await browser!.screenshot(session));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    console.log(`report screenshot: ${shot} (${png.length} bytes); page ${page}`);
    expect(dirname(shot)).toBe(ARTIFACTS);
  });

  it('the table sorts on a header click and filters on typing', async () => {
    const { session, log } = await browser!.open(pathToFileURL(page).href);
    const totals = (): Promise<number[]> => browser!.evaluate<number[]>(session,
      `Array.from(document.querySelectorAll('#slow-table tbody tr')).filter((r) => !r.hidden).map((r) => { const v = r.cells[5].dataset.v; return v === '' ? null : Number(v); })`);
    const click = (col: string): Promise<void> => browser!.evaluate<void>(session,
      `Array.from(document.querySelectorAll('#slow-table th')).find((th) => th.textContent === ${JSON.stringify(col)}).click()`);
    const initial = await totals();
    const numeric = (xs: (number | null)[]): number[] => xs.map((x) => x ?? -Infinity);
    expect(numeric(initial)).toEqual([...numeric(initial)].sort((a, b) => b - a)); // slowest first
    await click('total');
    const asc = await totals();
    expect(numeric(asc)).toEqual([...numeric(initial)].sort((a, b) => a - b));
    await click('total');
    expect(numeric(await totals())).toEqual([...numeric(initial)].sort((a, b) => b - a));
    await click('client');
    const clients = await browser!.evaluate<string[]>(session, `Array.from(document.querySelectorAll('#slow-table tbody tr')).map((r) => r.cells[1].textContent)`);
    expect(clients).toEqual([...clients].sort((a, b) => a.localeCompare(b)));
    expect(await browser!.evaluate<string>(session, `document.querySelector('#slow-table th[data-dir]').textContent`)).toBe('client');

    const slow = records.filter((r) => r.slow);
    const type = (text: string): Promise<{ visible: number; shown: string }> => browser!.evaluate(session, `(() => {
      const f = document.getElementById('filter'); f.value = ${JSON.stringify(text)}; f.dispatchEvent(new Event('input'));
      return { visible: Array.from(document.querySelectorAll('#slow-table tbody tr')).filter((r) => !r.hidden).length, shown: document.getElementById('shown').textContent };
    })()`);
    const v6 = slow.filter((r) => r.client.includes('2001:db8')).length;
    expect(v6).toBeGreaterThan(0);
    expect(await type('2001:DB8')).toEqual({ visible: v6, shown: String(v6) });
    const loss = slow.filter((r) => r.verdict === 'loss').length;
    expect(await type('loss')).toEqual({ visible: expect.any(Number), shown: expect.any(String) });
    expect((await type('loss')).visible).toBeGreaterThanOrEqual(loss);
    expect(await type('no-such-thing.example')).toEqual({ visible: 0, shown: '0' });
    expect(await type('')).toEqual({ visible: slow.length, shown: String(slow.length) });
    expect(log.errors).toEqual([]);
  });

  it('100k records: the page loads, sorts and filters (times printed, not asserted)', async () => {
    const copies = Math.ceil(100_000 / records.length);
    const pb = join(dir, 'big.pb');
    const w = RecordStreamWriter.open(pb);
    replicateRecords(records, copies, (c) => w.append(c));
    w.close();
    const big = join(dir, 'big.html');
    const r = runCli(['report', pb, '-o', big]);
    expect(r.status, r.stderr).toBe(0);
    const t0 = Date.now();
    const { session, log } = await browser!.open(pathToFileURL(big).href);
    const loadMs = Date.now() - t0;
    const got = await browser!.evaluate<{ rows: number; wf: number; records: string; sortMs: number; asc: boolean; filterMs: number; visible: number }>(session, `(() => {
      const rows = () => Array.from(document.querySelectorAll('#slow-table tbody tr'));
      const th = Array.from(document.querySelectorAll('#slow-table th')).find((h) => h.textContent === 'total');
      let t = performance.now(); th.click(); const sortMs = performance.now() - t;
      const v = rows().map((r) => Number(r.cells[5].dataset.v || -Infinity));
      const asc = v.every((x, i) => i === 0 || v[i - 1] <= x);
      const f = document.getElementById('filter'); f.value = '10.0.1.'; t = performance.now(); f.dispatchEvent(new Event('input')); const filterMs = performance.now() - t;
      return { rows: rows().length, wf: document.querySelectorAll('section.waterfall').length, records: document.getElementById('n-records').textContent,
        sortMs, asc, filterMs, visible: rows().filter((r) => !r.hidden).length };
    })()`);
    console.log(`100k-record page (${(statSync(big).size / 1048576).toFixed(2)} MiB): loaded in ${loadMs} ms, sorted 2000 rows in ${got.sortMs.toFixed(0)} ms, filtered in ${got.filterMs.toFixed(0)} ms`);
    expect(log.errors).toEqual([]);
    expect(got.records).toBe(String(copies * records.length));
    expect(got.rows).toBe(2000);
    expect(got.wf).toBe(20);
    expect(got.asc).toBe(true);
    const html = readFileSync(big, 'utf8');
    const expected = (html.match(/<tr><td class="n" data-v="\d+">\d+<\/td><td>(?:<a [^>]*>)?10\.0\.1\./g) ?? []).length;
    expect(expected).toBeGreaterThan(0);
    expect(got.visible).toBe(expected);
  });
});
