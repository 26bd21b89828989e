/**
 * The fleet's files (issue 12, "For the fleet"): deploy/prometheus/slowshake.rules.yml passes
 * `promtool check rules` and its unit tests (`promtool test rules`), the unit tests can fail (a
 * copy of the rules with one threshold or guard changed per alert must fail them), and every
 * metric name and label the dashboard and the rules use is one a real `slowshake watch` exports
 * (or a recording rule of the file): checked against a real scrape of watch on a veth with real
 * TLS clients, fast and slow (server delay, network delay through the delay line), a labelled
 * client network and a failed evidence write, so the labelled series exist.
 *
 * Names the in-daemon alerting adds (src/alert/: slowshake_alerts_firing, …) are used by the
 * dashboard and the rules; until that work is in, the scrape lacks them and the scrape test
 * fails naming them.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers/cli.js';
import { EdgeLab } from '../helpers/edge.js';
import { ensureJournald, stockJournalPermissions, type JournaldHandle } from '../helpers/journald.js';
import { IS_ROOT, NEEDS_ROOT, run } from '../helpers/netns.js';
import { promqlUses, ruleEntries, scrapeLabels } from '../helpers/promql.js';
import { metric, promtool, scrapeUntil, startWatch, waitLines } from '../helpers/watch.js';

const RULES = join(ROOT, 'deploy/prometheus/slowshake.rules.yml');
const TESTS = join(ROOT, 'deploy/prometheus/slowshake.rules.test.yml');
const DASHBOARD = join(ROOT, 'deploy/grafana/slowshake-dashboard.json');
const PROMTOOL = '/usr/local/bin/promtool';

/** Labels Prometheus adds to every scraped series (the target's), and `up`, its own metric. */
const TARGET_LABELS = ['job', 'instance'];
const PROMETHEUS_METRICS = new Map([['up', new Set<string>()]]);

const dirs: string[] = [];
const tmp = (p: string): string => { const d = mkdtempSync(join(tmpdir(), p)); dirs.push(d); return d; };

function promtoolRun(args: string[], cwd?: string): { status: number | null; out: string } {
  const r = spawnSync(PROMTOOL, args, { encoding: 'utf8', cwd });
  if (r.error) throw new Error(`${PROMTOOL} (Debian package prometheus) must be installed: bash scripts/install.sh (${r.error.message})`);
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

interface Panel { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string; datasource?: { uid: string } }[]; panels?: Panel[] }
interface Dashboard { schemaVersion: number; panels: Panel[]; templating: { list: { name: string; type: string; query?: string | { query: string }; datasource?: { uid: string } }[] } }

const dashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

/** Every PromQL expression of the dashboard, named by its panel (rows' nested panels included). */
function dashboardExprs(d: Dashboard): { where: string; expr: string }[] {
  const out: { where: string; expr: string }[] = [];
  const walk = (ps: Panel[]): void => {
    for (const p of ps) {
      for (const t of p.targets ?? []) out.push({ where: `panel "${p.title}"`, expr: t.expr });
      walk(p.panels ?? []);
    }
  };
  walk(d.panels);
  return out;
}

/** `label_values(metric, label)` queries of the template variables, as metric and label. */
function variableLabels(d: Dashboard): { where: string; metric: string; label: string }[] {
  const out: { where: string; metric: string; label: string }[] = [];
  for (const v of d.templating.list) {
    if (v.type !== 'query') continue;
    const q = typeof v.query === 'string' ? v.query : v.query?.query ?? '';
    const m = /^label_values\(\s*([a-zA-Z_:][\w:]*)\s*,\s*([a-zA-Z_]\w*)\s*\)$/.exec(q.trim());
    if (!m) throw new Error(`variable ${v.name}: expected label_values(metric, label), got ${JSON.stringify(q)}`);
    out.push({ where: `variable ${v.name}`, metric: m[1]!, label: m[2]! });
  }
  return out;
}

/**
 * The names and labels `uses` has that `known` (metric → labels) lacks, as readable lines. A
 * grouping label must be a label of one of the expression's metrics (or a target label).
 */
function unknownUses(where: string, expr: string, known: Map<string, Set<string>>): string[] {
  const u = promqlUses(expr);
  const bad: string[] = [];
  const labelsOf = (m: string): Set<string> => new Set([...(known.get(m) ?? []), ...TARGET_LABELS]);
  for (const m of u.metrics) if (!known.has(m)) bad.push(`${where}: metric ${m} is not exported`);
  for (const { metric: m, label } of u.matchers) {
    if (m !== null && known.has(m) && !labelsOf(m).has(label)) bad.push(`${where}: ${m} has no label ${label}`);
  }
  const all = new Set(u.metrics.flatMap((m) => [...labelsOf(m)]));
  for (const l of u.grouping) if (!all.has(l) && !TARGET_LABELS.includes(l)) bad.push(`${where}: label ${l} (by/on) is on none of ${u.metrics.join(', ')}`);
  return bad;
}

/** Recording rules' names with their labels: a rule's `by (…)` labels, else those of the series it reads. */
function recordedLabels(exported: Map<string, Set<string>>): Map<string, Set<string>> {
  const known = new Map(exported);
  for (const r of ruleEntries(readFileSync(RULES, 'utf8')).filter((x) => x.kind === 'record')) {
    const u = promqlUses(r.expr);
    const labels = u.grouping.length > 0 && /\b(by|without)\s*\(/.test(r.expr)
      ? new Set(u.grouping)
      : new Set(u.metrics.flatMap((m) => [...(known.get(m) ?? [])]));
    known.set(r.name, labels);
  }
  return known;
}

describe('fleet rules: promtool', () => {
  afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

  it('promtool check rules accepts the rule file, and counts as many rules as the file has items', () => {
    const r = promtoolRun(['check', 'rules', RULES]);
    expect(r.status, r.out).toBe(0);
    const n = Number(/SUCCESS: (\d+) rules found/.exec(r.out)?.[1]);
    const entries = ruleEntries(readFileSync(RULES, 'utf8'));
    expect(entries.length).toBeGreaterThan(10);
    expect(n, r.out).toBe(entries.length); // the reader the scrape check relies on misses no rule
    for (const e of entries) expect(e.expr, e.name).not.toBe('');
  });

  it('promtool test rules passes the unit tests, which test every alert of the file', () => {
    const r = promtoolRun(['test', 'rules', TESTS]);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toMatch(/SUCCESS/);
    const tested = new Set([...readFileSync(TESTS, 'utf8').matchAll(/alertname:\s*(\S+)/g)].map((m) => m[1]!));
    const alerts = ruleEntries(readFileSync(RULES, 'utf8')).filter((e) => e.kind === 'alert').map((e) => e.name);
    expect(alerts.filter((a) => !tested.has(a))).toEqual([]);
  });

  // One change per alert to the threshold or the guard its tests pin down, each on a copy: the
  // unit tests must fail, naming that alert (the firing side: a threshold the inputs no longer
  // cross; the quiet side: a guard removed so an edge that must stay quiet fires).
  const MUTATIONS: [alert: string, from: string, to: string][] = [
    ['SlowshakeEdgeSlowRatioHigh', 'slowshake:slow_ratio:rate5m > 0.10', 'slowshake:slow_ratio:rate5m > 0.25'],
    ['SlowshakeEdgeSlowRatioHigh', 'slowshake:handshakes:rate5m >= 0.2', 'slowshake:handshakes:rate5m >= 0.1'],
    ['SlowshakeFleetSlowRatioHigh', 'slowshake:fleet_handshakes:rate5m >= 1', 'slowshake:fleet_handshakes:rate5m >= 0.1'],
    ['SlowshakeNetworkRTTRise', 'slowshake_network_phase_baseline_seconds) > 0.02', 'slowshake_network_phase_baseline_seconds) > 0.001'],
    ['SlowshakeFleetNetworkRTTRise', ') >= 2', ') >= 1'],
    ['SlowshakeCaptureDropping', '> 0.01', '> 0.0005'],
    ['SlowshakeFollowerOverruns', 'for: 10m', 'for: 30m'],
    ['SlowshakeRingReachLow', '(rate(slowshake_ring_overwrites_total[5m])) > 0', '(rate(slowshake_ring_overwrites_total[5m])) >= 0'],
    ['SlowshakeJournalLagHigh', '(rate(slowshake_journal_entries_total[5m])) > 0', '(rate(slowshake_journal_entries_total[5m])) >= 0'],
    ['SlowshakeEvidenceWriteFailures', '> 0', '> 1'],
    ['SlowshakeEvidenceDiskFull', 'for: 2m', 'for: 0m'],
    ['SlowshakeKernelFilterClassic', 'mode="classic"', 'mode="ebpf"'],
    ['SlowshakeWatchDown', 'up{job="slowshake"} == 0', 'up == 0'],
    ['SlowshakeAlertDeliveryFailing', 'outcome=~"dropped|failed"', 'outcome=~"dropped|failed|retried"'],
  ];
  it.each(MUTATIONS)('a copy of the rules with %s changed (%s → %s) fails the unit tests, naming it', (alert, from, to) => {
    const text = readFileSync(RULES, 'utf8');
    const start = text.indexOf(`- alert: ${alert}\n`);
    expect(start, alert).toBeGreaterThan(0);
    const next = text.indexOf('- alert: ', start + 1);
    const end = next < 0 ? text.length : next;
    const block = text.slice(start, end);
    expect(block, `${alert} has ${from}`).toContain(from);
    const d = tmp('ss-fleet-mut-');
    writeFileSync(join(d, 'slowshake.rules.yml'), text.slice(0, start) + block.replace(from, to) + text.slice(end));
    copyFileSync(TESTS, join(d, 'slowshake.rules.test.yml'));
    expect(promtoolRun(['check', 'rules', join(d, 'slowshake.rules.yml')]).status).toBe(0); // still valid rules
    const r = promtoolRun(['test', 'rules', 'slowshake.rules.test.yml'], d);
    expect(r.status, r.out).not.toBe(0);
    expect(r.out).toContain(`alertname: ${alert},`);
  });
});

describe('fleet dashboard: structure', () => {
  it('is Grafana JSON (schemaVersion 38) with its data source a ${DS_PROMETHEUS} variable and an instance variable, every query on that data source', () => {
    const d = dashboard();
    expect(d.schemaVersion).toBe(38);
    const vars = new Map(d.templating.list.map((v) => [v.name, v]));
    expect(vars.get('DS_PROMETHEUS')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    expect(vars.get('instance')).toMatchObject({ type: 'query', datasource: { uid: '${DS_PROMETHEUS}' } });
    const exprs = dashboardExprs(d);
    expect(exprs.length).toBeGreaterThan(30);
    const walk = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...walk(p.panels ?? [])]);
    for (const p of walk(d.panels).filter((x) => x.type !== 'row')) {
      expect(p.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource?.uid, p.title).toBe('${DS_PROMETHEUS}');
    }
    // Every query of a slowshake metric is limited to the selected edges.
    for (const { where, expr } of exprs) {
      for (const s of expr.matchAll(/\b(slowshake(?:_\w+|:[\w:]+))\s*\{([^}]*)\}/g)) {
        if (s[1]!.startsWith('slowshake:fleet_')) continue;
        expect(s[2], `${where}: ${s[1]}`).toContain('instance=~"$instance"');
      }
    }
  });

  it('has the panels the fleet needs (by their queries)', () => {
    const all = dashboardExprs(dashboard()).map((e) => e.expr).join('\n');
    for (const needle of [
      'rate(slowshake_handshakes_total', 'slowshake:slow_handshakes:rate5m', 'slowshake:fleet_slow_ratio:rate5m',
      'histogram_quantile(0.95, sum by (phase, le) (rate(slowshake_handshake_phase_seconds_bucket',
      'slowshake_slow_handshakes_by_network_total', 'slowshake_network_phase_median_seconds', 'slowshake_network_phase_baseline_seconds',
      'slowshake_capture_kernel_drops_total', 'slowshake_capture_interface_drops_total', 'slowshake_ring_reach_seconds',
      'slowshake_kernel_filter_mode', 'slowshake_follower_overruns_total', 'slowshake_evidence_bytes',
      'slowshake_evidence_write_failures_total', 'slowshake_evidence_disk_full', 'slowshake_alerts_firing',
      'slowshake_alert_notifications_total', 'slowshake_process_cpu_seconds_total', 'slowshake_process_resident_memory_bytes',
    ]) expect(all, needle).toContain(needle);
  });

  it('the identifier reader finds names, matchers and grouping labels (and skips functions, keywords, strings, ranges)', () => {
    expect(promqlUses('sum by (verdict) (rate(slowshake_handshakes_total{instance=~"$instance", slow="true"}[$__rate_interval])) / ignoring (verdict) group_left () sum(slowshake:handshakes:rate5m{instance=~"a|b{2}"}) > 0.5e1 offset 5m'))
      .toEqual({
        metrics: ['slowshake_handshakes_total', 'slowshake:handshakes:rate5m'],
        matchers: [{ metric: 'slowshake_handshakes_total', label: 'instance' }, { metric: 'slowshake_handshakes_total', label: 'slow' }, { metric: 'slowshake:handshakes:rate5m', label: 'instance' }],
        grouping: ['verdict', 'verdict'],
      });
    expect(promqlUses('histogram_quantile(0.95, sum by (phase, le) (rate(x_bucket[5m]))) and on (job) up{job="slowshake"} == 1 unless {mode="ebpf"}'))
      .toEqual({ metrics: ['x_bucket', 'up'], matchers: [{ metric: 'up', label: 'job' }, { metric: null, label: 'mode' }], grouping: ['phase', 'le', 'job'] });
    const known = new Map([['a_total', new Set(['verdict'])]]);
    expect(unknownUses('t', 'sum by (network) (rate(a_total{verdict="x", phase="y"}[1m])) + b', known))
      .toEqual(['t: metric b is not exported', 't: a_total has no label phase', 't: label network (by/on) is on none of a_total, b']);
  });
});

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'fleet dashboard and rules against a real scrape' : `fleet dashboard and rules against a real scrape (skipped: ${NEEDS_ROOT})`, () => {
  const PORT = 8443; // the edge logs nothing to the journal: watch finds the slow handshakes itself
  const METRICS = 19495;
  const SLOW_NET = 100; // ms each way on the delay line: RTT +200 ms
  let jd: JournaldHandle | undefined;
  let lab: EdgeLab | undefined;
  const mounts: string[] = [];
  let scraped = '';

  beforeAll(async () => {
    jd = await ensureJournald();
    stockJournalPermissions();
    lab = new EdgeLab('fr');
    await lab.startEdge(`ss-fleet-${process.pid}`, PORT, { 'slow-server.example': 300 }, 60_000);
  });

  afterAll(async () => {
    await lab?.destroy();
    await jd?.stop();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function curl(sni: string, clientPort: number): Promise<void> {
    const c = lab!.curl(sni, PORT, clientPort);
    const e = await c.wait(30_000);
    expect(e.code, c.stderr).toBe(0);
    expect(c.stdout).toBe('200');
  }

  it('a watch driven with fast, server-slow and network-slow clients, a labelled network and a failed write exports the labelled series', async () => {
    // Evidence on a 256 KiB tmpfs: written normally at first, then the disk is filled for one
    // slow flow (a write failure with its cause), then space is given back.
    const mnt = tmp('ss-fleet-out-');
    run('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0755', 'tmpfs', mnt]);
    mounts.push(mnt);
    const state = tmp('ss-fleet-st-');
    chmodSync(state, 0o755);
    // Alerting on, so its series exist: an Alertmanager URL (nothing listens: failed attempts are
    // series too), evaluation every 500 ms (baselines learned within the test), and a per-network
    // rule that fires on the first slow handshake and widens capture for the network (adaptive).
    const conf = join(state, 'slowshake.toml');
    writeFileSync(conf, ['[alerts]', 'alertmanagers = ["http://127.0.0.1:19999"]', 'evaluate_every = "500ms"', 'default_rules = false', 'adaptive_duration = "10m"', '',
      '[[alerts.rule]]', 'name = "slow_net"', 'kind = "rate"', 'per_network = true', 'per_minute = 0.01', 'window = "1m"', 'for = "0s"', 'adaptive = true', ''].join('\n'));
    const w = await startWatch(lab!, ['--config', conf, '--identifier', `ss-fleet-${process.pid}-none`, '--out', join(mnt, 'out'), '--state-dir', join(state, 'state'),
      '--metrics-listen', `127.0.0.1:${METRICS}`, '--hold', '500ms', '--no-journal'], { journal: false, env: { SLOWSHAKE_NETWORK_REBALANCE: '1s' } });

    for (const p of [42001, 42002, 42003]) await curl('app.example', p);
    for (const p of [42011, 42012]) await curl('slow-server.example', p);
    for (const p of [42021, 42022]) {
      const dl = await lab!.delayPort(p, SLOW_NET);
      await curl('app.example', p);
      await dl.stop();
    }
    await waitLines(w, 4, 15_000);
    // The rebalance gives the client network a label; a slow handshake counts under it.
    await scrapeUntil(lab!, METRICS, (t) => t.includes('slowshake_slow_handshakes_by_network_total{network="198.51.100.0/24"'), 10_000, 'a label for 198.51.100.0/24');
    await curl('slow-server.example', 42013);
    // A full disk: the next slow flow's evidence fails with ENOSPC.
    const filler = join(mnt, 'fill');
    spawnSync('sh', ['-c', `head -c 10000000 /dev/zero > ${filler}`]);
    expect(statSync(filler).size).toBeGreaterThan(64 * 1024);
    await curl('slow-server.example', 42014);
    scraped = await scrapeUntil(lab!, METRICS, (t) => metric(t, 'slowshake_evidence_write_failures_by_cause_total', { cause: 'ENOSPC' }) >= 1
      && metric(t, 'slowshake_slow_handshakes_by_network_total', { network: '198.51.100.0/24' }) >= 2
      && t.includes('slowshake_network_phase_baseline_seconds{network="198.51.100.0/24"') && t.includes('slowshake_adaptive_capture_active{network="198.51.100.0/24"}'),
    20_000, 'a failed write, the labelled network, its baseline and its adaptive capture');
    unlinkSync(filler);
    expect(promtool(scraped)).toEqual({ status: 0, out: '' });
    expect(metric(scraped, 'slowshake_handshakes_total', { slow: 'true', verdict: 'network' })).toBe(2);
    expect(metric(scraped, 'slowshake_handshakes_total', { slow: 'true', verdict: 'server' })).toBe(4);
    expect(metric(scraped, 'slowshake_handshakes_total', { slow: 'false' })).toBe(3);
    expect(metric(scraped, 'slowshake_handshake_phase_seconds_count', { phase: 'tcp_rtt' })).toBe(9);
    const e = await w.stop('SIGTERM', 8000);
    expect(e.code, w.stderr).toBe(0);
  });

  it('every metric name and label of every dashboard query, variable and rule is in that scrape (or is a recording rule of the file)', () => {
    expect(scraped, 'the scrape of the test before').not.toBe('');
    const exported = scrapeLabels(scraped);
    for (const [m, l] of PROMETHEUS_METRICS) exported.set(m, l);
    const known = recordedLabels(exported);
    const d = dashboard();
    const bad: string[] = [];
    for (const { where, expr } of dashboardExprs(d)) bad.push(...unknownUses(where, expr, known));
    for (const { where, metric: m, label } of variableLabels(d)) {
      if (!exported.has(m)) bad.push(`${where}: metric ${m} is not exported`);
      else if (!TARGET_LABELS.includes(label) && !exported.get(m)!.has(label)) bad.push(`${where}: ${m} has no label ${label}`);
    }
    for (const r of ruleEntries(readFileSync(RULES, 'utf8'))) bad.push(...unknownUses(`rule ${r.name}`, r.expr, known));
    const missing = [...new Set(bad.map((b) => /metric (\S+) is not exported/.exec(b)?.[1]).filter((x): x is string => x !== undefined))].sort();
    expect(bad, `metrics the daemon does not export (yet): ${missing.join(', ') || 'none'}`).toEqual([]);
  });
});
