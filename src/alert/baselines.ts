/**
 * Per-network baselines of `tcp_rtt` and `flight_rtt` (issue 12): what "normal" is for each of the
 * busiest client networks, learned slowly, kept across restarts.
 *
 * - Every handshake (slow or not) adds its phase values to its network's recent samples (a ring
 *   of the newest RECENT values with their times).
 * - `learn(now)` (each evaluation) folds the median of the samples that arrived since the last
 *   fold into the baseline, exponentially weighted by the time passed: half of a lasting change is
 *   learned in `halfLifeMs` (hours by default), so a regression stands out for hours before the
 *   baseline accepts it as the new normal. A network first seen slow learns that as its normal.
 * - `recent(net, phase, windowMs, now)`: the median and count of the samples in the window, what a
 *   baseline rule compares with the baseline.
 * - At most `maxNetworks` networks: when full, a new network takes the place of the least busy one
 *   only when that one has gone quiet (decayed count below 1); otherwise it is not tracked
 *   (counted). The busiest networks keep their baselines under a flood of new ones.
 * - `save()`/`load()`: a JSON state file in the state directory, replaced atomically (the
 *   baselines, when each was first learned; not the recent samples).
 */
import { readStateFile, writeStateFile } from '../sinks/state-file.js';
import type { BaselinePhase } from './rules.js';

export const BASELINE_PHASES: readonly BaselinePhase[] = ['tcp_rtt', 'flight_rtt'];
const RECENT = 256;
/** The busyness count halves every 10 minutes. */
const ACTIVITY_HALF_LIFE_MS = 600_000;
const FILE_VERSION = 1;
/**
 * One fold counts for at most this much learning time: a network that was quiet for hours (or a
 * daemon that was down) does not have its baseline replaced by the first minute after.
 */
const MAX_FOLD_MS = 60_000;

class PhaseState {
  readonly values = new Float64Array(RECENT);
  readonly times = new Float64Array(RECENT);
  n = 0;
  head = 0;
  /** Samples added since the last learn(). */
  fresh = 0;
  baseline: number | null = null;
  learnedSinceMs = 0;
  learnedAtMs = 0;

  add(v: number, nowMs: number): void {
    this.values[this.head] = v;
    this.times[this.head] = nowMs;
    this.head = (this.head + 1) % RECENT;
    if (this.n < RECENT) this.n++;
    if (this.fresh < RECENT) this.fresh++;
  }

  /** The newest `k` values, or those at most `windowMs` old, into `out` (newest first); returns how many. */
  collect(k: number, windowMs: number, nowMs: number, out: Float64Array): number {
    let n = 0;
    for (let i = 0; i < Math.min(k, this.n); i++) {
      const j = (this.head - 1 - i + RECENT) % RECENT;
      if (nowMs - this.times[j]! > windowMs) break;
      out[n++] = this.values[j]!;
    }
    return n;
  }
}

/**
 * The median of out[0..n), which it sorts in place (null when n is 0): telemetry/stats.ts's
 * medianInPlace without its allocation (Array#sort with a comparator took 4% of watch's main
 * thread and 7% of its allocation, recomputing every network's medians once a second). A stable
 * insertion sort on `a > b`, so the order, -0 and 0 included, is the one the stable
 * `(a, b) => a - b` sort gives; n is at most RECENT.
 */
function medianOf(xs: Float64Array, n: number): number | null {
  if (n === 0) return null;
  for (let i = 1; i < n; i++) {
    const v = xs[i]!;
    let j = i - 1;
    while (j >= 0 && xs[j]! > v) { xs[j + 1] = xs[j]!; j--; }
    xs[j + 1] = v;
  }
  const m = n >> 1;
  return n % 2 === 1 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}

class NetworkState {
  readonly phases: Record<BaselinePhase, PhaseState> = { tcp_rtt: new PhaseState(), flight_rtt: new PhaseState() };
  activity = 0;
  activityAtMs = 0;

  touch(nowMs: number): void {
    this.activity = this.decayed(nowMs) + 1;
    this.activityAtMs = nowMs;
  }

  decayed(nowMs: number): number {
    return this.activity * Math.pow(0.5, Math.max(0, nowMs - this.activityAtMs) / ACTIVITY_HALF_LIFE_MS);
  }
}

export interface BaselineOptions {
  maxNetworks: number;
  halfLifeMs: number;
  /** Fewer fresh samples than this since the last fold: nothing is learned this time. */
  minFresh?: number;
}

export interface BaselineView {
  network: string;
  phase: BaselinePhase;
  baseline: number | null;
  /** ms the baseline has been learned for. */
  learnedForMs: number;
}

export class Baselines {
  readonly #nets = new Map<string, NetworkState>();
  readonly #scratch = new Float64Array(RECENT);
  /** Handshakes of networks not tracked (the table was full of busier ones). */
  untracked = 0;
  /** Networks that took the place of a quiet one. */
  replaced = 0;

  constructor(readonly opts: BaselineOptions) {}

  get size(): number { return this.#nets.size; }

  #state(net: string, nowMs: number): NetworkState | null {
    let s = this.#nets.get(net);
    if (s !== undefined) return s;
    if (this.#nets.size >= this.opts.maxNetworks) {
      let quiet: string | null = null, least = Infinity;
      for (const [k, v] of this.#nets) {
        const d = v.decayed(nowMs);
        if (d < least) { least = d; quiet = k; }
      }
      if (quiet === null || least >= 1) { this.untracked++; return null; }
      this.#nets.delete(quiet);
      this.replaced++;
    }
    s = new NetworkState();
    this.#nets.set(net, s);
    return s;
  }

  /** One handshake's phases (ms; null when the phase was not measured). */
  observe(net: string, tcpRttMs: number | null, flightRttMs: number | null, nowMs: number): void {
    if (tcpRttMs === null && flightRttMs === null) return;
    const s = this.#state(net, nowMs);
    if (s === null) return;
    s.touch(nowMs);
    if (tcpRttMs !== null && Number.isFinite(tcpRttMs)) s.phases.tcp_rtt.add(tcpRttMs, nowMs);
    if (flightRttMs !== null && Number.isFinite(flightRttMs)) s.phases.flight_rtt.add(flightRttMs, nowMs);
  }

  /** Folds what arrived since the last call into every baseline. */
  learn(nowMs: number): void {
    const minFresh = this.opts.minFresh ?? 3;
    for (const s of this.#nets.values()) {
      for (const p of BASELINE_PHASES) {
        const ph = s.phases[p];
        if (ph.fresh < minFresh) continue;
        const m = medianOf(this.#scratch, ph.collect(ph.fresh, Infinity, nowMs, this.#scratch));
        ph.fresh = 0;
        if (m === null) continue;
        if (ph.baseline === null) {
          ph.baseline = m;
          ph.learnedSinceMs = nowMs;
        } else {
          const a = 1 - Math.pow(0.5, Math.min(MAX_FOLD_MS, Math.max(0, nowMs - ph.learnedAtMs)) / this.opts.halfLifeMs);
          ph.baseline += a * (m - ph.baseline);
        }
        ph.learnedAtMs = nowMs;
      }
    }
  }

  /** The median and count of a network's samples of the last `windowMs`. */
  recent(net: string, phase: BaselinePhase, windowMs: number, nowMs: number): { median: number | null; count: number } {
    const s = this.#nets.get(net);
    if (s === undefined) return { median: null, count: 0 };
    const count = s.phases[phase].collect(RECENT, windowMs, nowMs, this.#scratch);
    return { median: medianOf(this.#scratch, count), count };
  }

  baseline(net: string, phase: BaselinePhase, nowMs: number): { value: number | null; learnedForMs: number } {
    const ph = this.#nets.get(net)?.phases[phase];
    if (ph === undefined || ph.baseline === null) return { value: null, learnedForMs: 0 };
    return { value: ph.baseline, learnedForMs: nowMs - ph.learnedSinceMs };
  }

  networks(): IterableIterator<string> { return this.#nets.keys(); }

  toJSON(nowMs: number): unknown {
    const networks: Record<string, unknown> = {};
    for (const [k, s] of this.#nets) {
      const entry: Record<string, unknown> = { activity: Number(s.decayed(nowMs).toFixed(3)) };
      for (const p of BASELINE_PHASES) {
        const ph = s.phases[p];
        if (ph.baseline !== null) entry[p] = { baseline_ms: ph.baseline, learned_since: new Date(ph.learnedSinceMs).toISOString(), learned_at: new Date(ph.learnedAtMs).toISOString() };
      }
      networks[k] = entry;
    }
    return { version: FILE_VERSION, saved_at: new Date(nowMs).toISOString(), half_life_ms: this.opts.halfLifeMs, networks };
  }

  save(path: string, nowMs: number): void {
    writeStateFile(path, JSON.stringify(this.toJSON(nowMs), null, 1) + '\n');
  }

  /**
   * Restores saved baselines; returns how many networks. A file that is not one (or of another
   * version) throws an Error naming the file and what is wrong; the caller logs it and starts
   * fresh.
   */
  load(path: string, nowMs: number): number {
    const text = readStateFile(path);
    if (text === null) return 0;
    let data: { version?: unknown; networks?: unknown };
    try { data = JSON.parse(text) as typeof data; } catch (err) { throw new Error(`${path}: not a baselines file (${(err as Error).message})`); }
    if (data.version !== FILE_VERSION || data.networks === null || typeof data.networks !== 'object') throw new Error(`${path}: not a version ${FILE_VERSION} baselines file`);
    let n = 0;
    for (const [k, v] of Object.entries(data.networks as Record<string, Record<string, unknown>>)) {
      if (this.#nets.size >= this.opts.maxNetworks) break;
      const s = new NetworkState();
      s.activity = typeof v.activity === 'number' ? v.activity : 0;
      s.activityAtMs = nowMs;
      for (const p of BASELINE_PHASES) {
        const b = v[p] as { baseline_ms?: unknown; learned_since?: unknown; learned_at?: unknown } | undefined;
        if (b === undefined || typeof b.baseline_ms !== 'number' || !Number.isFinite(b.baseline_ms)) continue;
        const since = Date.parse(String(b.learned_since));
        s.phases[p].baseline = b.baseline_ms;
        s.phases[p].learnedSinceMs = Number.isFinite(since) && since <= nowMs ? since : nowMs;
        s.phases[p].learnedAtMs = nowMs;
      }
      this.#nets.set(k, s);
      n++;
    }
    return n;
  }
}
