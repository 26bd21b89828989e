/**
 * Slow handshakes by client network with bounded cardinality (issue 9 §4): at most N networks
 * are metric labels at a time, every other slow handshake counts as "other".
 *
 * 1. A client address becomes its network: its client attribution group when it has one
 *    (watch: "aws us-east-1 EC2" from the range files, "AS64500 Example Transit" from the ASN
 *    database), else IPv4 /24 and IPv6 /48 by default ("203.0.113.0/24", "2001:db8:1::/48").
 * 2. A network with a label counts under it. Any other counts under "other" and in a bounded
 *    candidate table (space-saving: at most max(256, 64·N) candidates; a new one replaces the
 *    smallest and inherits its count as its possible error, so a network with more than
 *    total/size slow handshakes is never lost to a stream of one-off networks, and candidates are
 *    ranked by their guaranteed count, count − error).
 * 3. `rebalance(nowMs)` (every minute, on the status clock): free labels go to the candidates with
 *    the most slow handshakes since the last rebalance (at least `minCount`), most first; a label
 *    whose network had no slow handshake for `idleMs` (an hour) is freed, and its series end.
 *    Counters stay monotonic per series: a network's handshakes before it got its label stay in
 *    "other".
 */
import { formatIp } from '../handshake/addr.js';

export interface NetworkSlotsOptions {
  slots: number;
  ipv4Prefix: number;
  ipv6Prefix: number;
  /** Slow handshakes in one rebalance period a candidate needs for a label (default 2). */
  minCount?: number;
  /** A label unused this long is freed (default one hour). */
  idleMs?: number;
  onAdded?: (network: string) => void;
  onRemoved?: (network: string) => void;
}

/** The network of a client address at the given prefix length (address bytes, 4 or 16). */
export function networkOf(addr: Uint8Array, ipv4Prefix: number, ipv6Prefix: number): string {
  const bits = addr.length === 4 ? ipv4Prefix : ipv6Prefix;
  const masked = new Uint8Array(addr.length);
  for (let i = 0; i < addr.length; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    masked[i] = addr[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${formatIp(masked)}/${bits}`;
}

export class NetworkSlots {
  /** Labelled networks → time of their last slow handshake. */
  readonly #labelled = new Map<string, number>();
  /** Candidates → slow handshakes since the last rebalance (space-saving count and its error). */
  readonly #candidates = new Map<string, { n: number; err: number }>();
  readonly #maxCandidates: number;
  /** Counted under "other" so far. */
  other = 0;

  constructor(readonly opts: NetworkSlotsOptions) {
    this.#maxCandidates = Math.max(256, 64 * opts.slots);
  }

  get labelled(): string[] { return [...this.#labelled.keys()]; }

  /** The label one slow handshake of `addr` counts under (its network, or "other"). */
  count(addr: Uint8Array, nowMs: number): string {
    return this.countKey(networkOf(addr, this.opts.ipv4Prefix, this.opts.ipv6Prefix), nowMs);
  }

  /** The same for a network already named (client attribution's group: provider, ASN or prefix). */
  countKey(net: string, nowMs: number): string {
    if (this.#labelled.has(net)) {
      this.#labelled.set(net, nowMs);
      return net;
    }
    this.other++;
    const c = this.#candidates.get(net);
    if (c !== undefined) c.n++;
    else if (this.#candidates.size < this.#maxCandidates) this.#candidates.set(net, { n: 1, err: 0 });
    else {
      // A linear scan for the smallest: only for a network not seen this minute once the table
      // is full (slow handshakes, not packets; a few hundred entries).
      let minKey = '', min = Infinity;
      for (const [k, v] of this.#candidates) if (v.n < min) { min = v.n; minKey = k; }
      this.#candidates.delete(minKey);
      this.#candidates.set(net, { n: min + 1, err: min });
    }
    return 'other';
  }

  rebalance(nowMs: number): void {
    const idle = this.opts.idleMs ?? 3_600_000;
    for (const [net, last] of this.#labelled) {
      if (nowMs - last > idle) { this.#labelled.delete(net); this.opts.onRemoved?.(net); }
    }
    const min = this.opts.minCount ?? 2;
    const ranked = [...this.#candidates].map(([net, c]) => [net, c.n - c.err] as const).filter(([, n]) => n >= min).sort((a, b) => b[1] - a[1]);
    for (const [net] of ranked) {
      if (this.#labelled.size >= this.opts.slots) break;
      this.#labelled.set(net, nowMs);
      this.opts.onAdded?.(net);
    }
    this.#candidates.clear();
  }
}
