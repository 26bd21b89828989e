/**
 * watch's alerting end to end on real parts (issue 12 "Tests (real parts)"): a veth between two
 * namespaces, the demo's TLS edge, real clients (curl), network delay from the NFQUEUE delay line,
 * watch on the server's veth, and a real Alertmanager (Debian's, on the server namespace's
 * loopback) whose own webhook receiver — a small HTTP server in the same namespace — shows what
 * Alertmanager notified, resolves included. watch's generic webhook sink posts to that receiver
 * too.
 *
 * Rule timings are shortened in the config files below (window seconds, `for` 1 s, evaluation
 * every 500 ms); the shipped rules are off (default_rules = false) so only the rule under test
 * can fire.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAlertmanager, type Alertmanager, type AmAlert } from '../helpers/alertmanager.js';
import { CLIENT_IP, DELAYLINE, EdgeLab, ensureDelayline } from '../helpers/edge.js';
import { IS_ROOT, NEEDS_ROOT, run, sleep, type Proc } from '../helpers/netns.js';
import { until } from '../helpers/wait.js';
import { metric, scrape, scrapeUntil, startWatch } from '../helpers/watch.js';
import { DEFAULT_RULES } from '../../src/alert/rules.js';

const PORT = 8443;
const AM_PORT = 19093;
const HOOK_PORT = 19099;
const NET_B = '198.51.100.0/24'; // the EdgeLab client's network
const IP_A = '192.0.2.10'; // a second client network, added by the baseline test
const NET_A = '192.0.2.0/24';
const dirs: string[] = [];
const tmp = (p: string): string => { const d = mkdtempSync(join(tmpdir(), p)); chmodSync(d, 0o755); dirs.push(d); return d; };

/** A webhook receiver inside a namespace: prints each POST as one JSON line {path, body}. */
const RECEIVER = `
const http = require('node:http');
http.createServer((req, res) => {
  let b = '';
  req.on('data', (d) => { b += d; });
  req.on('end', () => { process.stdout.write(JSON.stringify({ path: req.url, body: JSON.parse(b || 'null') }) + '\\n'); res.end('ok'); });
}).listen(Number(process.argv[1]), '127.0.0.1', () => process.stderr.write('receiver ready\\n'));
`;

/** A listener that accepts connections and never answers: a hung Alertmanager. */
const BLACKHOLE = `
const net = require('node:net');
const held = [];
net.createServer((s) => { held.push(s); s.on('error', () => {}); }).listen(Number(process.argv[1]), '127.0.0.1', () => process.stderr.write('blackhole ready\\n'));
`;

interface Hook { path: string; body: { status?: string; alerts: (AmAlert & { status: string | { state: string } })[] } | AmAlert[] }

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'watch alerting with a real Alertmanager' : `watch alerting (skipped: ${NEEDS_ROOT})`, () => {
  let lab: EdgeLab | undefined;
  let am: Alertmanager | undefined;
  let receiver: Proc | undefined;
  const ident = `ss-alert-${process.pid}`;

  beforeAll(async () => {
    ensureDelayline();
    lab = new EdgeLab('al');
    await lab.startEdge(ident, PORT, {}, 60_000);
    receiver = lab.spawn('receiver', 'server', process.execPath, ['-e', RECEIVER, String(HOOK_PORT)]);
    await receiver.waitFor(/receiver ready/, 10_000, 'stderr');
  }, 60_000);

  afterAll(async () => {
    await am?.stop();
    await lab?.destroy();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  const hooks = (path: string): Hook[] => receiver!.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Hook).filter((h) => h.path === path);

  async function curl(clientPort: number | null, extra: string[] = [], path = '/'): Promise<void> {
    const c = lab!.curl('app.example', PORT, clientPort, path, extra);
    const e = await c.wait(30_000);
    expect(e.code, c.stderr).toBe(0);
  }

  /** Delays both directions of the client traffic matched by `match` (iptables words) by `ms`. */
  async function delay(queue: number, out: string[], inn: string[], ms: number): Promise<Proc> {
    run('ip', ['netns', 'exec', lab!.nsClient, 'iptables', '-A', 'OUTPUT', '-p', 'tcp', ...out, '-j', 'NFQUEUE', '--queue-num', String(queue)]);
    run('ip', ['netns', 'exec', lab!.nsClient, 'iptables', '-A', 'INPUT', '-p', 'tcp', ...inn, '-j', 'NFQUEUE', '--queue-num', String(queue)]);
    const p = lab!.spawn(`delayline q${queue}`, 'client', DELAYLINE, ['--queue', String(queue), '--delay-ms', String(ms)]);
    await p.waitFor(/ready/, 10_000, 'stderr');
    return p;
  }

  function undelay(queue: number, out: string[], inn: string[]): void {
    run('ip', ['netns', 'exec', lab!.nsClient, 'iptables', '-D', 'OUTPUT', '-p', 'tcp', ...out, '-j', 'NFQUEUE', '--queue-num', String(queue)]);
    run('ip', ['netns', 'exec', lab!.nsClient, 'iptables', '-D', 'INPUT', '-p', 'tcp', ...inn, '-j', 'NFQUEUE', '--queue-num', String(queue)]);
  }

  it('a per-network rate rule fires in Alertmanager with its labels, counts, median phases and pcap paths, is re-sent while it fires, and resolves when the slow clients stop', async () => {
    am = await startAlertmanager({ port: AM_PORT, netns: lab!.nsServer, webhook: `http://127.0.0.1:${HOOK_PORT}/am` });
    const d = tmp('ss-alert1-');
    const out = join(d, 'out');
    const file = join(d, 'slowshake.toml');
    writeFileSync(file, [
      '[alerts]', `alertmanagers = ["http://127.0.0.1:${AM_PORT}"]`, `webhooks = ["http://127.0.0.1:${HOOK_PORT}/watch"]`, 'host = "edge-test-1"',
      'evaluate_every = "500ms"', 'resend_every = "2s"', 'default_rules = false', '',
      '[[alerts.rule]]', 'name = "slow_network_from_network"', 'kind = "rate"', 'verdict = "network"', 'per_network = true',
      'per_minute = 6', 'window = "15s"', 'for = "1s"', 'severity = "critical"', 'labels = { team = "edge" }', 'adaptive = false', '',
    ].join('\n'));
    const w = await startWatch(lab!, ['--config', file, '--no-journal', '--out', out, '--state-dir', join(d, 'state'), '--metrics-listen', '127.0.0.1:19470'], { journal: false });
    expect(w.stderr).toMatch(/^Watching .*; 1 alert rules to Alertmanager http:\/\/127\.0\.0\.1:19093, webhook http:\/\/127\.0\.0\.1:19099\/watch$/m);

    // Fast handshakes do not count; four slow ones (100 ms each way) from one network do: > 6/min over 15 s.
    for (let i = 0; i < 3; i++) await curl(null);
    const q = await delay(1, ['--sport', '41201:41210'], ['--dport', '41201:41210'], 100);
    for (let port = 41201; port <= 41204; port++) await curl(port);
    await q.stop();
    undelay(1, ['--sport', '41201:41210'], ['--dport', '41201:41210']);

    // It fires before the evidence is written (a hold after each handshake); the example pcaps
    // follow in a notification of their own as soon as they exist.
    const fired = await am.alertsUntil((a) => a.some((x) => x.labels.rule === 'slow_network_from_network' && (x.annotations.pcaps ?? '').split(' ').length === 3 && x.annotations.count === '4'), 20_000, 'the rate alert with its pcaps');
    const alert = fired.find((x) => x.labels.rule === 'slow_network_from_network')!;
    expect(alert.labels).toEqual({
      alertname: 'SlowshakeSlowNetworkFromNetwork', host: 'edge-test-1', rule: 'slow_network_from_network', severity: 'critical',
      verdict: 'network', network: NET_B, team: 'edge',
    });
    expect(Number(alert.annotations.count)).toBe(4);
    expect(alert.annotations.summary).toMatch(new RegExp(`^4 slow handshakes with verdict network from ${NET_B.replace(/\./g, '\\.').replace('/', '\\/')} on edge-test-1 in the last 15s \\(16\\.0/min, threshold 6/min\\)$`));
    expect(alert.annotations.median_phases_ms).toMatch(/tcp_rtt \d+/);
    // Up to three example flows, each with its pcap, which exists.
    const examples = [alert.annotations.example_1, alert.annotations.example_2, alert.annotations.example_3];
    expect(examples.every((e) => e !== undefined && new RegExp(`^${CLIENT_IP}:4120[1-4] -> 203\\.0\\.113\\.1:${PORT} \\(app\\.example\\): \\d+ ms, verdict network, pcap /`).test(e))).toBe(true);
    expect(alert.annotations.example_4).toBeUndefined();
    const pcaps = alert.annotations.pcaps!.split(' ');
    expect(pcaps).toHaveLength(3);
    for (const p of pcaps) expect(existsSync(p), p).toBe(true);
    expect(new Date(alert.endsAt).getTime()).toBeGreaterThan(Date.now()); // firing: endsAt ahead (4 re-send intervals)

    // Alertmanager notified its receiver; watch's own webhook got the same alert, re-sent while it fires.
    await until(() => hooks('/am').some((h) => (h.body as { status: string }).status === 'firing'), 15_000);
    await until(() => hooks('/watch').filter((h) => (h.body as { status: string }).status === 'firing').length >= 2, 15_000);
    const wh = hooks('/watch')[0]!.body as { status: string; host: string; alerts: { status: string; labels: Record<string, string> }[] };
    expect(wh).toMatchObject({ status: 'firing', host: 'edge-test-1' });
    expect(wh.alerts[0]!.labels.network).toBe(NET_B);
    let t = await scrape(lab!, 19470);
    expect(metric(t, 'slowshake_alerts_firing', { rule: 'slow_network_from_network' })).toBe(1);
    expect(metric(t, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19093', outcome: 'sent' })).toBeGreaterThanOrEqual(1);
    expect(metric(t, 'slowshake_alert_notifications_total', { outcome: 'failed' })).toBe(0);

    // The slow clients stopped: once the window has passed, the alert resolves (endsAt now):
    // gone from Alertmanager's active alerts, "resolved" through its receiver and watch's webhook.
    await am.alertsUntil((a) => !a.some((x) => x.labels.rule === 'slow_network_from_network'), 30_000, 'the alert resolved');
    await until(() => hooks('/am').some((h) => (h.body as { status: string }).status === 'resolved'), 15_000);
    await until(() => hooks('/watch').some((h) => (h.body as { status: string }).status === 'resolved'), 5000);
    t = await scrapeUntil(lab!, 19470, (x) => metric(x, 'slowshake_alerts_firing', { rule: 'slow_network_from_network' }) === 0, 5000, 'firing back to 0');
    const logs = w.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
    // Fired once (at the second or a later slow handshake, as the load lets the evaluation see them), resolved once.
    expect(logs.filter((m) => /^Alert SlowshakeSlowNetworkFromNetwork firing: [2-4] slow handshakes with verdict network/.test(m))).toHaveLength(1);
    expect(logs.filter((m) => m.startsWith('Alert SlowshakeSlowNetworkFromNetwork resolved after'))).toHaveLength(1);
    const e = await w.stop('SIGTERM', 8000);
    expect(e.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/^Alerts: 1 fired, 1 resolved, 0 firing at stop; 127\.0\.0\.1:19093: \d+ sent, 0 failed attempts, 0 dropped, 0 queued; webhook 127\.0\.0\.1:19099\/watch: \d+ sent/m);
    await am.stop();
    am = undefined;
  }, 120_000);

  it('an Alertmanager that is down, and one that hangs: capture goes on, failures are counted and said once, the queue bound drops the oldest (counted), and what is queued is delivered once it is up', async () => {
    await am?.stop(); // down: none left running by a test before (also when that one failed)
    am = undefined;
    const d = tmp('ss-alert2-');
    const file = join(d, 'slowshake.toml');
    const hole = lab!.spawn('blackhole', 'server', process.execPath, ['-e', BLACKHOLE, '19095']);
    await hole.waitFor(/blackhole ready/, 10_000, 'stderr');
    // Four rules that each fire on the first slow handshake: four alerts for a queue of two (no
    // re-send within the test: a re-send of all four would cycle through the queue again).
    const rules = [1, 2, 3, 4].flatMap((i) => ['[[alerts.rule]]', `name = "any_slow_${i}"`, 'kind = "rate"', 'per_minute = 0.01', 'window = "1m"', 'for = "0s"', '']);
    writeFileSync(file, [
      '[alerts]', `alertmanagers = ["http://127.0.0.1:${AM_PORT}", "http://127.0.0.1:19095"]`, 'evaluate_every = "500ms"', 'resend_every = "10m"',
      'timeout = "1s"', 'queue = 2', 'default_rules = false',
      'examples = 0', // no example pcaps: no early re-send when the evidence is written
      '', ...rules,
    ].join('\n'));
    const w = await startWatch(lab!, ['--config', file, '--no-journal', '--out', join(d, 'out'), '--state-dir', join(d, 'state'), '--metrics-listen', '127.0.0.1:19471'], { journal: false });
    const q = await delay(2, ['--sport', '41301:41310'], ['--dport', '41301:41310'], 100);
    await curl(41301);
    await q.stop();
    undelay(2, ['--sport', '41301:41310'], ['--dport', '41301:41310']);
    // Both sinks fail (refused; no answer within 1 s): counted, and the oldest two alerts dropped per sink.
    let t = await scrapeUntil(lab!, 19471, (x) => metric(x, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19093', outcome: 'failed' }) >= 1 &&
      metric(x, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19095', outcome: 'failed' }) >= 1, 20_000, 'failed attempts on both sinks');
    expect(metric(t, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19093', outcome: 'dropped' })).toBe(2);
    expect(metric(t, 'slowshake_alert_queue_length', { sink: '127.0.0.1:19093' })).toBe(2);
    // Capture is not held up: ten more handshakes are measured at once while delivery keeps failing.
    const before = metric(t, 'slowshake_handshakes_total');
    const t0 = Date.now();
    for (let i = 0; i < 10; i++) await curl(null);
    t = await scrapeUntil(lab!, 19471, (x) => metric(x, 'slowshake_handshakes_total') >= before + 10, 10_000, 'handshakes while Alertmanager is down');
    console.log(`10 handshakes measured in ${Date.now() - t0} ms while both Alertmanagers failed`);
    const said = w.stderr.split('\n').filter((l) => l.includes('Alert delivery to 127.0.0.1:19093 failed'));
    expect(said).toHaveLength(1);
    expect(JSON.parse(said[0]!).msg).toMatch(/^Alert delivery to 127\.0\.0\.1:19093 failed \(ECONNREFUSED\); retrying with backoff, 2 alerts queued \(at most 2\)\.$/);
    expect(w.stderr).toMatch(/Alert delivery to 127\.0\.0\.1:19095 failed \(no answer within 1000 ms\)/);

    // Alertmanager comes up: the two queued alerts arrive with the next retry (backoff at most
    // 60 s); the two dropped beyond the bound do not.
    am = await startAlertmanager({ port: AM_PORT, netns: lab!.nsServer });
    const got = await am.alertsUntil((a) => a.filter((x) => /^any_slow_/.test(x.labels.rule ?? '')).length === 2, 70_000, 'the two queued alerts');
    expect(got.map((a) => a.labels.rule).sort()).toEqual(['any_slow_3', 'any_slow_4']);
    t = await scrapeUntil(lab!, 19471, (x) => metric(x, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19093', outcome: 'sent' }) === 2, 5000, 'two sent');
    expect(metric(t, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19093', outcome: 'dropped' })).toBe(2);
    expect(metric(t, 'slowshake_alert_queue_length', { sink: '127.0.0.1:19093' })).toBe(0);
    await until(() => /Alert delivery to 127\.0\.0\.1:19093 works again after \d+ failed attempts/.test(w.stderr), 5000);
    // The hung one is still failing, by timeout, and holds no more than its bound.
    expect(metric(t, 'slowshake_alert_queue_length', { sink: '127.0.0.1:19095' })).toBe(2);
    expect(metric(t, 'slowshake_alert_notifications_total', { sink: '127.0.0.1:19095', outcome: 'sent' })).toBe(0);
    const t1 = Date.now();
    const e = await w.stop('SIGTERM', 8000);
    expect(e.code, w.stderr).toBe(0);
    // The stop deadline holds with a hung sink: the 5 s contract (queued alerts get until 4 s after
    // the signal), with a second of slack for a loaded machine. Not a speed figure.
    expect(Date.now() - t1).toBeLessThan(6000);
    await hole.stop();
    await am.stop();
    am = undefined;
  }, 150_000);

  it('baseline: a network whose tcp_rtt rises after a calm period fires the baseline rule; one that was always slow does not; the baselines survive a restart', async () => {
    await am?.stop();
    am = undefined;
    // A second client network: 192.0.2.10 on the client veth, routed back from the server.
    run('ip', ['-n', lab!.nsClient, 'addr', 'add', `${IP_A}/24`, 'dev', lab!.devClient]);
    run('ip', ['-n', lab!.nsServer, 'route', 'add', NET_A, 'dev', lab!.devServer]);
    run('ip', ['-n', lab!.nsClient, 'route', 'replace', '203.0.113.0/24', 'dev', lab!.devClient]);
    am = await startAlertmanager({ port: AM_PORT, netns: lab!.nsServer });
    const d = tmp('ss-alert3-');
    const state = join(d, 'state');
    const file = join(d, 'slowshake.toml');
    writeFileSync(file, [
      '[alerts]', `alertmanagers = ["http://127.0.0.1:${AM_PORT}"]`, 'evaluate_every = "500ms"', 'resend_every = "2s"', 'default_rules = false',
      'baseline_half_life = "2m"', 'baseline_warmup = "3s"', '',
      '[[alerts.rule]]', 'name = "rtt_rise"', 'kind = "baseline"', 'phase = "tcp_rtt"', 'rise_percent = 100', 'min_rise = "20ms"', 'window = "3s"',
      'min_samples = 3', 'for = "1s"', 'adaptive = false', '',
    ].join('\n'));
    const args = ['--config', file, '--no-journal', '--out', join(d, 'out'), '--state-dir', state, '--metrics-listen', '127.0.0.1:19472'];
    const w = await startWatch(lab!, args, { journal: false });
    // Network A is slow from the start (60 ms each way); B is fast. Handshakes from both, alternating.
    const qa = await delay(3, ['-s', IP_A, '--dport', String(PORT)], ['-d', IP_A, '--sport', String(PORT)], 60);
    const both = async (rounds: number): Promise<void> => { for (let i = 0; i < rounds; i++) { await curl(null, ['--interface', IP_A]); await curl(null); } };
    const calmEnd = Date.now() + 7000;
    while (Date.now() < calmEnd) await both(1);
    let t = await scrape(lab!, 19472);
    const baseA = metric(t, 'slowshake_network_phase_baseline_seconds', { network: NET_A, phase: 'tcp_rtt' });
    const baseB = metric(t, 'slowshake_network_phase_baseline_seconds', { network: NET_B, phase: 'tcp_rtt' });
    expect(baseA).toBeGreaterThan(0.1); // ~120 ms
    expect(baseB).toBeLessThan(0.01);
    expect((await am.alerts()).filter((a) => a.labels.rule === 'rtt_rise')).toEqual([]);

    // B's round trip rises by 120 ms: its median over 3 s is far above its baseline.
    const qb = await delay(4, ['-s', CLIENT_IP, '--dport', String(PORT)], ['-d', CLIENT_IP, '--sport', String(PORT)], 60);
    const riseEnd = Date.now() + 30_000;
    let fired: AmAlert[] = [];
    while (Date.now() < riseEnd) {
      await both(1);
      fired = (await am.alerts()).filter((a) => a.labels.rule === 'rtt_rise');
      if (fired.length > 0) break;
    }
    expect(fired.map((a) => a.labels)).toEqual([{ alertname: 'SlowshakeRttRise', host: expect.any(String), rule: 'rtt_rise', severity: 'warning', network: NET_B, phase: 'tcp_rtt' }]);
    expect(Number(fired[0]!.annotations.baseline_ms)).toBeLessThan(10);
    expect(Number(fired[0]!.annotations.median_ms)).toBeGreaterThan(100);
    await both(3);
    expect((await am.alerts()).filter((a) => a.labels.rule === 'rtt_rise' && a.labels.network === NET_A)).toEqual([]);
    await qa.stop();
    await qb.stop();
    undelay(3, ['-s', IP_A, '--dport', String(PORT)], ['-d', IP_A, '--sport', String(PORT)]);
    undelay(4, ['-s', CLIENT_IP, '--dport', String(PORT)], ['-d', CLIENT_IP, '--sport', String(PORT)]);
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);

    // Saved in the state directory (0600), and restored by the next watch.
    const saved = JSON.parse(readFileSync(join(state, 'baselines.json'), 'utf8')) as { version: number; networks: Record<string, { tcp_rtt?: { baseline_ms: number } }> };
    expect(saved.version).toBe(1);
    expect(saved.networks[NET_A]!.tcp_rtt!.baseline_ms).toBeGreaterThan(100);
    const w2 = await startWatch(lab!, args, { journal: false, name: 'watch again' });
    await until(() => /Baselines of 2 client networks restored from/.test(w2.stderr), 5000);
    t = await scrapeUntil(lab!, 19472, (x) => metric(x, 'slowshake_network_phase_baseline_seconds', { network: NET_A, phase: 'tcp_rtt' }) > 0.1, 5000, 'restored baseline');
    expect((await w2.stop('SIGTERM', 8000)).code).toBe(0);
    await am.stop();
    am = undefined;
    await sleep(0);
  }, 150_000);

  it('adaptive evidence: when a per-network alert fires, the kernel filter passes full packets for that network (a slow download\'s pcap then holds what followed), and switches back by itself after its time', async () => {
    const d = tmp('ss-alert4-');
    const out = join(d, 'out');
    const file = join(d, 'slowshake.toml');
    writeFileSync(file, [
      '[alerts]', 'evaluate_every = "250ms"', 'default_rules = false', 'adaptive_duration = "5s"', 'adaptive_bytes = "64MiB"', '',
      '[[alerts.rule]]', 'name = "slow_net"', 'kind = "rate"', 'verdict = "network"', 'per_network = true', 'per_minute = 0.01', 'window = "1m"', 'for = "0s"', '',
    ].join('\n'));
    const w = await startWatch(lab!, ['--config', file, '--no-journal', '--out', out, '--state-dir', join(d, 'state'), '--metrics-listen', '127.0.0.1:19473'], { journal: false });
    expect(w.stderr).toMatch(/kernel filter ebpf/);
    const packets = async (): Promise<number> => metric(await scrape(lab!, 19473), 'slowshake_capture_packets_total');
    /** Packets captured while `f` runs (watch publishes once a second). */
    const during = async (f: () => Promise<void>): Promise<number> => {
      await sleep(1100);
      const before = await packets();
      await f();
      await sleep(1100);
      return (await packets()) - before;
    };
    const BULK = '/bytes/3000000';
    // Handshakes only: a 3 MB download passes a few dozen packets.
    const narrow1 = await during(() => curl(null, [], BULK));

    // A slow (network) download sets the alert off; the widening starts while it runs.
    const q = await delay(5, ['--sport', '41401:41410'], ['--dport', '41401:41410'], 50);
    await curl(41401, [], '/bytes/300000');
    await until(() => /Adaptive capture on for 198\.51\.100\.0\/24 \(alert SlowshakeSlowNet\)/.test(w.stderr), 15_000);
    let t = await scrape(lab!, 19473);
    expect(metric(t, 'slowshake_adaptive_capture_active', { network: NET_B })).toBe(1);
    expect(metric(t, 'slowshake_adaptive_capture_switches_total', { direction: 'on' })).toBe(1);
    // Widened: the next slow download from that network gets a pcap with all of it, and bulk passes.
    await curl(41402, [], '/bytes/300000');
    const wide = await during(() => curl(null, [], BULK));
    const pcapOf = async (port: number): Promise<number> => {
      for (const end = Date.now() + 15_000; Date.now() < end; await sleep(200)) {
        const l = w.stdout.split('\n').find((x) => x.includes(`"client":"${CLIENT_IP}:${port}"`));
        if (l) return run('tshark', ['-r', (JSON.parse(l) as { pcap: string }).pcap, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
      }
      throw new Error(`no record for port ${port}`);
    };
    const widePcap = await pcapOf(41402);

    // 5 s after it switched on, it switches off by itself (the alert still fires, and does not widen again).
    await until(() => /Adaptive capture off for 198\.51\.100\.0\/24: its time \(\S+\) ran out/.test(w.stderr), 15_000);
    t = await scrapeUntil(lab!, 19473, (x) => metric(x, 'slowshake_adaptive_capture_switches_total', { direction: 'off' }) === 1, 5000, 'switched off');
    expect(t).not.toContain('slowshake_adaptive_capture_active{network=');
    expect(metric(t, 'slowshake_alerts_firing', { rule: 'slow_net' })).toBe(1);
    expect(metric(t, 'slowshake_adaptive_capture_bytes_total')).toBeGreaterThan(3_000_000);
    // Back to handshakes only: the same slow download's pcap is the handshake and a short tail; bulk is dropped.
    await curl(41403, [], '/bytes/300000');
    const narrowPcap = await pcapOf(41403);
    const narrow2 = await during(() => curl(null, [], BULK));
    await q.stop();
    undelay(5, ['--sport', '41401:41410'], ['--dport', '41401:41410']);
    console.log(`adaptive: 3 MB download: ${narrow1} packets captured before, ${wide} widened, ${narrow2} after; slow 300 kB download's pcap: ${widePcap} packets widened, ${narrowPcap} after`);
    expect(narrow1).toBeLessThan(200);
    expect(wide).toBeGreaterThan(1500);
    expect(narrow2).toBeLessThan(200);
    expect(widePcap).toBeGreaterThan(250); // 300 kB is 200+ full-size segments, plus ACKs
    expect(narrowPcap).toBeLessThan(widePcap / 2);
    expect(w.stderr.match(/Adaptive capture on for/g)).toHaveLength(1);
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);
  }, 120_000);

  it('with no config file, watch -i IFACE --alertmanager URL runs the shipped rules against that Alertmanager', async () => {
    const d = tmp('ss-alert5-');
    const w = await startWatch(lab!, ['--alertmanager', `http://127.0.0.1:${AM_PORT}`, '--no-journal', '--out', join(d, 'out'), '--state-dir', join(d, 'state'), '--metrics-listen', '127.0.0.1:19474'], { journal: false });
    expect(w.stderr).toMatch(new RegExp(`; ${DEFAULT_RULES.length} alert rules to Alertmanager http://127\\.0\\.0\\.1:${AM_PORT}$`, 'm'));
    const t = await scrapeUntil(lab!, 19474, (x) => x.includes('slowshake_alerts_firing{'), 5000, 'the rules\' series');
    for (const r of DEFAULT_RULES) expect(metric(t, 'slowshake_alerts_firing', { rule: r.name, severity: r.severity }), r.name).toBe(0);
    expect(t).toContain(`slowshake_alert_queue_length{sink="127.0.0.1:${AM_PORT}"} 0`);
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);
  }, 60_000);

  it('SIGHUP applies changed rules live: a removed rule\'s firing alert resolves, a new rule fires on what the window holds', async () => {
    const d = tmp('ss-alert6-');
    const file = join(d, 'slowshake.toml');
    const conf = (name: string): string => ['[alerts]', 'evaluate_every = "250ms"', 'default_rules = false', '',
      '[[alerts.rule]]', `name = "${name}"`, 'kind = "rate"', 'per_minute = 0.01', 'window = "5m"', 'for = "0s"', 'adaptive = false', ''].join('\n');
    writeFileSync(file, conf('before_reload'));
    const w = await startWatch(lab!, ['--config', file, '--no-journal', '--out', join(d, 'out'), '--state-dir', join(d, 'state'), '--metrics-listen', '127.0.0.1:19475'], { journal: false });
    const q = await delay(6, ['--sport', '41501:41510'], ['--dport', '41501:41510'], 100);
    await curl(41501);
    await q.stop();
    undelay(6, ['--sport', '41501:41510'], ['--dport', '41501:41510']);
    await until(() => /Alert SlowshakeBeforeReload firing/.test(w.stderr), 15_000);
    writeFileSync(file, conf('after_reload'));
    process.kill(w.pid, 'SIGHUP');
    await until(() => /Reloaded \S+: applied alerts\.rule/.test(w.stderr), 10_000);
    await until(() => /Alert SlowshakeBeforeReload resolved/.test(w.stderr) && /Alert SlowshakeAfterReload firing/.test(w.stderr), 10_000);
    const t = await scrapeUntil(lab!, 19475, (x) => metric(x, 'slowshake_alerts_firing', { rule: 'after_reload' }) === 1, 5000, 'the new rule firing');
    expect(t).not.toContain('slowshake_alerts_firing{rule="before_reload"');
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);
  }, 60_000);
});
