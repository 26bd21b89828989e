/**
 * The alert engine's state machine and inputs on a simulated clock (the daemon's evaluation is
 * the same call): pending for `for`, firing, re-sent, resolved with endsAt now; per-network
 * instances; baselines learned, warmed up, bounded, saved and restored; health rules on counter
 * growth. Delivery is real: a local HTTP server stands in for the receiving end (the end-to-end
 * tests use a real Alertmanager), so queueing, coalescing and backoff are exercised as they run.
 */
import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AlertEngine, type HealthSample, type Widener } from '../../../src/alert/engine.js';
import { Baselines } from '../../../src/alert/baselines.js';
import { Delivery, type AmAlert } from '../../../src/alert/delivery.js';
import { normaliseRule, RULE_SCHEMA, type AlertRule } from '../../../src/alert/rules.js';
import type { FlowRecord } from '../../../src/handshake/record.js';
import { missingFlowRecord } from '../../../src/handshake/record.js';

const rule = (r: Record<string, unknown>): AlertRule => normaliseRule(RULE_SCHEMA.parse(r));
const quiet = { info: () => {}, warn: () => {}, error: () => {} };
const HEALTHY: HealthSample = { drops: 0, evidenceFailures: 0, diskFull: false, ringReachSeconds: 100, ringWrapped: true, neededSeconds: 3, journalLagSeconds: 0 };

function rec(over: { verdict?: FlowRecord['verdict']; slow?: boolean; tcp?: number | null; flight?: number | null; client?: string; pcap?: string } = {}): FlowRecord {
  const r = missingFlowRecord(over.client ?? '198.51.100.7:40000', '203.0.113.1:443', 'app.example', 'test');
  r.verdict = over.verdict ?? 'network';
  r.slow = over.slow ?? true;
  r.phases_ms.tcp_rtt = over.tcp === undefined ? 120 : over.tcp;
  r.phases_ms.flight_rtt = over.flight === undefined ? 118 : over.flight;
  r.phases_ms.total = 480;
  if (over.pcap !== undefined) { r.pcap = over.pcap; delete r.reason; }
  return r;
}

/** Records every POST body the "Alertmanager" got; answers `status` (changeable). */
let server: Server;
let url = '';
const posts: AmAlert[][] = [];
let status = 200;
beforeAll(async () => {
  server = createServer((req, res) => {
    let b = '';
    req.on('data', (d) => { b += d; });
    req.on('end', () => { if (status === 200) posts.push(JSON.parse(b) as AmAlert[]); res.statusCode = status; res.end(status === 200 ? '' : 'bad alert'); });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const settle = async (d: Delivery): Promise<void> => { for (let i = 0; i < 50 && d.stats().some((s) => s.queued > 0); i++) await new Promise((r) => setTimeout(r, 10)); };

function engine(rules: AlertRule[], o: { widener?: Widener | null; delivery?: Delivery; warmupMs?: number; examples?: number } = {}): { e: AlertEngine; d: Delivery } {
  const d = o.delivery ?? new Delivery({ alertmanagers: [url], webhooks: [], queue: 100, timeoutMs: 2000, retryForMs: 60_000, host: 'edge-1' });
  const e = new AlertEngine({
    rules, host: 'edge-1', examples: o.examples ?? 3, evaluateEveryMs: 1000, resendEveryMs: 60_000, maxNetworks: 4, baselineNetworks: 3,
    baselineHalfLifeMs: 3_600_000, baselineWarmupMs: o.warmupMs ?? 0, adaptive: { enabled: true, durationMs: 5000, bytes: 1 << 20, maxNetworks: 2 },
    delivery: d, widener: o.widener ?? null, ipv4Prefix: 24, ipv6Prefix: 48, log: quiet,
  });
  return { e, d };
}

describe('rate rules', () => {
  it('pending for `for`, then firing with labels and annotations; re-sent after resend_every; resolved with endsAt = now when the window empties', async () => {
    posts.length = 0;
    const { e, d } = engine([rule({ kind: 'rate', name: 'net', verdict: 'network', per_minute: 2, window: '1m', for: '30s', labels: { team: 'edge' } })]);
    const t0 = 1_000_000_000_000;
    for (let i = 0; i < 3; i++) e.observe(rec(), '198.51.100.0/24', t0 + i * 1000);
    e.observe(rec({ verdict: 'server' }), '198.51.100.0/24', t0 + 3000); // another verdict: not counted
    e.example(rec({ pcap: '/var/lib/slowshake/evidence/a.pcapng' }), '198.51.100.0/24', t0 + 3000);
    e.evaluate(t0 + 4000, HEALTHY);
    expect(e.stats()).toMatchObject({ pending: 1, fired: 0 });
    e.evaluate(t0 + 33_000, HEALTHY); // 3 in the last minute: 3/min > 2/min, held 29 s < 30 s
    expect(e.stats().fired).toBe(0);
    e.evaluate(t0 + 34_500, HEALTHY);
    expect(e.stats().fired).toBe(1);
    await settle(d);
    expect(posts).toHaveLength(1);
    const a = posts[0]![0]!;
    expect(a.labels).toEqual({ alertname: 'SlowshakeNet', host: 'edge-1', rule: 'net', severity: 'warning', verdict: 'network', team: 'edge' });
    expect(a.annotations).toMatchObject({ count: '3', per_minute: '3.00', threshold_per_minute: '2', window: '1m', pcaps: '/var/lib/slowshake/evidence/a.pcapng' });
    expect(a.annotations.example_1).toBe('198.51.100.7:40000 -> 203.0.113.1:443 (app.example): 480 ms, verdict network, pcap /var/lib/slowshake/evidence/a.pcapng');
    expect(a.annotations.median_phases_ms).toBe('tcp_rtt 120, flight_rtt 118, total 480');
    expect(a.startsAt).toBe(new Date(t0 + 4000).toISOString());
    expect(a.endsAt).toBe(new Date(t0 + 34_500 + 4 * 60_000).toISOString());
    e.evaluate(t0 + 50_000, HEALTHY); // before resend_every: nothing new
    await settle(d);
    expect(posts).toHaveLength(1);
    for (let i = 0; i < 3; i++) e.observe(rec(), '198.51.100.0/24', t0 + 90_000 + i); // still above at the re-send
    e.evaluate(t0 + 95_000, HEALTHY);
    await settle(d);
    expect(posts).toHaveLength(2);
    e.evaluate(t0 + 160_000, HEALTHY); // the window is empty: resolved
    await settle(d);
    expect(posts).toHaveLength(3);
    expect(posts[2]![0]!.endsAt).toBe(new Date(t0 + 160_000).toISOString());
    expect(e.stats()).toMatchObject({ fired: 1, resolved: 1, pending: 0 });
  });

  it('per network: one instance per network above the rate; a network below it stays quiet; networks beyond max_networks are replaced (counted)', () => {
    const { e } = engine([rule({ kind: 'rate', name: 'pn', per_network: true, per_minute: 1, window: '1m', for: '0s' })]);
    const t = 2_000_000_000_000;
    for (const n of ['10.0.1.0/24', '10.0.1.0/24', '10.0.2.0/24', '10.0.2.0/24', '10.0.3.0/24']) e.observe(rec(), n, t);
    e.evaluate(t + 1, HEALTHY);
    expect(e.firing().map((f) => f.labels.network).sort()).toEqual(['10.0.1.0/24', '10.0.2.0/24']);
    for (const n of ['10.0.4.0/24', '10.0.5.0/24', '10.0.6.0/24']) e.observe(rec(), n, t + 2);
    expect(e.stats().windowNetworksReplaced).toBe(2); // 6 networks, 4 tracked
  });

  it('a pending instance that clears is forgotten without a notification', async () => {
    posts.length = 0;
    const { e, d } = engine([rule({ kind: 'rate', name: 'p', per_minute: 1, window: '10s', for: '1m' })]);
    const t = 3_000_000_000_000;
    e.observe(rec(), 'n', t); e.observe(rec(), 'n', t);
    e.evaluate(t + 1, HEALTHY);
    expect(e.stats().pending).toBe(1);
    e.evaluate(t + 20_000, HEALTHY);
    await settle(d);
    expect(e.stats()).toMatchObject({ pending: 0, fired: 0, resolved: 0 });
    expect(posts).toHaveLength(0);
  });
});

describe('adaptive evidence', () => {
  it('widens the network of a firing per-network alert once (the /24s of its examples for an attribution group), and logs the switch back when the filter lists it lapsed', () => {
    const calls: string[] = [];
    const state = new Map<string, { msLeft: number; bytesLeft: number; state: 'active' | 'expired' | 'budget' }>();
    const w: Widener = {
      widen: (c, ms, bytes) => { calls.push(`widen ${c} ${ms} ${bytes}`); state.set(c, { msLeft: ms, bytesLeft: bytes, state: 'active' }); return { ok: true }; },
      narrow: (c) => { calls.push(`narrow ${c}`); return state.delete(c); },
      widened: () => [...state].map(([cidr, s]) => ({ cidr, packets: 10, bytes: 5000, ...s })),
    };
    const { e } = engine([rule({ kind: 'rate', name: 'pn', per_network: true, per_minute: 1, window: '1m', for: '0s' })], { widener: w });
    const t = 4_000_000_000_000;
    e.observe(rec(), '198.51.100.0/24', t); e.observe(rec(), '198.51.100.0/24', t);
    e.observe(rec({ client: '192.0.2.9:1' }), 'aws eu-west-1 EC2', t); e.observe(rec({ client: '192.0.2.9:1' }), 'aws eu-west-1 EC2', t);
    e.example(rec({ client: '192.0.2.9:1', pcap: '/x.pcapng' }), 'aws eu-west-1 EC2', t);
    e.evaluate(t + 1, HEALTHY);
    expect(calls.sort()).toEqual(['widen 192.0.2.0/24 5000 1048576', 'widen 198.51.100.0/24 5000 1048576']);
    expect(e.firing().find((f) => f.labels.network === '198.51.100.0/24')!.annotations.adaptive_capture).toMatch(/^full packets for 198\.51\.100\.0\/24 for 5s/);
    e.evaluate(t + 2, HEALTHY); // still firing: not widened again
    expect(calls).toHaveLength(2);
    state.get('198.51.100.0/24')!.state = 'expired';
    state.get('198.51.100.0/24')!.msLeft = 0;
    e.evaluate(t + 3, HEALTHY);
    expect(calls.slice(2)).toEqual(['narrow 198.51.100.0/24']);
    expect(e.stats().adaptive).toMatchObject({ active: ['192.0.2.0/24'], switchedOn: 2, switchedOff: 1, bytes: 10_000 });
  });

  it('a refusal (classic filter) is counted, and the alert still fires', () => {
    const w: Widener = { widen: () => ({ ok: false, reason: 'kernel filter classic: cannot widen per network' }), narrow: () => false, widened: () => [] };
    const { e } = engine([rule({ kind: 'rate', name: 'pn', per_network: true, per_minute: 1, window: '1m', for: '0s' })], { widener: w });
    const t = 5_000_000_000_000;
    e.observe(rec(), '198.51.100.0/24', t); e.observe(rec(), '198.51.100.0/24', t);
    e.evaluate(t + 1, HEALTHY);
    expect(e.stats()).toMatchObject({ fired: 1, adaptive: { refused: 1, switchedOn: 0 } });
  });
});

describe('baseline rules and baselines', () => {
  it('fires when the recent median rises by more than rise_percent and min_rise over a warmed-up baseline; a network always slow, or not warmed up, does not', () => {
    const { e } = engine([rule({ kind: 'baseline', name: 'rtt', rise_percent: 50, min_rise: '10ms', window: '1m', min_samples: 5, for: '0s' })], { warmupMs: 30 * 60_000 });
    let t = 6_000_000_000_000;
    // 40 minutes of calm: B at 20 ms, A always at 150 ms; C only arrives at the end, already slow.
    for (let m = 0; m < 40; m++, t += 60_000) {
      for (let i = 0; i < 6; i++) { e.observe(rec({ slow: false, tcp: 20 + (i % 3) }), 'B', t + i); e.observe(rec({ tcp: 150 + (i % 3) }), 'A', t + i); }
      e.evaluate(t + 100, HEALTHY);
    }
    expect(e.firing()).toEqual([]);
    expect(e.baselines.baseline('B', 'tcp_rtt', t).value).toBeCloseTo(21, 0);
    // B rises to 60 ms: > 50 % and > 10 ms. A stays. C, new and slow, has no warmed-up baseline.
    for (let i = 0; i < 6; i++) { e.observe(rec({ tcp: 60 }), 'B', t + i); e.observe(rec({ tcp: 151 }), 'A', t + i); e.observe(rec({ tcp: 300 }), 'C', t + i); }
    e.evaluate(t + 100, HEALTHY);
    const f = e.firing();
    expect(f.map((x) => x.labels)).toEqual([{ alertname: 'SlowshakeRtt', host: 'edge-1', rule: 'rtt', severity: 'warning', network: 'B', phase: 'tcp_rtt' }]);
    expect(f[0]!.annotations).toMatchObject({ baseline_ms: expect.stringMatching(/^2[01]\.\d$/), samples: '6' }); // the last minute's: the calm minute before is just outside the window
  });

  it('learns slowly: half of a lasting change in one half-life, never more than a minute of learning per fold', () => {
    const b = new Baselines({ maxNetworks: 10, halfLifeMs: 600_000 });
    let t = 0;
    for (let i = 0; i < 3; i++) b.observe('n', 100, null, t);
    b.learn(t);
    expect(b.baseline('n', 'tcp_rtt', t).value).toBe(100);
    for (let m = 1; m <= 10; m++) { t = m * 60_000; for (let i = 0; i < 3; i++) b.observe('n', 200, null, t); b.learn(t); }
    expect(b.baseline('n', 'tcp_rtt', t).value).toBeCloseTo(150, 0); // 10 minutes = one half-life
    t += 24 * 3_600_000; // a day of silence, then one minute of 300 ms: one minute of learning, not a day
    for (let i = 0; i < 3; i++) b.observe('n', 300, null, t);
    b.learn(t);
    expect(b.baseline('n', 'tcp_rtt', t).value!).toBeLessThan(165); // a day's worth would be ~300
  });

  it('is bounded: a full table takes a new network only in place of a quiet one (counted otherwise)', () => {
    const b = new Baselines({ maxNetworks: 2, halfLifeMs: 600_000 });
    for (let i = 0; i < 5; i++) { b.observe('a', 10, 10, 0); b.observe('b', 10, 10, 0); }
    b.observe('c', 10, 10, 1000);
    expect(b.size).toBe(2);
    expect(b.untracked).toBe(1);
    b.observe('c', 10, 10, 3 * 3_600_000); // hours later a and b are quiet: c takes one's place
    expect(b.replaced).toBe(1);
    expect([...b.networks()]).toContain('c');
  });

  it('saves to a 0600 state file and restores the baselines; a file that is not one is an error naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ss-base-'));
    try {
      const b = new Baselines({ maxNetworks: 10, halfLifeMs: 600_000 });
      for (let i = 0; i < 3; i++) b.observe('198.51.100.0/24', 42, 40, 1000);
      b.learn(1000);
      const path = join(dir, 'baselines.json');
      b.save(path, 5000);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      const c = new Baselines({ maxNetworks: 10, halfLifeMs: 600_000 });
      expect(c.load(path, 9000)).toBe(1);
      expect(c.baseline('198.51.100.0/24', 'tcp_rtt', 9000)).toEqual({ value: 42, learnedForMs: 8000 });
      expect(c.baseline('198.51.100.0/24', 'flight_rtt', 9000).value).toBe(40);
      writeFileSync(path, '{"version": 7}');
      expect(() => c.load(path, 9000)).toThrow(`${path}: not a version 1 baselines file`);
      writeFileSync(path, 'garbage');
      expect(() => c.load(path, 9000)).toThrow(new RegExp(`^${path}: not a baselines file`));
      expect(JSON.parse(readFileSync(join(dir, 'baselines.json'), 'utf8').replace('garbage', '{}') || '{}')).toEqual({});
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('health rules', () => {
  it('drops and evidence failures fire on growth within the window, ring reach only once the ring has wrapped, journal lag above its threshold', () => {
    const { e } = engine([
      rule({ kind: 'health', name: 'drops', check: 'drops', window: '1m', for: '0s' }),
      rule({ kind: 'health', name: 'ring', check: 'ring_reach', threshold: 5, for: '0s' }),
      rule({ kind: 'health', name: 'lag', check: 'journal_lag', threshold: 30, for: '0s' }),
      rule({ kind: 'health', name: 'ev', check: 'evidence_failures', window: '1m', for: '0s' }),
    ]);
    const t = 7_000_000_000_000;
    e.evaluate(t, { ...HEALTHY, drops: 100, evidenceFailures: 3 }); // counts from before: no growth seen yet
    expect(e.firing()).toEqual([]);
    e.evaluate(t + 1000, { ...HEALTHY, drops: 150, evidenceFailures: 3, ringReachSeconds: 4, ringWrapped: false, journalLagSeconds: 31 });
    expect(e.firing().map((f) => f.labels.rule).sort()).toEqual(['drops', 'lag']);
    expect(e.firing().find((f) => f.labels.rule === 'drops')!.annotations.dropped).toBe('50');
    e.evaluate(t + 2000, { ...HEALTHY, drops: 150, evidenceFailures: 4, ringReachSeconds: 4, ringWrapped: true });
    expect(e.firing().map((f) => f.labels.rule).sort()).toEqual(['drops', 'ev', 'ring']);
    e.evaluate(t + 120_000, { ...HEALTHY, drops: 150, evidenceFailures: 4 }); // no growth in the last minute
    expect(e.firing()).toEqual([]);
    e.evaluate(t + 121_000, { ...HEALTHY, drops: 150, evidenceFailures: 4, diskFull: true });
    expect(e.firing().map((f) => f.labels.rule)).toEqual(['ev']);
  });
});

describe('delivery', () => {
  it('a 4xx other than 429 is dropped at once (counted), not retried; a newer notification of a queued alert replaces it', async () => {
    posts.length = 0;
    const d = new Delivery({ alertmanagers: [url], webhooks: [], queue: 10, timeoutMs: 2000, retryForMs: 60_000, host: 'h' });
    status = 400;
    d.send({ labels: { alertname: 'x' }, annotations: {}, startsAt: 'a', endsAt: 'b' });
    for (let i = 0; i < 50 && d.stats()[0]!.failed === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(d.stats()[0]).toMatchObject({ failed: 1, dropped: 1, retried: 0, queued: 0, lastError: 'HTTP 400: bad alert' });
    status = 200;
    const d2 = new Delivery({ alertmanagers: [`${url}/api/v2/alerts`], webhooks: [], queue: 10, timeoutMs: 2000, retryForMs: 60_000, host: 'h', retryMinMs: 1, retryMaxMs: 5 });
    d2.send({ labels: { alertname: 'y' }, annotations: { v: '1' }, startsAt: 'a', endsAt: 'b' }); // in flight
    d2.send({ labels: { alertname: 'z' }, annotations: { v: '1' }, startsAt: 'a', endsAt: 'b' });
    d2.send({ labels: { alertname: 'z' }, annotations: { v: '2' }, startsAt: 'a', endsAt: 'b' }); // replaces z v1
    await settle(d2);
    expect(posts.flat().map((a) => `${a.labels.alertname}${a.annotations.v}`)).toEqual(['y1', 'z2']);
    expect(d2.stats()[0]).toMatchObject({ sent: 2, dropped: 0, queued: 0 });
  });
});
