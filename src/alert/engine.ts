/**
 * The daemon's alert engine (issue 12, design.md "Always-on"): fed every handshake record, it
 * evaluates the rules every few seconds and hands notifications to delivery.
 *
 * An alert instance is a rule plus, for per-network rules, a network (its labels are its
 * identity). States, as Prometheus has them: the condition holds → pending; held for the rule's
 * `for` → firing (sent, then re-sent every `resendEveryMs` with endsAt four of those ahead, so a
 * daemon that dies leaves alerts that resolve by themselves); the condition clears → resolved
 * (sent once with endsAt = now). A firing alert's annotations carry counts, median phases, up to
 * `examples` example flows with their pcap paths, and the client attribution when known.
 *
 * Adaptive evidence: when a per-network instance of a rule with `adaptive` fires, the kernel
 * filter is asked to pass full packets for that network (its prefix, or the /24s of its example
 * clients for an attribution group) for a bounded time and byte budget; the filter switches back
 * by itself, and both switches are logged and counted.
 */
import type { Logger } from 'pino';
import type { FlowRecord } from '../handshake/record.js';
import { formatDuration } from '../config/units.js';
import { endpointAddress, parsePrefix } from '../enrich/ip.js';
import { networkOf } from '../live/networks.js';
import { Baselines, BASELINE_PHASES } from './baselines.js';
import { Delivery, fingerprint, type AmAlert } from './delivery.js';
import type { AlertRule, BaselineRule, HealthRule, RateRule } from './rules.js';
import { median, SlowWindow, type Example } from './window.js';

/** The daemon's health, sampled at each evaluation (cumulative counters since start). */
export interface HealthSample {
  drops: number;
  evidenceFailures: number;
  diskFull: boolean;
  ringReachSeconds: number;
  /** The ring has been overwritten at least once (before that it holds everything since start). */
  ringWrapped: boolean;
  /** What an event needs the ring to reach back: hold + margin (s). */
  neededSeconds: number;
  journalLagSeconds: number | null;
}

/** The kernel filter's per-network widening (src/sources/live-capture.ts). */
export interface Widener {
  widen(cidr: string, durationMs: number, maxBytes: number): { ok: true } | { ok: false; reason: string };
  narrow(cidr: string): boolean;
  /** Lapsed entries (time or bytes used up) are listed once more with their state, then gone. */
  widened(): Array<{ cidr: string; msLeft: number; bytesLeft: number; packets: number; bytes: number; state?: 'active' | 'expired' | 'budget' }>;
}

export interface AdaptiveOptions { enabled: boolean; durationMs: number; bytes: number; maxNetworks: number }

export interface AlertEngineOptions {
  rules: readonly AlertRule[];
  host: string;
  examples: number;
  evaluateEveryMs: number;
  resendEveryMs: number;
  maxNetworks: number;
  baselineNetworks: number;
  baselineHalfLifeMs: number;
  baselineWarmupMs: number;
  adaptive: AdaptiveOptions;
  delivery: Delivery;
  widener: Widener | null;
  ipv4Prefix: number;
  ipv6Prefix: number;
  log: Pick<Logger, 'info' | 'warn' | 'error'>;
}

type State = 'pending' | 'firing';

interface Instance {
  key: string;
  rule: AlertRule;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  state: State;
  activeSinceMs: number;
  firedAtMs: number;
  lastSentMs: number;
  network: string | null;
  seen: boolean;
  /** Example pcaps in the last notification sent. */
  sentPcaps: number;
}

interface Condition { labels: Record<string, string>; annotations: Record<string, string>; network: string | null; examples: Example[] }

interface Widening { cidr: string; alert: string; sinceMs: number; bytes: number }

export interface AlertEngineStats {
  firing: Map<string, { rule: string; severity: string; n: number }>;
  pending: number;
  fired: number;
  resolved: number;
  evaluations: number;
  adaptive: { active: string[]; switchedOn: number; switchedOff: number; refused: number; bytes: number };
  baselines: { tracked: number; untracked: number; replaced: number };
  windowNetworksReplaced: number;
}

const pcapCount = (a: Record<string, string>): number => (a.pcaps ? a.pcaps.split(' ').length : 0);
const ms = (v: number | null): string => (v === null ? '-' : `${Math.round(v)}`);

/** The phases worth naming in a summary: median over the examples, largest first, total last. */
function medianPhases(ex: readonly Example[]): string {
  if (ex.length === 0) return '';
  const keys = Object.keys(ex[0]!.phases).filter((k) => k !== 'total' && k !== 'cwnd_stall');
  const rows: [string, number][] = [];
  for (const k of keys) {
    const m = median(ex.map((e) => (e.phases as Record<string, number | null>)[k] ?? null));
    if (m !== null && m >= 1) rows.push([k, m]);
  }
  rows.sort((a, b) => b[1] - a[1]);
  const total = median(ex.map((e) => e.phases.total));
  return [...rows.slice(0, 5).map(([k, v]) => `${k} ${ms(v)}`), ...(total !== null ? [`total ${ms(total)}`] : [])].join(', ');
}

function exampleLine(e: Example): string {
  return `${e.client} -> ${e.server}${e.sni ? ` (${e.sni})` : ''}: ${ms(e.totalMs)} ms, verdict ${e.verdict}, ` +
    `${e.pcap !== null ? `pcap ${e.pcap}` : `no pcap${e.reason ? ` (${e.reason})` : ''}`}${e.attribution ? `, client ${e.attribution}` : ''}`;
}

/** "aws eu-west-1 EC2, AS16509 AMAZON-02, rdns ec2-….compute.amazonaws.com" from a record's client_info. */
export function attributionOf(rec: FlowRecord): string | null {
  const ci = rec.client_info;
  if (ci === undefined) return null;
  const parts = [
    ci.provider !== null ? [ci.provider, ci.region, ci.service].filter((x) => x !== null).join(' ') : null,
    ci.asn !== null ? `AS${ci.asn}${ci.as_org ? ` ${ci.as_org}` : ''}` : null,
    ci.rdns !== null ? `rdns ${ci.rdns}` : null,
  ].filter((x): x is string => x !== null);
  return parts.length > 0 ? parts.join(', ') : null;
}

export class AlertEngine {
  readonly window: SlowWindow;
  readonly baselines: Baselines;
  readonly #instances = new Map<string, Instance>();
  readonly #health: { t: number; drops: number; failures: number }[] = [];
  readonly #widened = new Map<string, Widening>();
  #rules: readonly AlertRule[];
  #o: AlertEngineOptions;
  #fired = 0;
  #resolved = 0;
  #evaluations = 0;
  #switchedOn = 0;
  #switchedOff = 0;
  #refused = 0;
  #adaptiveBytes = 0;
  #refusedSaid = false;

  constructor(o: AlertEngineOptions) {
    this.#o = o;
    this.#rules = o.rules;
    const longest = Math.max(60_000, ...o.rules.map((r) => ('windowMs' in r ? r.windowMs : 0)));
    this.window = new SlowWindow({ maxWindowMs: Math.max(longest, 3_600_000), bucketMs: Math.min(10_000, Math.max(100, o.evaluateEveryMs)), maxNetworks: o.maxNetworks, examples: o.examples });
    this.baselines = new Baselines({ maxNetworks: o.baselineNetworks, halfLifeMs: o.baselineHalfLifeMs });
  }

  get rules(): readonly AlertRule[] { return this.#rules; }

  /** Every handshake record (slow or not), with its client network key. */
  observe(rec: FlowRecord, net: string, nowMs: number): void {
    this.baselines.observe(net, rec.phases_ms.tcp_rtt, rec.phases_ms.flight_rtt, nowMs);
    if (rec.slow) this.window.add(net, rec.verdict, nowMs);
  }

  /** A slow record once its evidence is written (its pcap path, or the reason there is none). */
  example(rec: FlowRecord, net: string, nowMs: number): void {
    this.window.example(net, {
      atMs: nowMs, verdict: rec.verdict, client: rec.client, server: rec.server, sni: rec.sni, totalMs: rec.phases_ms.total,
      pcap: rec.pcap ?? null, reason: rec.reason ?? null, phases: rec.phases_ms, attribution: attributionOf(rec),
    });
  }

  /** New rules (a reload): instances of rules that are unchanged keep their state; the others resolve. */
  setRules(rules: readonly AlertRule[], adaptive: AdaptiveOptions, examples: number, nowMs: number): void {
    const same = new Set(rules.filter((r) => this.#rules.some((o) => JSON.stringify(o) === JSON.stringify(r))).map((r) => r.name));
    for (const inst of [...this.#instances.values()]) if (!same.has(inst.rule.name)) this.#end(inst, nowMs);
    this.#rules = rules;
    this.#o = { ...this.#o, adaptive, examples };
    this.window.opts.examples = examples;
  }

  /** One evaluation: learn the baselines, evaluate every rule, send what is due. */
  evaluate(nowMs: number, health: HealthSample): void {
    this.#evaluations++;
    this.baselines.learn(nowMs);
    this.#sampleHealth(nowMs, health);
    for (const inst of this.#instances.values()) inst.seen = false;
    for (const rule of this.#rules) {
      const conds = rule.kind === 'rate' ? this.#rate(rule, nowMs) : rule.kind === 'baseline' ? this.#baseline(rule, nowMs) : this.#healthRule(rule, nowMs, health);
      for (const c of conds) this.#hold(rule, c, nowMs);
    }
    for (const inst of [...this.#instances.values()]) if (!inst.seen) this.#end(inst, nowMs);
    this.#adaptiveTick(nowMs);
    this.#o.delivery.pump(nowMs);
  }

  #labels(rule: AlertRule, extra: Record<string, string>): Record<string, string> {
    return { ...rule.labels, alertname: rule.alertname, host: this.#o.host, rule: rule.name, severity: rule.severity, ...extra };
  }

  #common(rule: AlertRule, summary: string, description: string, examples: readonly Example[], extra: Record<string, string>): Record<string, string> {
    const a: Record<string, string> = { ...rule.annotations, summary, description, ...extra };
    const shown = examples.slice(0, this.#o.examples);
    shown.forEach((e, i) => { a[`example_${i + 1}`] = exampleLine(e); });
    const pcaps = shown.map((e) => e.pcap).filter((p): p is string => p !== null);
    if (pcaps.length > 0) a.pcaps = pcaps.join(' ');
    const who = examples.map((e) => e.attribution).find((x) => x !== null);
    if (who) a.client_attribution = who;
    return a;
  }

  #rate(rule: RateRule, nowMs: number): Condition[] {
    const out: Condition[] = [];
    const nets = rule.perNetwork ? this.window.networks(rule.windowMs, nowMs) : [null];
    const minutes = rule.windowMs / 60_000;
    for (const net of nets) {
      const n = this.window.count(rule.verdict, rule.windowMs, nowMs, net);
      const rate = n / minutes;
      if (!(rate > rule.perMinute)) continue;
      const ex = this.window.examples(rule.verdict, rule.windowMs, nowMs, net);
      const what = `slow handshakes${rule.verdict === 'any' ? '' : ` with verdict ${rule.verdict}`}${net !== null ? ` from ${net}` : ''}`;
      const phases = medianPhases(ex);
      const summary = `${n} ${what} on ${this.#o.host} in the last ${formatDuration(rule.windowMs)} (${rate.toFixed(1)}/min, threshold ${rule.perMinute}/min)`;
      const description = `${summary}.${phases ? ` Median phases (ms): ${phases}.` : ''}${ex[0]?.attribution ? ` Clients: ${ex[0].attribution}.` : ''}`;
      out.push({
        labels: this.#labels(rule, { ...(rule.verdict !== 'any' ? { verdict: rule.verdict } : {}), ...(net !== null ? { network: net } : {}) }),
        annotations: this.#common(rule, summary, description, ex, { count: String(n), per_minute: rate.toFixed(2), threshold_per_minute: String(rule.perMinute), window: formatDuration(rule.windowMs), ...(phases ? { median_phases_ms: phases } : {}) }),
        network: net, examples: ex,
      });
    }
    return out;
  }

  #baseline(rule: BaselineRule, nowMs: number): Condition[] {
    const out: Condition[] = [];
    for (const net of this.baselines.networks()) {
      const b = this.baselines.baseline(net, rule.phase, nowMs);
      if (b.value === null || b.learnedForMs < this.#o.baselineWarmupMs) continue;
      const r = this.baselines.recent(net, rule.phase, rule.windowMs, nowMs);
      if (r.median === null || r.count < rule.minSamples) continue;
      const rise = r.median - b.value;
      const pct = b.value > 0 ? (rise / b.value) * 100 : Infinity;
      if (!(pct > rule.risePercent && rise >= rule.minRiseMs)) continue;
      const ex = this.window.examples('any', rule.windowMs, nowMs, net);
      const summary = `Median ${rule.phase} of client network ${net} is ${ms(r.median)} ms over the last ${formatDuration(rule.windowMs)} (${r.count} handshakes), ` +
        `${Number.isFinite(pct) ? `${pct.toFixed(0)}%` : 'far'} above its baseline of ${ms(b.value)} ms (threshold ${rule.risePercent}%)`;
      out.push({
        labels: this.#labels(rule, { network: net, phase: rule.phase }),
        annotations: this.#common(rule, summary, `${summary}. The baseline was learned over ${formatDuration(b.learnedForMs)}; a rise like this is how an upstream routing change shows.`, ex, {
          median_ms: ms(r.median), baseline_ms: b.value.toFixed(1), rise_percent: Number.isFinite(pct) ? pct.toFixed(1) : 'inf', samples: String(r.count),
        }),
        network: net, examples: ex,
      });
    }
    return out;
  }

  #sampleHealth(nowMs: number, h: HealthSample): void {
    this.#health.push({ t: nowMs, drops: h.drops, failures: h.evidenceFailures });
    const keep = Math.max(60_000, ...this.#rules.map((r) => (r.kind === 'health' ? r.windowMs : 0))) + this.#o.evaluateEveryMs;
    while (this.#health.length > 2 && nowMs - this.#health[1]!.t > keep) this.#health.shift();
  }

  /** Growth of a cumulative health counter over the last `windowMs`. */
  #delta(windowMs: number, nowMs: number, f: (s: { drops: number; failures: number }) => number): number {
    const last = this.#health[this.#health.length - 1];
    if (last === undefined) return 0;
    let first = last;
    for (const s of this.#health) { if (nowMs - s.t <= windowMs) { first = s; break; } }
    // The sample just before the window, when there is one: growth within the window.
    const i = this.#health.indexOf(first);
    const from = i > 0 ? this.#health[i - 1]! : first;
    return f(last) - f(from);
  }

  #healthRule(rule: HealthRule, nowMs: number, h: HealthSample): Condition[] {
    let summary: string | null = null;
    const extra: Record<string, string> = {};
    switch (rule.check) {
      case 'drops': {
        const d = this.#delta(rule.windowMs, nowMs, (s) => s.drops);
        const perMin = d / (rule.windowMs / 60_000);
        if (d > 0 && perMin > rule.threshold) summary = `Capture on ${this.#o.host} dropped ${d} packets in the last ${formatDuration(rule.windowMs)} (${perMin.toFixed(1)}/min): handshakes may be measured wrong or missed`;
        extra.dropped = String(d);
        break;
      }
      case 'ring_reach':
        if (h.ringWrapped && h.ringReachSeconds < h.neededSeconds + rule.threshold) {
          summary = `The packet ring on ${this.#o.host} reaches back ${h.ringReachSeconds.toFixed(1)} s, less than hold + margin (${h.neededSeconds.toFixed(1)} s) + ${rule.threshold} s: events may find their flows gone (raise capture.ring_size)`;
        }
        extra.reach_seconds = h.ringReachSeconds.toFixed(1);
        break;
      case 'journal_lag':
        if (h.journalLagSeconds !== null && h.journalLagSeconds > rule.threshold) summary = `Journal entries reach slowshake on ${this.#o.host} ${h.journalLagSeconds.toFixed(0)} s late (threshold ${rule.threshold} s): proxy events may come after their flows left the ring`;
        extra.lag_seconds = h.journalLagSeconds === null ? '-' : h.journalLagSeconds.toFixed(1);
        break;
      case 'evidence_failures': {
        const d = this.#delta(rule.windowMs, nowMs, (s) => s.failures);
        if (h.diskFull || d > rule.threshold) summary = `Evidence writes on ${this.#o.host} are failing (${d} in the last ${formatDuration(rule.windowMs)}${h.diskFull ? '; the output directory is full' : ''}): slow handshakes go without pcaps`;
        extra.failures = String(d);
        break;
      }
    }
    if (summary === null) return [];
    return [{ labels: this.#labels(rule, { check: rule.check }), annotations: { ...rule.annotations, summary, description: summary, ...extra }, network: null, examples: [] }];
  }

  /** The condition holds now: pending, firing, or a re-send due. */
  #hold(rule: AlertRule, c: Condition, nowMs: number): void {
    const key = fingerprint(c.labels);
    let inst = this.#instances.get(key);
    if (inst === undefined) {
      inst = { key, rule, labels: c.labels, annotations: c.annotations, state: 'pending', activeSinceMs: nowMs, firedAtMs: 0, lastSentMs: 0, network: c.network, seen: true, sentPcaps: 0 };
      this.#instances.set(key, inst);
    }
    inst.seen = true;
    inst.annotations = c.annotations;
    if (inst.state === 'pending' && nowMs - inst.activeSinceMs >= rule.forMs) {
      inst.state = 'firing';
      inst.firedAtMs = nowMs;
      this.#fired++;
      this.#o.log.warn({ alert: rule.alertname, labels: inst.labels }, `Alert ${rule.alertname} firing: ${c.annotations.summary}`);
      if (c.network !== null && 'adaptive' in rule && rule.adaptive) this.#widen(inst, c, nowMs);
      this.#send(inst, nowMs, false);
    } else if (inst.state === 'firing' && nowMs - inst.lastSentMs >= this.#o.resendEveryMs) {
      this.#send(inst, nowMs, false);
    } else if (inst.state === 'firing' && inst.sentPcaps < this.#o.examples && pcapCount(inst.annotations) > inst.sentPcaps) {
      // Evidence is written a hold after the handshake, often after the alert fired: the example
      // pcaps go out as soon as they exist, not a re-send interval later.
      this.#send(inst, nowMs, false);
    }
  }

  /** The condition no longer holds: a firing alert resolves; a pending one is forgotten. */
  #end(inst: Instance, nowMs: number): void {
    this.#instances.delete(inst.key);
    if (inst.state !== 'firing') return;
    this.#resolved++;
    this.#o.log.info({ alert: inst.rule.alertname, labels: inst.labels }, `Alert ${inst.rule.alertname} resolved after ${formatDuration(nowMs - inst.firedAtMs)}: ${inst.annotations.summary}`);
    this.#send(inst, nowMs, true);
  }

  #send(inst: Instance, nowMs: number, resolved: boolean): void {
    inst.lastSentMs = nowMs;
    inst.sentPcaps = pcapCount(inst.annotations);
    const alert: AmAlert = {
      labels: inst.labels, annotations: inst.annotations, startsAt: new Date(inst.activeSinceMs).toISOString(),
      endsAt: new Date(resolved ? nowMs : nowMs + 4 * this.#o.resendEveryMs).toISOString(),
    };
    this.#o.delivery.send(alert, nowMs);
  }

  // --- adaptive evidence ---

  #cidrsOf(c: Condition): string[] {
    if (c.network !== null && parsePrefix(c.network) !== null) return [c.network];
    const out = new Set<string>();
    for (const e of c.examples) {
      const a = endpointAddress(e.client);
      if (a !== null) out.add(networkOf(a, this.#o.ipv4Prefix, this.#o.ipv6Prefix));
      if (out.size >= 3) break;
    }
    return [...out];
  }

  #widen(inst: Instance, c: Condition, nowMs: number): void {
    const a = this.#o.adaptive;
    const w = this.#o.widener;
    if (!a.enabled || w === null) return;
    const done: string[] = [];
    for (const cidr of this.#cidrsOf(c)) {
      if (this.#widened.has(cidr)) { done.push(cidr); continue; }
      if (this.#widened.size >= a.maxNetworks) {
        this.#refused++;
        this.#o.log.warn({ network: cidr, alert: inst.rule.alertname }, `Adaptive capture not widened for ${cidr}: already ${a.maxNetworks} networks under full capture (alerts.adaptive_networks).`);
        continue;
      }
      const r = w.widen(cidr, a.durationMs, a.bytes);
      if (!r.ok) {
        this.#refused++;
        if (!this.#refusedSaid) { this.#refusedSaid = true; this.#o.log.warn({ network: cidr }, `Adaptive capture not available: ${r.reason}`); }
        continue;
      }
      this.#widened.set(cidr, { cidr, alert: inst.rule.alertname, sinceMs: nowMs, bytes: 0 });
      this.#switchedOn++;
      done.push(cidr);
      this.#o.log.info({ network: cidr, alert: inst.rule.alertname }, `Adaptive capture on for ${cidr} (alert ${inst.rule.alertname}): full packets for ${formatDuration(a.durationMs)} or ${Math.round(a.bytes / 1024 / 1024)} MiB, whichever ends first.`);
    }
    if (done.length > 0) inst.annotations = { ...inst.annotations, adaptive_capture: `full packets for ${done.join(', ')} for ${formatDuration(a.durationMs)} (at most ${Math.round(a.bytes / 1024 / 1024)} MiB each)` };
  }

  #adaptiveTick(nowMs: number): void {
    const w = this.#o.widener;
    if (w === null || this.#widened.size === 0) return;
    const live = new Map(w.widened().map((e) => [e.cidr, e]));
    for (const [cidr, wd] of this.#widened) {
      const e = live.get(cidr);
      if (e !== undefined) { this.#adaptiveBytes += Math.max(0, e.bytes - wd.bytes); wd.bytes = e.bytes; }
      if (e !== undefined && (e.state ?? 'active') === 'active' && e.msLeft > 0 && e.bytesLeft > 0) continue;
      const why = e === undefined ? 'no longer in the kernel filter' : e.state === 'budget' || e.bytesLeft <= 0 ? `its byte budget was used (${e.bytes} bytes passed in full)` : `its time (${formatDuration(nowMs - wd.sinceMs)}) ran out after ${e.bytes} bytes`;
      w.narrow(cidr);
      this.#widened.delete(cidr);
      this.#switchedOff++;
      this.#o.log.info({ network: cidr }, `Adaptive capture off for ${cidr}: ${why}; back to handshakes only.`);
    }
  }

  stats(): AlertEngineStats {
    const firing = new Map<string, { rule: string; severity: string; n: number }>();
    for (const r of this.#rules) firing.set(r.name, { rule: r.name, severity: r.severity, n: 0 });
    let pending = 0;
    for (const i of this.#instances.values()) {
      if (i.state === 'firing') firing.get(i.rule.name)!.n++;
      else pending++;
    }
    return {
      firing, pending, fired: this.#fired, resolved: this.#resolved, evaluations: this.#evaluations,
      adaptive: { active: [...this.#widened.keys()], switchedOn: this.#switchedOn, switchedOff: this.#switchedOff, refused: this.#refused, bytes: this.#adaptiveBytes },
      baselines: { tracked: this.baselines.size, untracked: this.baselines.untracked, replaced: this.baselines.replaced },
      windowNetworksReplaced: this.window.networksReplaced,
    };
  }

  /** The firing alerts now (for the metrics endpoint's /alerts and the end summary). */
  firing(): Array<{ labels: Record<string, string>; annotations: Record<string, string>; since: string }> {
    return [...this.#instances.values()].filter((i) => i.state === 'firing').map((i) => ({ labels: i.labels, annotations: i.annotations, since: new Date(i.firedAtMs).toISOString() }));
  }

  /** Networks with a learned baseline: the median and baseline gauges (seconds). */
  *networkPhases(nowMs: number, windowMs: number): Generator<{ network: string; phase: string; median: number | null; baseline: number | null }> {
    for (const net of this.baselines.networks()) {
      for (const p of BASELINE_PHASES) {
        const b = this.baselines.baseline(net, p, nowMs).value;
        const r = this.baselines.recent(net, p, windowMs, nowMs).median;
        if (b === null && r === null) continue;
        yield { network: net, phase: p, median: r, baseline: b };
      }
    }
  }
}
