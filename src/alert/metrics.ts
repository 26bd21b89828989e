/**
 * The alert engine's metrics, on watch's registry (src/sinks/prometheus.ts), updated once a
 * second from the engine's and delivery's counters:
 *
 *   slowshake_alerts_firing{rule,severity}                 firing instances per rule (every rule, 0 when quiet)
 *   slowshake_alerts_pending                               instances whose condition holds, not yet for `for`
 *   slowshake_alert_notifications_total{sink,outcome}      sent | failed | retried | dropped
 *   slowshake_alert_queue_length{sink}                     notifications waiting per Alertmanager / webhook
 *   slowshake_network_phase_median_seconds{network,phase}  recent median tcp_rtt / flight_rtt of a tracked network
 *   slowshake_network_phase_baseline_seconds{network,phase} its learned baseline
 *   slowshake_adaptive_capture_active{network}             1 while full capture is widened for the network
 *   slowshake_adaptive_capture_switches_total{direction}   on | off
 *   slowshake_adaptive_capture_bytes_total                 bytes passed in full by widening
 *
 * Network label cardinality is bounded by alerts.baseline_networks (medians, baselines) and
 * alerts.adaptive_networks (adaptive); a series whose network is no longer tracked is removed.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { AlertEngine } from './engine.js';
import type { Delivery } from './delivery.js';

const OUTCOMES = ['sent', 'failed', 'retried', 'dropped'] as const;

export class AlertMetrics {
  readonly #firing: Gauge<'rule' | 'severity'>;
  readonly #pending: Gauge;
  readonly #notifications: Counter<'sink' | 'outcome'>;
  readonly #queue: Gauge<'sink'>;
  readonly #median: Gauge<'network' | 'phase'>;
  readonly #baseline: Gauge<'network' | 'phase'>;
  readonly #active: Gauge<'network'>;
  readonly #switches: Counter<'direction'>;
  readonly #bytes: Counter;
  readonly #last = new Map<string, number>();
  #netSeries = new Set<string>();
  #activeSeries = new Set<string>();
  #firingSeries = new Set<string>();

  constructor(r: Registry, readonly medianWindowMs: number) {
    this.#firing = new Gauge({ name: 'slowshake_alerts_firing', help: 'Firing alert instances per rule evaluated by watch.', labelNames: ['rule', 'severity'], registers: [r] });
    this.#pending = new Gauge({ name: 'slowshake_alerts_pending', help: 'Alert instances whose condition holds but not yet for the rule\'s `for`.', registers: [r] });
    this.#notifications = new Counter({ name: 'slowshake_alert_notifications_total', help: 'Alert notifications by sink and outcome: sent (delivered), failed (attempts), retried (put back for another attempt), dropped (queue bound, retry_for, or refused).', labelNames: ['sink', 'outcome'], registers: [r] });
    this.#queue = new Gauge({ name: 'slowshake_alert_queue_length', help: 'Alert notifications waiting for a sink.', labelNames: ['sink'], registers: [r] });
    this.#median = new Gauge({ name: 'slowshake_network_phase_median_seconds', help: 'Recent median of tcp_rtt / flight_rtt of a client network whose baseline is learned (alerts.baseline_networks at most).', labelNames: ['network', 'phase'], registers: [r] });
    this.#baseline = new Gauge({ name: 'slowshake_network_phase_baseline_seconds', help: 'The learned baseline of tcp_rtt / flight_rtt of a client network (slow exponentially weighted median).', labelNames: ['network', 'phase'], registers: [r] });
    this.#active = new Gauge({ name: 'slowshake_adaptive_capture_active', help: '1 while the kernel filter passes full packets for a client network (adaptive evidence).', labelNames: ['network'], registers: [r] });
    this.#switches = new Counter({ name: 'slowshake_adaptive_capture_switches_total', help: 'Adaptive full capture switched on or off for a network.', labelNames: ['direction'], registers: [r] });
    this.#bytes = new Counter({ name: 'slowshake_adaptive_capture_bytes_total', help: 'Bytes the kernel filter passed in full for widened networks.', registers: [r] });
    for (const direction of ['on', 'off']) this.#switches.inc({ direction }, 0);
  }

  #mirror(key: string, total: number, inc: (d: number) => void): void {
    const last = this.#last.get(key) ?? 0;
    if (total > last) { inc(total - last); this.#last.set(key, total); }
  }

  update(engine: AlertEngine, delivery: Delivery, nowMs: number): void {
    const st = engine.stats();
    const firing = new Set<string>();
    for (const f of st.firing.values()) {
      this.#firing.set({ rule: f.rule, severity: f.severity }, f.n);
      firing.add(`${f.rule}\u0000${f.severity}`);
    }
    for (const k of this.#firingSeries) if (!firing.has(k)) { const [rule, severity] = k.split('\u0000') as [string, string]; this.#firing.remove({ rule, severity }); }
    this.#firingSeries = firing;
    this.#pending.set(st.pending);
    for (const s of delivery.stats()) {
      for (const outcome of OUTCOMES) this.#mirror(`n\u0000${s.name}\u0000${outcome}`, s[outcome], (d) => this.#notifications.inc({ sink: s.name, outcome }, d));
      for (const outcome of OUTCOMES) this.#notifications.inc({ sink: s.name, outcome }, 0);
      this.#queue.set({ sink: s.name }, s.queued);
    }
    const nets = new Set<string>();
    for (const p of engine.networkPhases(nowMs, this.medianWindowMs)) {
      const labels = { network: p.network, phase: p.phase };
      nets.add(`${p.network}\u0000${p.phase}`);
      if (p.median !== null) this.#median.set(labels, p.median / 1000); else this.#median.remove(labels);
      if (p.baseline !== null) this.#baseline.set(labels, p.baseline / 1000); else this.#baseline.remove(labels);
    }
    for (const k of this.#netSeries) {
      if (nets.has(k)) continue;
      const [network, phase] = k.split('\u0000') as [string, string];
      this.#median.remove({ network, phase });
      this.#baseline.remove({ network, phase });
    }
    this.#netSeries = nets;
    const active = new Set(st.adaptive.active);
    for (const n of active) this.#active.set({ network: n }, 1);
    for (const n of this.#activeSeries) if (!active.has(n)) this.#active.remove({ network: n });
    this.#activeSeries = active;
    this.#mirror('on', st.adaptive.switchedOn, (d) => this.#switches.inc({ direction: 'on' }, d));
    this.#mirror('off', st.adaptive.switchedOff, (d) => this.#switches.inc({ direction: 'off' }, d));
    this.#mirror('bytes', st.adaptive.bytes, (d) => this.#bytes.inc(d));
  }
}
