/**
 * `slowshake report` on the demo's output (root only; a real journald, test/setup/journald.ts):
 * `demo --out DIR --report FILE` runs a real spot check (capture following the journal on a
 * throwaway edge), and capture writes the report at the end (`capture --report`).
 *
 * 1. capture's report, `slowshake report DIR` and `slowshake report DIR/records.pb` are the same
 *    page, byte for byte.
 * 2. In headless Chromium: no error, no request; three waterfalls, one per slow flow of the demo
 *    (network, client, server), each with the proxy's own figure beside the wire total and a link
 *    to its pcap that exists.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { IS_ROOT, NEEDS_ROOT, spawnTracked } from '../helpers/netns.js';
import { CLI, runCli } from '../helpers/cli.js';
import { Chromium, CHROMIUM } from '../helpers/chromium.js';
import type { FlowRecord } from '../../src/handshake/record.js';

const RUN = IS_ROOT && existsSync(CHROMIUM);

describe.skipIf(!RUN)(RUN ? 'report on the demo' : `report on the demo (skipped: ${IS_ROOT ? `no ${CHROMIUM}` : NEEDS_ROOT})`, () => {
  const base = mkdtempSync(join(tmpdir(), 'ss-report-demo-'));
  let browser: Chromium | undefined;
  afterAll(async () => {
    await browser?.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('demo --report: the page capture wrote equals slowshake report DIR; three waterfalls with the proxy figure and pcap links', async () => {
    const out = join(base, 'out');
    const page = join(base, 'demo.html');
    const demo = spawnTracked('demo', process.execPath, [CLI, 'demo', '--out', out, '--report', page]);
    const e = await demo.wait(90_000);
    expect(e.code, `${demo.stderr}\n${demo.stdout}`).toBe(0);
    expect(demo.stdout).toContain('Slow TLS handshakes: 3');
    expect(demo.stdout).toMatch(/Report: 3 records \(3 slow\) in /);
    const records = readdirSync(out).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(out, f), 'utf8')) as FlowRecord);
    expect(records).toHaveLength(3);

    for (const input of [out, join(out, 'records.pb')]) {
      const again = join(base, 'again.html');
      const r = runCli(['report', input, '-o', again]);
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(again).equals(readFileSync(page)), input).toBe(true);
    }

    browser = await Chromium.launch();
    const url = pathToFileURL(page).href;
    const { session, log } = await browser.open(url);
    const dom = await browser.evaluate<{ clients: string[]; verdicts: string[]; proxy: number; wire: number; pcaps: string[]; rows: number; slow: string }>(session, `(() => {
      const q = (s) => Array.from(document.querySelectorAll(s));
      return {
        clients: q('section.waterfall').map((s) => s.dataset.client), verdicts: q('section.waterfall').map((s) => s.dataset.verdict),
        proxy: q('section.waterfall rect.proxy').length, wire: q('section.waterfall rect.wire').length,
        pcaps: q('section.waterfall a.pcap').map((a) => a.href), rows: q('#slow-table tbody tr').length,
        slow: document.getElementById('n-slow').textContent,
      };
    })()`);
    expect(log.errors).toEqual([]);
    expect(log.requests).toEqual([url]);
    const slowest = [...records].sort((a, b) => (b.phases_ms.total ?? -1) - (a.phases_ms.total ?? -1));
    expect(dom.clients).toEqual(slowest.map((r) => r.client));
    expect([...dom.verdicts].sort()).toEqual(['client', 'network', 'server']);
    expect(dom.wire).toBe(3);
    expect(dom.proxy).toBe(records.filter((r) => typeof r.event_elapsed_ms === 'number').length);
    expect(dom.proxy).toBe(3);
    expect(dom.rows).toBe(3);
    expect(dom.slow).toBe('3');
    for (const [i, href] of dom.pcaps.entries()) expect(resolve(decodeURIComponent(new URL(href).pathname))).toBe(resolve(slowest[i]!.pcap!));
    expect(dom.pcaps).toHaveLength(3);
  });
});
