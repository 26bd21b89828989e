/**
 * `watch --report FILE` (config twin `output.report`, issue 14) on a live edge (root only): at
 * stop, watch writes the HTML report of its evidence directory, as the user it dropped to, 0600;
 * the page lists exactly the slow handshakes it wrote evidence for, and equals what
 * `slowshake report OUT` makes of the same directory.
 */
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { CLIENT_IP, EdgeLab } from '../helpers/edge.js';
import { ensureJournald, stockJournalPermissions, type JournaldHandle } from '../helpers/journald.js';
import { IS_ROOT, NEEDS_ROOT, sleep } from '../helpers/netns.js';
import { startWatch, waitLines } from '../helpers/watch.js';

const PORT = 443;

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'watch --report' : `watch --report (skipped: ${NEEDS_ROOT})`, () => {
  let jd: JournaldHandle | undefined;
  let lab: EdgeLab | undefined;
  const ident = `ss-wreport-${process.pid}`;
  const base = mkdtempSync(join(tmpdir(), 'ss-wreport-'));

  beforeAll(async () => {
    jd = await ensureJournald();
    stockJournalPermissions();
    lab = new EdgeLab('r');
    await lab.startEdge(ident, PORT, { 'slow-server.example': 300 }, 150);
  });

  afterAll(async () => {
    await lab?.destroy();
    await jd?.stop();
    rmSync(base, { recursive: true, force: true });
  });

  it('at stop the report of the evidence directory is written (0600, by the dropped user), with every slow handshake', async () => {
    chmodSync(base, 0o777); // the user watch drops to writes the report here
    const out = join(base, 'out');
    const state = join(base, 'state');
    const report = join(base, 'report.html');
    const w = await startWatch(lab!, ['--identifier', ident, '--out', out, '--state-dir', state, '--metrics-listen', '127.0.0.1:19474', '--hold', '1s', '--report', report]);
    for (const [sni, port] of [['app.example', 41101], ['slow-server.example', 41102], ['slow-server.example', 41103]] as const) {
      const c = lab!.curl(sni, PORT, port);
      const e = await c.wait(30_000);
      expect(e.code, c.stderr).toBe(0);
    }
    await waitLines(w, 2, 15_000);
    await sleep(1500); // the hold: evidence for both is on disk
    const e = await w.stop('SIGTERM', 15_000);
    expect(e.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/"msg":"Report written\."/);
    expect(existsSync(report)).toBe(true);
    const st = statSync(report);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).not.toBe(0); // written after the privilege drop
    const evidence = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(evidence).toHaveLength(2);
    const html = readFileSync(report, 'utf8');
    expect(html).toContain('<b id="n-slow">2</b>');
    expect(html.match(/<section class="waterfall"/g)).toHaveLength(2);
    for (const p of [41102, 41103]) expect(html).toContain(`data-client="${CLIENT_IP}:${p}"`);
    expect(html).not.toContain(`${CLIENT_IP}:41101`);
    // the same page as slowshake report OUT (records.pb holds the same records as the .json files)
    const again = join(base, 'again.html');
    const r = runCli(['report', out, '-o', again]);
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(again, 'utf8')).toBe(html);
  });
});
