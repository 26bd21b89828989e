/**
 * src/alert: rule evaluation, per-network baselines, Alertmanager/webhook delivery and adaptive
 * evidence for `slowshake watch` (design.md "Always-on", issue 12). `Alerts` is what watch wires:
 * records in (observe, example), an evaluation on its timer, metrics, reload, and stop (baselines
 * saved, queued notifications flushed within the stop deadline).
 */
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.js';
import type { FlowRecord } from '../handshake/record.js';
import { describeError } from '../sinks/pcap-writer.js';
import { Delivery } from './delivery.js';
import { AlertEngine, type HealthSample, type Widener } from './engine.js';
import { AlertMetrics } from './metrics.js';
import { effectiveRules } from './rules.js';

export { AlertEngine, type HealthSample, type Widener } from './engine.js';
export { Delivery, type AmAlert, type SinkStats } from './delivery.js';
export { Baselines } from './baselines.js';
export { DEFAULT_RULES, effectiveRules, describeRule, type AlertRule } from './rules.js';

/** Baselines are saved this often (and at stop). */
const SAVE_EVERY_MS = 60_000;

export class Alerts {
  readonly engine: AlertEngine;
  readonly delivery: Delivery;
  readonly #metrics: AlertMetrics;
  readonly #path: string;
  readonly #log: Pick<Logger, 'info' | 'warn' | 'error'>;
  #lastEval = 0;
  #lastSave: number;
  #saveFailedSaid = false;
  #cfg: Config['alerts'];

  constructor(cfg: Config, deps: { registry: Registry; widener: Widener | null; log: Pick<Logger, 'info' | 'warn' | 'error'>; nowMs?: number }) {
    const a = cfg.alerts;
    this.#cfg = a;
    this.#log = deps.log;
    const host = a.host ?? hostname();
    this.delivery = new Delivery({ alertmanagers: a.alertmanagers, webhooks: a.webhooks, queue: a.queue, timeoutMs: a.timeoutMs, retryForMs: a.retryForMs, host, log: deps.log });
    this.engine = new AlertEngine({
      rules: effectiveRules(a.defaultRules, a.rules), host, examples: a.examples, evaluateEveryMs: a.evaluateEveryMs, resendEveryMs: a.resendEveryMs,
      maxNetworks: a.maxNetworks, baselineNetworks: a.baselineNetworks, baselineHalfLifeMs: a.baselineHalfLifeMs, baselineWarmupMs: a.baselineWarmupMs,
      adaptive: { enabled: a.adaptive, durationMs: a.adaptiveDurationMs, bytes: a.adaptiveBytes, maxNetworks: a.adaptiveNetworks },
      delivery: this.delivery, widener: deps.widener, ipv4Prefix: cfg.metrics.ipv4Prefix, ipv6Prefix: cfg.metrics.ipv6Prefix, log: deps.log,
    });
    const medianWindow = Math.max(60_000, ...this.engine.rules.filter((r) => r.kind === 'baseline').map((r) => r.windowMs));
    this.#metrics = new AlertMetrics(deps.registry, medianWindow);
    this.#path = join(cfg.state.directory, 'baselines.json');
    const now = deps.nowMs ?? Date.now();
    this.#lastSave = now;
    try {
      const n = this.engine.baselines.load(this.#path, now);
      if (n > 0) deps.log.info({ path: this.#path, networks: n }, `Baselines of ${n} client networks restored from ${this.#path}.`);
    } catch (err) {
      deps.log.warn({ path: this.#path }, `${(err as Error).message}: baselines start fresh (the file is replaced at the next save).`);
    }
  }

  /** What the start line says about alerting. */
  describe(): string {
    const sinks = [...this.#cfg.alertmanagers.map((u) => `Alertmanager ${u}`), ...this.#cfg.webhooks.map((u) => `webhook ${u}`)];
    return `${this.engine.rules.length} alert rules${sinks.length ? ` to ${sinks.join(', ')}` : ' (no Alertmanager: metrics and logs only)'}`;
  }

  observe(rec: FlowRecord, net: string, nowMs: number): void { this.engine.observe(rec, net, nowMs); }

  example(rec: FlowRecord, net: string, nowMs: number): void { this.engine.example(rec, net, nowMs); }

  /** Called on watch's timer: evaluates when due, saves baselines when due, retries delivery. */
  tick(nowMs: number, health: () => HealthSample): void {
    if (nowMs - this.#lastEval >= this.#cfg.evaluateEveryMs) {
      this.#lastEval = nowMs;
      this.engine.evaluate(nowMs, health());
    } else {
      this.delivery.pump(nowMs);
    }
    if (nowMs - this.#lastSave >= SAVE_EVERY_MS) this.save(nowMs);
  }

  save(nowMs: number): void {
    this.#lastSave = nowMs;
    try {
      this.engine.baselines.save(this.#path, nowMs);
      this.#saveFailedSaid = false;
    } catch (err) {
      if (!this.#saveFailedSaid) { this.#saveFailedSaid = true; this.#log.warn({ path: this.#path, error: describeError(err) }, `The baselines could not be saved (${describeError(err)}); a restart would learn them again; retrying.`); }
    }
  }

  publish(nowMs: number): void { this.#metrics.update(this.engine, this.delivery, nowMs); }

  /** A reload: the live [alerts] keys (rules, examples, adaptive settings). */
  reload(cfg: Config, nowMs: number): void {
    const a = cfg.alerts;
    this.#cfg = { ...this.#cfg, defaultRules: a.defaultRules, rules: a.rules, examples: a.examples, adaptive: a.adaptive, adaptiveDurationMs: a.adaptiveDurationMs, adaptiveBytes: a.adaptiveBytes, adaptiveNetworks: a.adaptiveNetworks };
    this.engine.setRules(effectiveRules(a.defaultRules, a.rules), { enabled: a.adaptive, durationMs: a.adaptiveDurationMs, bytes: a.adaptiveBytes, maxNetworks: a.adaptiveNetworks }, a.examples, nowMs);
  }

  /** Stop: baselines saved, what is queued sent once (until `deadlineMs`). */
  async stop(deadlineMs: number): Promise<void> {
    this.save(Date.now());
    await this.delivery.flush(deadlineMs);
  }

  summary(): string {
    const st = this.engine.stats();
    const d = this.delivery.stats();
    const sinks = d.map((s) => `${s.name}: ${s.sent} sent, ${s.failed} failed attempts, ${s.dropped} dropped, ${s.queued} queued`).join('; ');
    return `Alerts: ${st.fired} fired, ${st.resolved} resolved, ${[...st.firing.values()].reduce((n, f) => n + f.n, 0)} firing at stop` +
      `${sinks ? `; ${sinks}` : ''}; adaptive capture switched on ${st.adaptive.switchedOn} times; baselines of ${st.baselines.tracked} networks` +
      `${st.baselines.untracked > 0 ? ` (${st.baselines.untracked} handshakes of networks beyond alerts.baseline_networks not learned)` : ''}`;
  }
}
