/**
 * End to end with a real Prometheus (issue 12, "For the fleet"): `slowshake watch` on an edge's
 * veth, Debian's prometheus scraping it and evaluating the shipped rules
 * (deploy/prometheus/slowshake.rules.yml), its alerts reaching a real Alertmanager, and
 * Alertmanager's webhook reaching a small HTTP server of the test. Root only; everything runs in
 * the EdgeLab's server namespace, on its loopback (watch's metrics, Prometheus, Alertmanager, the
 * webhook), so nothing listens outside the namespaces the test creates.
 *
 * The rules are a copy of the shipped file in which only time spans are shortened, so a test
 * takes a minute and not an hour: every `for:` becomes 3s and every 5 m range window ([5m]) 15 s
 * (the slow ratio must also fall back within a test once the slow clients stop). Thresholds,
 * guards, labels and annotations are the shipped ones.
 *
 * 1. Calm: fast clients only, above the rule's volume guard: no slow-ratio alert.
 * 2. Slow: clients whose ports go through the delay line (RTT +200 ms, verdict network) as well:
 *    SlowshakeEdgeSlowRatioHigh and SlowshakeFleetSlowRatioHigh for verdict network appear in
 *    Alertmanager's API with their labels (alertname, instance, verdict, severity, …).
 * 3. The slow clients stop: both leave GET /api/v2/alerts, and the webhook gets them resolved.
 * 4. Every rule of the file loaded and evaluates without error on the real series; every dashboard
 *    query is PromQL the real Prometheus accepts.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type Alertmanager, type AmAlert } from '../helpers/alertmanager.js';
import { ROOT } from '../helpers/cli.js';
import { DELAYLINE, EdgeLab, ensureDelayline } from '../helpers/edge.js';
import { IS_ROOT, NEEDS_ROOT, run, sleep, type Proc } from '../helpers/netns.js';
import { startWatch } from '../helpers/watch.js';

const RULES = join(ROOT, 'deploy/prometheus/slowshake.rules.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/slowshake-dashboard.json');
const PROMETHEUS = '/usr/local/bin/prometheus';

const EDGE = 8443;
const METRICS = 19497;
const PROM = 19498;
const AM = 19499;
const WEBHOOK = 19496;
/** Client ports above the ephemeral range (32768–60999): only the slow clients use them. */
const SLOW_PORTS = '61000-61999';
const SLOW_QUEUE = '77';
const SLOW_NET_MS = 100; // each way: RTT +200 ms

const ALERT = 'SlowshakeEdgeSlowRatioHigh';
const FLEET_ALERT = 'SlowshakeFleetSlowRatioHigh';

/** The shipped rules with only their time spans shortened (see the header). */
function shortenedRules(text: string): string {
  const out = text.replace(/^(\s+for:) \d+[smh]$/gm, '$1 3s').replace(/\[5m\]/g, '[15s]');
  if (/^\s+for: (?!3s$)/m.test(out) || out.includes('[5m]')) throw new Error('a for: or a [5m] window was not shortened');
  return out;
}

const WEBHOOK_SERVER = `
const http = require('node:http');
http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => { process.stdout.write(JSON.stringify(JSON.parse(body)) + '\\n'); res.end('ok'); });
}).listen(${WEBHOOK}, '127.0.0.1', () => process.stdout.write('webhook ready\\n'));
`;

interface WebhookMessage { status: string; alerts: { status: string; labels: Record<string, string> }[] }

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'Prometheus evaluating the shipped rules, alerting through Alertmanager' : `Prometheus alerting (skipped: ${NEEDS_ROOT})`, () => {
  let lab: EdgeLab | undefined;
  let am: Alertmanager | undefined;
  let webhook: Proc | undefined;
  let prom: Proc | undefined;
  const dirs: string[] = [];
  const tmp = (p: string): string => { const d = mkdtempSync(join(tmpdir(), p)); dirs.push(d); return d; };
  const loops: { running: boolean; done: Promise<void> }[] = [];

  /** GET from inside the server namespace (curl); the body, or null when it failed. */
  function get(url: string, query?: string): string | null {
    const args = ['netns', 'exec', lab!.nsServer, 'curl', '-sS', '--fail', '--max-time', '5', ...(query !== undefined ? ['-G', '--data-urlencode', `query=${query}`] : []), url];
    const r = spawnSync('ip', args, { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : null;
  }

  /** An instant query to Prometheus: its result vector. */
  function query(q: string): { metric: Record<string, string>; value: [number, string] }[] {
    const body = get(`http://127.0.0.1:${PROM}/api/v1/query`, q);
    if (body === null) throw new Error(`Prometheus query ${q} failed: ${prom?.stderr.slice(-800)}`);
    return (JSON.parse(body) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } }).data.result;
  }

  async function until<T>(what: string, ms: number, f: () => T | null | undefined | false): Promise<T> {
    const end = Date.now() + ms;
    for (;;) {
      const v = f();
      if (v) return v;
      if (Date.now() > end) throw new Error(`${what}: not within ${ms} ms`);
      await sleep(250);
    }
  }

  /** Runs curl clients one after another until stopped (each must succeed). */
  function clients(name: string, sni: string, extra: string[]): { running: boolean; done: Promise<void>; n: number } {
    const loop = { running: true, done: Promise.resolve(), n: 0 };
    loop.done = (async () => {
      while (loop.running) {
        const c = lab!.curl(sni, EDGE, null, '/', extra);
        const e = await c.wait(30_000);
        if (e.code !== 0 || c.stdout !== '200') throw new Error(`${name} client failed (${e.code}, ${c.stdout}): ${c.stderr}`);
        loop.n++;
        await sleep(150);
      }
    })();
    loops.push(loop);
    return loop;
  }

  const webhookMessages = (): WebhookMessage[] => (webhook?.stdout ?? '').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as WebhookMessage);
  const ours = (a: AmAlert[], name: string): AmAlert[] => a.filter((x) => x.labels.alertname === name && x.labels.verdict === 'network');

  beforeAll(async () => {
    ensureDelayline();
    lab = new EdgeLab('pa');
    await lab.startEdge(`ss-promalert-${process.pid}`, EDGE, {}, 60_000);

    // Network delay for the slow clients' port range, both directions (the delay line's own rules, for a range).
    for (const [chain, dir] of [['OUTPUT', '--sport'], ['INPUT', '--dport']] as const) {
      run('ip', ['netns', 'exec', lab.nsClient, 'iptables', '-A', chain, '-p', 'tcp', dir, SLOW_PORTS.replace('-', ':'), '-j', 'NFQUEUE', '--queue-num', SLOW_QUEUE]);
    }
    await lab.spawn('delayline slow range', 'client', DELAYLINE, ['--queue', SLOW_QUEUE, '--delay-ms', String(SLOW_NET_MS)]).waitFor(/ready/, 10_000, 'stderr');

    webhook = lab.spawn('webhook', 'server', process.execPath, ['-e', WEBHOOK_SERVER]);
    await webhook.waitFor(/webhook ready/, 10_000, 'stdout');
    am = await startAlertmanager({ port: AM, netns: lab.nsServer, webhook: `http://127.0.0.1:${WEBHOOK}/alerts` });

    const state = tmp('ss-promalert-st-');
    chmodSync(state, 0o755);
    await startWatch(lab, ['--out', join(tmp('ss-promalert-out-'), 'out'), '--state-dir', join(state, 'state'),
      '--metrics-listen', `127.0.0.1:${METRICS}`, '--hold', '500ms', '--no-journal'], { journal: false });

    const d = tmp('ss-promalert-prom-');
    writeFileSync(join(d, 'slowshake.rules.yml'), shortenedRules(readFileSync(RULES, 'utf8')));
    writeFileSync(join(d, 'prometheus.yml'), [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      '  evaluation_interval: 1s',
      'rule_files:',
      '  - slowshake.rules.yml',
      'alerting:',
      '  alertmanagers:',
      '    - api_version: v2',
      '      static_configs:',
      `        - targets: ['127.0.0.1:${AM}']`,
      'scrape_configs:',
      '  - job_name: slowshake',
      '    static_configs:',
      `      - targets: ['127.0.0.1:${METRICS}']`,
      '',
    ].join('\n'));
    prom = lab.spawn('prometheus', 'server', PROMETHEUS, [`--config.file=${join(d, 'prometheus.yml')}`, `--storage.tsdb.path=${join(d, 'data')}`,
      `--web.listen-address=127.0.0.1:${PROM}`, '--log.level=warn']);
    await until('Prometheus ready', 30_000, () => {
      if (prom!.exit) throw new Error(`prometheus exited ${JSON.stringify(prom!.exit)}: ${prom!.stderr.slice(-800)}`);
      return get(`http://127.0.0.1:${PROM}/-/ready`) !== null;
    });
  });

  afterAll(async () => {
    for (const l of loops) l.running = false;
    await Promise.allSettled(loops.map((l) => l.done));
    await am?.stop();
    await lab?.destroy(); // Prometheus, the webhook, watch, the edge, the delay line: by PID, then the namespaces
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('fast clients only: Prometheus scrapes watch and the slow-ratio rules stay quiet above the volume guard', async () => {
    const fast = clients('fast', 'app.example', []);
    await until('Prometheus scraping watch (up == 1)', 20_000, () => query('up{job="slowshake"}').some((s) => s.value[1] === '1'));
    // Enough handshakes for the guard (0.2/s over the 15 s window), and well past `for: 3s`.
    await until('slowshake:handshakes:rate5m >= 0.5', 40_000, () => query('slowshake:handshakes:rate5m >= 0.5').length === 1);
    await sleep(8000);
    expect(fast.n).toBeGreaterThan(10);
    expect(query(`ALERTS{alertname=~"${ALERT}|${FLEET_ALERT}"}`)).toEqual([]);
    expect(ours(await am!.alerts(), ALERT)).toEqual([]);
    const ratio = query('slowshake:slow_ratio:rate5m{verdict="network"}');
    expect(ratio.map((s) => Number(s.value[1]))).toEqual([0]);
  });

  it('slow clients through the delay line: the edge and fleet slow-ratio alerts for verdict network reach Alertmanager with their labels', async () => {
    const slow = clients('slow', 'app.example', ['--local-port', SLOW_PORTS]);
    const firing = await am!.alertsUntil((a) => ours(a, ALERT).length === 1 && ours(a, FLEET_ALERT).length === 1, 90_000, `${ALERT} and ${FLEET_ALERT} for verdict network`);
    expect(slow.n).toBeGreaterThan(0);
    const [edge] = ours(firing, ALERT);
    expect(edge!.labels).toEqual({
      alertname: ALERT, instance: `127.0.0.1:${METRICS}`, job: 'slowshake', verdict: 'network', severity: 'warning', scope: 'edge',
    });
    expect(edge!.status.state).toBe('active');
    expect(edge!.annotations.summary).toMatch(new RegExp(`^127\\.0\\.0\\.1:${METRICS}: \\d+(\\.\\d+)?% of TLS handshakes slow with verdict network$`));
    expect(edge!.annotations.description).toContain('threshold 10 %');
    const [fleet] = ours(firing, FLEET_ALERT);
    expect(fleet!.labels).toEqual({ alertname: FLEET_ALERT, verdict: 'network', severity: 'critical', scope: 'fleet' });
    // No other verdict is slow: no slow-ratio alert for one.
    expect(firing.filter((a) => [ALERT, FLEET_ALERT].includes(a.labels.alertname!) && a.labels.verdict !== 'network')).toEqual([]);
    // Alertmanager notified its receiver (the webhook) of the firing alert.
    await until('the webhook got the firing alert', 30_000, () => webhookMessages().some((m) => m.status === 'firing' && m.alerts.some((a) => a.labels.alertname === ALERT)));
  });

  it('the slow clients stop: both alerts resolve (gone from GET /api/v2/alerts, resolved at the webhook)', async () => {
    const slow = loops[loops.length - 1]!;
    slow.running = false;
    await slow.done;
    await am!.alertsUntil((a) => ours(a, ALERT).length === 0 && ours(a, FLEET_ALERT).length === 0, 90_000, `${ALERT} and ${FLEET_ALERT} resolved`);
    await until('the webhook got both resolved', 30_000, () => {
      const resolved = webhookMessages().flatMap((m) => m.alerts).filter((a) => a.status === 'resolved' && a.labels.verdict === 'network');
      return resolved.some((a) => a.labels.alertname === ALERT && a.labels.instance === `127.0.0.1:${METRICS}`) && resolved.some((a) => a.labels.alertname === FLEET_ALERT);
    });
    // The fast clients still run: the ratio fell because the slow ones stopped, not the traffic.
    expect(query('slowshake:handshakes:rate5m >= 0.5')).toHaveLength(1);
  });

  it('every rule of the file is loaded and evaluates without error on the real series (no matching errors at run time)', () => {
    const body = get(`http://127.0.0.1:${PROM}/api/v1/rules`);
    expect(body).not.toBeNull();
    const groups = (JSON.parse(body!) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } }).data.groups;
    const rules = groups.flatMap((g) => g.rules);
    const shipped = [...readFileSync(RULES, 'utf8').matchAll(/^\s+- (?:record|alert): (\S+)$/gm)].map((m) => m[1]!);
    expect(rules.map((r) => r.name).sort()).toEqual(shipped.sort());
    expect(rules.filter((r) => r.health !== 'ok').map((r) => `${r.name}: ${r.health} ${r.lastError ?? ''}`)).toEqual([]);
  });

  it('every dashboard query is PromQL the real Prometheus accepts (Grafana variables filled in)', () => {
    interface P { title: string; targets?: { expr: string }[]; panels?: P[] }
    const d = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as { panels: P[] };
    const walk = (ps: P[]): P[] => ps.flatMap((p) => [p, ...walk(p.panels ?? [])]);
    const exprs = walk(d.panels).flatMap((p) => (p.targets ?? []).map((t) => ({ title: p.title, expr: t.expr })));
    expect(exprs.length).toBeGreaterThan(30);
    const rejected: string[] = [];
    for (const { title, expr } of exprs) {
      const q = expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m').replaceAll('$__range', '5m');
      if (get(`http://127.0.0.1:${PROM}/api/v1/query`, q) === null) rejected.push(`${title}: ${q}`);
    }
    expect(rejected).toEqual([]);
    // And they show what the test drove: the slow-ratio panel has the network verdict, the phase panel tcp_rtt.
    const panel = (title: string): string => exprs.find((e) => e.title === title)!.expr.replaceAll('$instance', '.*').replaceAll('$__rate_interval', '1m');
    expect(query(panel('Slow ratio by verdict')).some((s) => s.metric.verdict === 'network')).toBe(true);
    expect(query(panel('Phase p95 by phase')).some((s) => s.metric.phase === 'tcp_rtt' && Number(s.value[1]) > 0)).toBe(true);
  });
});
