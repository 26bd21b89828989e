/**
 * What the rate rules look at: slow handshakes counted in time buckets by verdict, for the whole
 * edge and per client network, and the last few slow records of each (for an alert's example
 * flows and median phases). Memory is bounded by design: a fixed ring of buckets per series and at
 * most `maxNetworks` network series (the least recently seen is replaced, and counted), so a flood
 * of handshakes from ever new networks costs the same as one network.
 */
import type { FlowRecord } from '../handshake/record.js';
import type { Verdict } from '../handshake/verdict.js';
import { medianInPlace } from '../telemetry/stats.js';

export const VERDICTS: readonly Verdict[] = ['client', 'network', 'server', 'loss', 'incomplete'];
const VERDICT_INDEX: Record<Verdict, number> = { client: 0, network: 1, server: 2, loss: 3, incomplete: 4 };
/** Counts per bucket: the five verdicts, then all slow handshakes. */
const STRIDE = 6;
const ANY = 5;

/** An example flow kept for annotations. */
export interface Example {
  atMs: number;
  verdict: Verdict;
  client: string;
  server: string;
  sni: string | null;
  totalMs: number | null;
  pcap: string | null;
  reason: string | null;
  phases: FlowRecord['phases_ms'];
  attribution: string | null;
}

/** Slow handshakes in time buckets (one series). */
class Series {
  readonly counts: Uint32Array;
  /** The bucket number (ms / bucketMs) each slot holds, -1 when never used. */
  readonly slot: Float64Array;
  lastSeenMs = 0;
  readonly examples: Example[] = [];

  constructor(readonly buckets: number) {
    this.counts = new Uint32Array(buckets * STRIDE);
    this.slot = new Float64Array(buckets).fill(-1);
  }

  add(bucket: number, verdict: Verdict): void {
    const i = bucket % this.buckets;
    if (this.slot[i] !== bucket) {
      this.slot[i] = bucket;
      this.counts.fill(0, i * STRIDE, i * STRIDE + STRIDE);
    }
    this.counts[i * STRIDE + VERDICT_INDEX[verdict]]!++;
    this.counts[i * STRIDE + ANY]!++;
  }

  /** Slow handshakes of `verdict` (or all) in the buckets from `fromBucket` to `toBucket`. */
  sum(fromBucket: number, toBucket: number, verdict: Verdict | 'any'): number {
    const off = verdict === 'any' ? ANY : VERDICT_INDEX[verdict];
    let n = 0;
    for (let b = Math.max(fromBucket, toBucket - this.buckets + 1); b <= toBucket; b++) {
      const i = b % this.buckets;
      if (this.slot[i] === b) n += this.counts[i * STRIDE + off]!;
    }
    return n;
  }
}

export interface SlowWindowOptions {
  /** The longest rule window (ms): the buckets kept. */
  maxWindowMs: number;
  bucketMs: number;
  maxNetworks: number;
  /** Examples kept per series (the newest). */
  examples: number;
}

export class SlowWindow {
  readonly #all: Series;
  readonly #nets = new Map<string, Series>();
  readonly #buckets: number;
  /** Network series replaced to stay within maxNetworks. */
  networksReplaced = 0;

  constructor(readonly opts: SlowWindowOptions) {
    this.#buckets = Math.ceil(opts.maxWindowMs / opts.bucketMs) + 1;
    this.#all = new Series(this.#buckets);
  }

  #bucket(ms: number): number { return Math.floor(ms / this.opts.bucketMs); }

  #series(net: string, nowMs: number): Series {
    let s = this.#nets.get(net);
    if (s !== undefined) {
      // Map order is recency order: delete and set moves it to the end.
      this.#nets.delete(net);
    } else if (this.#nets.size >= this.opts.maxNetworks) {
      const oldest = this.#nets.keys().next().value as string;
      this.#nets.delete(oldest);
      this.networksReplaced++;
    }
    s ??= new Series(this.#buckets);
    s.lastSeenMs = nowMs;
    this.#nets.set(net, s);
    return s;
  }

  /** One slow handshake of `net`. */
  add(net: string, verdict: Verdict, nowMs: number): void {
    const b = this.#bucket(nowMs);
    this.#all.add(b, verdict);
    this.#series(net, nowMs).add(b, verdict);
  }

  /** A slow record with its evidence written (pcap path known): an example for its series. */
  example(net: string, ex: Example): void {
    const max = this.opts.examples;
    if (max === 0) return;
    for (const list of [this.#all.examples, this.#nets.get(net)?.examples]) {
      if (list === undefined) continue;
      list.push(ex);
      if (list.length > Math.max(max, 32)) list.shift(); // more than shown: the medians use them too
    }
  }

  /** Slow handshakes of `verdict` in the last `windowMs`, all networks or one. */
  count(verdict: Verdict | 'any', windowMs: number, nowMs: number, net: string | null = null): number {
    const s = net === null ? this.#all : this.#nets.get(net);
    if (s === undefined) return 0;
    const to = this.#bucket(nowMs);
    return s.sum(to - Math.ceil(windowMs / this.opts.bucketMs) + 1, to, verdict);
  }

  /** Networks with a slow handshake in the last `windowMs`. */
  networks(windowMs: number, nowMs: number): string[] {
    const out: string[] = [];
    for (const [k, s] of this.#nets) if (nowMs - s.lastSeenMs <= windowMs) out.push(k);
    return out;
  }

  /** The newest examples of a series within the window and matching the verdict (newest first). */
  examples(verdict: Verdict | 'any', windowMs: number, nowMs: number, net: string | null = null): Example[] {
    const s = net === null ? this.#all : this.#nets.get(net);
    if (s === undefined) return [];
    const out: Example[] = [];
    for (let i = s.examples.length - 1; i >= 0; i--) {
      const e = s.examples[i]!;
      if (nowMs - e.atMs > windowMs) break;
      if (verdict === 'any' || e.verdict === verdict) out.push(e);
    }
    return out;
  }

  get trackedNetworks(): number { return this.#nets.size; }
}

/** The median of the non-null values (null when none). */
export function median(values: readonly (number | null)[]): number | null {
  return medianInPlace(values.filter((x): x is number => x !== null && Number.isFinite(x)));
}
