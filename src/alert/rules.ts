/**
 * Alert rules (issue 12): their config shape (`[[alerts.rule]]` tables, validated by zod with the
 * key named on error), the shipped defaults, and the merge of both.
 *
 * Three kinds:
 * - rate: slow handshakes with verdict V (or any) above N per minute over a window, optionally
 *   per client network (the metrics' network label: attribution group, else the /24 or /48);
 * - baseline: a client network's recent median `tcp_rtt` or `flight_rtt` above its own learned
 *   baseline by more than P% (and by at least `min_rise`), once the baseline has warmed up;
 * - health: the daemon's own evidence is at risk — capture drops, a ring shorter than the hold
 *   plus margin, journal lag, failing evidence writes.
 *
 * Every rule has `for` (how long the condition holds before the alert fires), a severity, and
 * extra labels and annotations. With `[alerts] default_rules = true` (the default) the shipped
 * rules run, a file's rule of the same name replaces one, and `enabled = false` turns one off.
 */
import { z } from 'zod';
import { formatDuration } from '../config/units.js';
import { duration as anyDuration } from '../config/types.js';

const duration = (minMs: number, maxMs: number): z.ZodType<number> => anyDuration(minMs, maxMs) as z.ZodType<number>;

export type RateVerdict = 'client' | 'network' | 'server' | 'loss' | 'incomplete' | 'any';
export type BaselinePhase = 'tcp_rtt' | 'flight_rtt';
export type HealthCheck = 'drops' | 'ring_reach' | 'journal_lag' | 'evidence_failures';

interface RuleBase {
  name: string;
  /** Alertmanager's alertname label. */
  alertname: string;
  enabled: boolean;
  forMs: number;
  severity: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RateRule extends RuleBase {
  kind: 'rate';
  verdict: RateVerdict;
  perMinute: number;
  windowMs: number;
  perNetwork: boolean;
  /** Widen capture to full packets for the network while this fires (per-network rules). */
  adaptive: boolean;
}

export interface BaselineRule extends RuleBase {
  kind: 'baseline';
  phase: BaselinePhase;
  risePercent: number;
  minRiseMs: number;
  windowMs: number;
  minSamples: number;
  adaptive: boolean;
}

export interface HealthRule extends RuleBase {
  kind: 'health';
  check: HealthCheck;
  /**
   * drops: packets dropped per minute over the window (fires above it; 0: any drop);
   * ring_reach: seconds of slack the ring must have beyond hold + margin;
   * journal_lag: seconds; evidence_failures: failed writes over the window (fires above it).
   */
  threshold: number;
  windowMs: number;
}

export type AlertRule = RateRule | BaselineRule | HealthRule;


/** A number, fractions allowed (the config's whole numbers say "a whole number"). */
function num(min: number, max: number, exclusiveMin = false): z.ZodType<number> {
  return z.unknown().transform((v, ctx) => {
    const ok = typeof v === 'number' && Number.isFinite(v) && (exclusiveMin ? v > min : v >= min) && v <= max;
    if (!ok) ctx.addIssue({ code: 'custom', message: `a number ${exclusiveMin ? 'above' : 'from'} ${min} up to ${max} (fractions allowed)` });
    return ok ? v : 0;
  }) as unknown as z.ZodType<number>;
}

/** Prometheus label names; values any string. */
const labelName = /^[A-Za-z_][A-Za-z0-9_]*$/;
const labelMap = z.record(z.string().regex(labelName), z.string());
const HOUR = 3_600_000;

const base = {
  name: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  alertname: z.string().regex(labelName).optional(),
  enabled: z.boolean().optional(),
  for: duration(0, 24 * HOUR).optional(),
  severity: z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/).optional(),
  labels: labelMap.optional(),
  annotations: z.record(z.string().regex(labelName), z.string()).optional(),
};

/** One `[[alerts.rule]]` table as written in the file. */
export const RULE_SCHEMA = z.discriminatedUnion('kind', [
  z.strictObject({
    ...base, kind: z.literal('rate'),
    verdict: z.enum(['client', 'network', 'server', 'loss', 'incomplete', 'any']).optional(),
    per_minute: num(0, 1e9, true),
    window: duration(1000, HOUR).optional(),
    per_network: z.boolean().optional(),
    adaptive: z.boolean().optional(),
  }),
  z.strictObject({
    ...base, kind: z.literal('baseline'),
    phase: z.enum(['tcp_rtt', 'flight_rtt']).optional(),
    rise_percent: num(0, 100_000, true),
    min_rise: duration(0, 60_000).optional(),
    window: duration(1000, HOUR).optional(),
    min_samples: z.int().min(1).max(10_000).optional(),
    adaptive: z.boolean().optional(),
  }),
  z.strictObject({
    ...base, kind: z.literal('health'),
    check: z.enum(['drops', 'ring_reach', 'journal_lag', 'evidence_failures']),
    threshold: num(0, 1e12).optional(),
    window: duration(1000, HOUR).optional(),
  }),
]);
export type RuleInput = z.output<typeof RULE_SCHEMA>;

/** "slow_network" → "SlowshakeSlowNetwork". */
function alertnameOf(name: string): string {
  return 'Slowshake' + name.split(/[^A-Za-z0-9]+/).filter(Boolean).map((w) => w[0]!.toUpperCase() + w.slice(1)).join('');
}

const HEALTH_THRESHOLD: Record<HealthCheck, number> = { drops: 0, ring_reach: 5, journal_lag: 30, evidence_failures: 0 };

/** A validated rule table with every default filled in. */
export function normaliseRule(r: RuleInput): AlertRule {
  const common = {
    name: r.name, alertname: r.alertname ?? alertnameOf(r.name), enabled: r.enabled ?? true, forMs: r.for ?? 5 * 60_000,
    severity: r.severity ?? 'warning', labels: { ...(r.labels ?? {}) }, annotations: { ...(r.annotations ?? {}) },
  };
  switch (r.kind) {
    case 'rate': {
      const perNetwork = r.per_network ?? false;
      return { ...common, kind: 'rate', verdict: r.verdict ?? 'any', perMinute: r.per_minute, windowMs: r.window ?? 5 * 60_000, perNetwork, adaptive: r.adaptive ?? perNetwork };
    }
    case 'baseline':
      return { ...common, kind: 'baseline', phase: r.phase ?? 'tcp_rtt', risePercent: r.rise_percent, minRiseMs: r.min_rise ?? 10, windowMs: r.window ?? 10 * 60_000, minSamples: r.min_samples ?? 20, adaptive: r.adaptive ?? true };
    case 'health':
      return { ...common, kind: 'health', check: r.check, threshold: r.threshold ?? HEALTH_THRESHOLD[r.check], windowMs: r.window ?? 5 * 60_000 };
  }
}

const raw = (r: Record<string, unknown>): RuleInput => RULE_SCHEMA.parse(r);

/** The shipped rules (`slowshake config --print-defaults` shows them; `default_rules = false` drops them). */
export const DEFAULT_RULES: readonly AlertRule[] = [
  ...(['client', 'network', 'server', 'loss'] as const).map((v) => normaliseRule(raw({
    kind: 'rate', name: `slow_${v}`, verdict: v, per_minute: 30, window: '5m', for: '5m',
    annotations: { runbook: `Slow handshakes with verdict ${v}: see the example pcaps; design.md's phase model says which phases count as ${v}.` },
  }))),
  normaliseRule(raw({ kind: 'rate', name: 'slow_from_network', verdict: 'any', per_network: true, per_minute: 10, window: '5m', for: '5m' })),
  normaliseRule(raw({ kind: 'baseline', name: 'tcp_rtt_rise', phase: 'tcp_rtt', rise_percent: 50, min_rise: '10ms', window: '10m', min_samples: 20, for: '10m' })),
  normaliseRule(raw({ kind: 'baseline', name: 'flight_rtt_rise', phase: 'flight_rtt', rise_percent: 50, min_rise: '10ms', window: '10m', min_samples: 20, for: '10m' })),
  normaliseRule(raw({ kind: 'health', name: 'capture_drops', check: 'drops', window: '5m', for: '1m', severity: 'critical' })),
  normaliseRule(raw({ kind: 'health', name: 'ring_too_short', check: 'ring_reach', for: '2m' })),
  normaliseRule(raw({ kind: 'health', name: 'journal_lag', check: 'journal_lag', for: '2m' })),
  normaliseRule(raw({ kind: 'health', name: 'evidence_writes_failing', check: 'evidence_failures', window: '5m', for: '0s', severity: 'critical' })),
];

/** The rules watch runs: the defaults (when wanted) with the file's rules over them by name. */
export function effectiveRules(defaults: boolean, rules: readonly AlertRule[]): AlertRule[] {
  const byName = new Map<string, AlertRule>();
  if (defaults) for (const r of DEFAULT_RULES) byName.set(r.name, r);
  for (const r of rules) byName.set(r.name, r);
  return [...byName.values()].filter((r) => r.enabled);
}

/** A rule's condition in words (logs, `config --print-defaults`). */
export function describeRule(r: AlertRule): string {
  const f = r.forMs > 0 ? ` for ${formatDuration(r.forMs)}` : '';
  switch (r.kind) {
    case 'rate': return `slow handshakes${r.verdict === 'any' ? '' : ` with verdict ${r.verdict}`}${r.perNetwork ? ' from one client network' : ''} above ${r.perMinute}/min over ${formatDuration(r.windowMs)}${f}`;
    case 'baseline': return `a client network's median ${r.phase} over ${formatDuration(r.windowMs)} above its baseline by more than ${r.risePercent}% (and ${r.minRiseMs} ms)${f}`;
    case 'health':
      switch (r.check) {
        case 'drops': return `capture drops packets (above ${r.threshold}/min over ${formatDuration(r.windowMs)})${f}`;
        case 'ring_reach': return `the ring reaches back less than hold + margin + ${r.threshold} s${f}`;
        case 'journal_lag': return `journal entries arrive more than ${r.threshold} s late${f}`;
        case 'evidence_failures': return `evidence writes fail (more than ${r.threshold} over ${formatDuration(r.windowMs)}, or the disk is full)${f}`;
      }
  }
}
