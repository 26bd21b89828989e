/**
 * What the report shows about all handshakes at once, computed in one pass so that 100k records
 * make a page of the same size as 1k: verdict counts, and per phase a histogram over fixed
 * log-spaced bins with exact percentiles (one sorted Float64Array per phase, dropped after).
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';
import type { Verdict } from '../handshake/verdict.js';

export const VERDICTS: readonly Verdict[] = ['client', 'network', 'server', 'loss', 'incomplete'];
/** Every phase the report charts: the consecutive phases, loss, cwnd_stall and the total. */
export const CHART_PHASES = [...PHASES, 'loss', 'cwnd_stall', 'total'] as const;
export type ChartPhase = (typeof CHART_PHASES)[number];

/**
 * Histogram bin edges in ms: bin 0 holds exact zeros (a phase that took no time, e.g.
 * server_finish in TLS 1.3), then four bins per decade from 0.01 ms to 100 s, the last bin open.
 */
export const BIN_EDGES: readonly number[] = (() => {
  const e = [0];
  for (let k = -8; k <= 20; k++) e.push(Math.round(10 ** (k / 4) * 1e6) / 1e6);
  return e;
})();

/** Index of the bin holding `v` (ms, >= 0). */
export function binOf(v: number): number {
  if (v <= 0) return 0;
  let lo = 1;
  let hi = BIN_EDGES.length - 1;
  if (v < BIN_EDGES[1]!) return 1; // (0, 0.01): with the first log bin
  while (lo < hi) { // largest i with BIN_EDGES[i] <= v
    const mid = (lo + hi + 1) >> 1;
    if (BIN_EDGES[mid]! <= v) lo = mid; else hi = mid - 1;
  }
  return lo;
}

export interface PhaseDistribution {
  phase: ChartPhase;
  /** Records where the phase was measured (non-null). */
  n: number;
  /** Counts per bin (BIN_EDGES.length bins; bin i is [edge i, edge i+1), the last open). */
  bins: number[];
  p50: number | null;
  p90: number | null;
  p99: number | null;
  max: number | null;
  /** Mean over the measured records. */
  mean: number | null;
}

export interface Aggregate {
  records: number;
  slow: number;
  verdicts: Record<Verdict, number>;
  slowVerdicts: Record<Verdict, number>;
  phases: PhaseDistribution[];
}

/** The q-quantile of sorted `xs[0..n)` (nearest rank). */
function quantile(xs: Float64Array, n: number, q: number): number | null {
  if (n === 0) return null;
  return xs[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
}

export function aggregate(records: readonly FlowRecord[]): Aggregate {
  const zero = (): Record<Verdict, number> => ({ client: 0, network: 0, server: 0, loss: 0, incomplete: 0 });
  const verdicts = zero();
  const slowVerdicts = zero();
  let slow = 0;
  const values = CHART_PHASES.map(() => new Float64Array(records.length));
  const counts = CHART_PHASES.map(() => 0);
  const bins = CHART_PHASES.map(() => new Array<number>(BIN_EDGES.length).fill(0));
  const sums = CHART_PHASES.map(() => 0);
  for (const r of records) {
    verdicts[r.verdict]++;
    if (r.slow) { slow++; slowVerdicts[r.verdict]++; }
    for (let i = 0; i < CHART_PHASES.length; i++) {
      const v = r.phases_ms[CHART_PHASES[i]!];
      if (v === null || v === undefined) continue;
      values[i]![counts[i]!++] = v;
      bins[i]![binOf(v)]!++;
      sums[i]! += v;
    }
  }
  const phases = CHART_PHASES.map((phase, i): PhaseDistribution => {
    const n = counts[i]!;
    const xs = values[i]!.subarray(0, n).sort();
    return {
      phase, n, bins: bins[i]!, p50: quantile(xs, n, 0.5), p90: quantile(xs, n, 0.9), p99: quantile(xs, n, 0.99),
      max: n > 0 ? xs[n - 1]! : null, mean: n > 0 ? Math.round((sums[i]! / n) * 1000) / 1000 : null,
    };
  });
  return { records: records.length, slow, verdicts, slowVerdicts, phases };
}

/** Slowest first by total (a record without a total — an incomplete or missing flow — after those with one), ties in canonical order. */
export function slowestFirst(records: readonly FlowRecord[]): FlowRecord[] {
  const total = (r: FlowRecord): number => r.phases_ms.total ?? -1;
  // records arrive in canonical order; Array.prototype.sort is stable
  return [...records].sort((a, b) => total(b) - total(a));
}
