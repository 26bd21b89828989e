/**
 * "Top slow networks": slow handshakes grouped by the client's network, so "mostly client_think
 * from one provider's VMs in one region" and "high tcp_rtt from one ASN" each show as one line.
 *
 * 1. A record's group is the most telling thing client_info knows: provider and region (and
 *    service) from the range files, else the ASN, else the prefix (/24, /48). Records without
 *    client_info are counted apart (`unattributed`), never as a network.
 * 2. Per group: count, verdict mix, and the median of total and of every phase (0 where a
 *    measured handshake did not have the phase) over a bounded
 *    reservoir sample (SAMPLES per group, Algorithm R with a fixed-seed generator, so a rerun
 *    gives the same figures).
 * 3. Memory is bounded (hostile traffic from many networks): at most `maxGroups` groups are
 *    tracked, each with a fixed-size sample (1024 × 32 samples × 15 phases × 8 bytes ≈ 4 MiB at
 *    most). A new network when the table is full takes the slot of the group with the smallest
 *    count + error, Space-Saving style (Metwally et al. 2005): the evicted group's records move
 *    to `other` (so every slow handshake stays counted exactly once) and the newcomer starts with
 *    that count as its `error`, so a late but heavy network still climbs into the table instead
 *    of being evicted again at once. A row's `count` is exact since the group was tracked; with
 *    `error` > 0 the network may have had up to `error` more records, counted in `other`.
 *    `top(n)` returns the n largest groups, the remainder summed as `other`.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';
import type { Verdict } from '../handshake/verdict.js';
import { medianInPlace } from '../telemetry/stats.js';

const SAMPLES = 32;
const PHASE_KEYS = [...PHASES, 'loss', 'total'] as const;
type PhaseKey = (typeof PHASE_KEYS)[number];
const VERDICTS: readonly Verdict[] = ['client', 'network', 'server', 'loss', 'incomplete'];

export type GroupKind = 'provider' | 'asn' | 'prefix';

export interface NetworkRow {
  /** "aws us-east-1 EC2", "AS64500 Example Networks", "198.51.100.0/24", or "other (N more networks[, M evicted])". */
  network: string;
  kind: GroupKind | 'other';
  count: number;
  verdicts: Partial<Record<Verdict, number>>;
  /** Median ms of total and of each phase over the group's sample (null when never measured). */
  median_ms: Partial<Record<PhaseKey, number | null>>;
  /** One PTR name seen in the group (an example for the reader), or null. */
  example_rdns: string | null;
  /** Records of this network possibly counted in `other` before it was tracked (0: count is exact). */
  error: number;
}

class Group {
  count = 0;
  error = 0;
  readonly verdicts = new Map<Verdict, number>();
  /** Sampled phase values, row-major SAMPLES × PHASE_KEYS (NaN = null). */
  readonly sample = new Float64Array(SAMPLES * PHASE_KEYS.length);
  sampled = 0;
  rdns: string | null = null;
  constructor(readonly key: string, readonly kind: GroupKind | 'other') {}
}

export function groupOf(rec: FlowRecord): { key: string; kind: GroupKind } | null {
  const ci = rec.client_info;
  if (ci === undefined) return null;
  if (ci.provider !== null) return { key: [ci.provider, ci.region, ci.service].filter((x) => x !== null).join(' '), kind: 'provider' };
  if (ci.asn !== null) return { key: `AS${ci.asn}${ci.as_org !== null ? ` ${ci.as_org}` : ''}`, kind: 'asn' };
  if (ci.prefix !== null) return { key: ci.prefix, kind: 'prefix' };
  return null;
}

/** Values in a group's sample row per record: one per PHASE_KEYS entry. */
export const SAMPLE_ROW = PHASE_KEYS.length;

/**
 * A record's sample row into `out[at…]`: each phase's ms. A phase that did not happen in a
 * measured handshake (no HRR: hrr_rtt null) counts as 0, so a group's median hrr_rtt is not that
 * of its few HRR flows; without a total, nothing counts (NaN).
 */
export function sampleRow(rec: FlowRecord, out: Float64Array, at: number): void {
  const measured = rec.phases_ms.total !== null;
  for (let i = 0; i < PHASE_KEYS.length; i++) {
    const v = rec.phases_ms[PHASE_KEYS[i]!];
    out[at + i] = v !== null ? v : measured ? 0 : NaN;
  }
}

export class TopNetworks {
  readonly #groups = new Map<string, Group>();
  readonly #other = new Group('other', 'other');
  readonly #maxGroups: number;
  /** Records added without client_info (not counted as any network). */
  unattributed = 0;
  /** Groups evicted into `other` to make room for a new network (Space-Saving). */
  evictions = 0;
  #rng = 0x9e3779b9;

  constructor(maxGroups = 1024) {
    this.#maxGroups = maxGroups;
  }

  /** Adds a record (callers add the slow ones). */
  add(rec: FlowRecord): void {
    const g0 = groupOf(rec);
    const g = g0 === null ? this.#group(null, 'prefix') : this.#group(g0.key, g0.kind);
    if (g === null) return;
    const row = this.#pick(g, rec.verdict, rec.client_info!.rdns);
    if (row >= 0) sampleRow(rec, g.sample, row * PHASE_KEYS.length);
  }

  /**
   * add() from what a record gives it, taken apart where the record was (analyze --threads sends
   * this instead of the record): its group's key and kind (groupOf; key null: unattributed),
   * verdict, rDNS name, and its sample row as sampleRow wrote it at `values[at…]`.
   */
  addParts(key: string | null, kind: GroupKind, verdict: Verdict, rdns: string | null, values: ArrayLike<number>, at: number): void {
    const g = this.#group(key, kind);
    if (g === null) return;
    const row = this.#pick(g, verdict, rdns);
    if (row < 0) return;
    const o = row * PHASE_KEYS.length;
    for (let i = 0; i < PHASE_KEYS.length; i++) g.sample[o + i] = values[at + i]!;
  }

  /** The group of `key`, tracked from now on if new (null: the record is unattributed, `kind` unused). */
  #group(key: string | null, kind: GroupKind): Group | null {
    if (key === null) { this.unattributed++; return null; }
    let g = this.#groups.get(key);
    if (g === undefined) {
      g = new Group(key, kind);
      if (this.#groups.size >= this.#maxGroups) {
        let min: Group | null = null;
        for (const x of this.#groups.values()) if (min === null || x.count + x.error < min.count + min.error) min = x;
        mergeInto(this.#other, min!);
        this.#groups.delete(min!.key);
        this.evictions++;
        g.error = min!.count + min!.error;
      }
      this.#groups.set(key, g);
    }
    return g;
  }

  get groups(): number {
    return this.#groups.size;
  }

  /** Counts a record in `g`; returns the sample row it is to fill, or -1 (not sampled). */
  #pick(g: Group, verdict: Verdict, rdns: string | null): number {
    g.count++;
    g.verdicts.set(verdict, (g.verdicts.get(verdict) ?? 0) + 1);
    if (g.rdns === null && rdns) g.rdns = rdns;
    if (g.sampled < SAMPLES) return g.sampled++;
    // Algorithm R: keep this record with probability SAMPLES / count
    this.#rng = (Math.imul(this.#rng, 1664525) + 1013904223) >>> 0;
    const j = this.#rng % g.count;
    return j < SAMPLES ? j : -1;
  }

  /** The `n` groups with the most slow handshakes (ties: by name), the rest summed as one `other` row. */
  top(n: number): NetworkRow[] {
    const all = [...this.#groups.values()].sort((a, b) => b.count - a.count || (a.key < b.key ? -1 : 1));
    const rows = all.slice(0, n).map((g) => toRow(g, g.key));
    const rest = all.slice(n);
    if (rest.length > 0 || this.#other.count > 0) {
      const o = new Group('other', 'other');
      for (const g of [...rest, this.#other]) mergeInto(o, g);
      const more = `${rest.length} more network${rest.length === 1 ? '' : 's'}`;
      rows.push(toRow(o, `other (${more}${this.evictions > 0 ? `, ${this.evictions} evicted` : ''})`));
    }
    return rows;
  }
}

function mergeInto(o: Group, g: Group): void {
  o.count += g.count;
  for (const [v, c] of g.verdicts) o.verdicts.set(v, (o.verdicts.get(v) ?? 0) + c);
  // the merged sample keeps each group's rows up to SAMPLES in all (an approximation for `other`)
  for (let r = 0; r < g.sampled && o.sampled < SAMPLES; r++) {
    o.sample.set(g.sample.subarray(r * PHASE_KEYS.length, (r + 1) * PHASE_KEYS.length), o.sampled * PHASE_KEYS.length);
    o.sampled++;
  }
  if (o.rdns === null) o.rdns = g.rdns;
}

function median(xs: number[]): number | null {
  const v = medianInPlace(xs);
  return v === null ? null : Math.round(v * 1000) / 1000;
}

function toRow(g: Group, name: string): NetworkRow {
  const verdicts: NetworkRow['verdicts'] = {};
  for (const v of VERDICTS) if (g.verdicts.has(v)) verdicts[v] = g.verdicts.get(v)!;
  const med: NetworkRow['median_ms'] = {};
  for (let i = 0; i < PHASE_KEYS.length; i++) {
    const xs: number[] = [];
    for (let r = 0; r < g.sampled; r++) {
      const v = g.sample[r * PHASE_KEYS.length + i]!;
      if (!Number.isNaN(v)) xs.push(v);
    }
    med[PHASE_KEYS[i]!] = median(xs);
  }
  return { network: name, kind: g.kind, count: g.count, verdicts, median_ms: med, example_rdns: g.rdns, error: g.error };
}

/**
 * The summary section: one line per network with its count, verdict mix, median total and the
 * two phases with the largest medians, e.g.
 * `  aws us-east-1 EC2     12  client 11, network 1   median total 412 ms: client_think 380, tcp_rtt 2   (ec2-…)`.
 */
export function renderTopNetworks(rows: readonly NetworkRow[], extra: { unattributed?: number } = {}): string {
  if (rows.length === 0) return '';
  const name = Math.min(40, Math.max(7, ...rows.map((r) => r.network.length)));
  const lines = [`Top slow networks (slow handshakes by provider/region, else ASN, else prefix):`];
  lines.push(`  ${'network'.padEnd(name)}  ${'slow'.padStart(5)}  verdicts                                median ms`);
  for (const r of rows) {
    const verdicts = Object.entries(r.verdicts).sort((a, b) => b[1] - a[1]).map(([v, c]) => `${v} ${c}`).join(', ');
    const phases = Object.entries(r.median_ms)
      .filter((e): e is [string, number] => e[0] !== 'total' && e[1] !== null && e[1] > 0)
      .sort((a, b) => b[1] - a[1]).slice(0, 2)
      .map(([p, v]) => `${p} ${fmt(v)}`).join(', ');
    const total = r.median_ms.total;
    const med = `total ${total === null || total === undefined ? '-' : fmt(total)}${phases ? `: ${phases}` : ''}`;
    const shown = r.network.length > name ? `${r.network.slice(0, name - 1)}…` : r.network;
    lines.push(`  ${shown.padEnd(name)}  ${`${r.count}${r.error > 0 ? '+' : ''}`.padStart(5)}  ${verdicts.padEnd(38)}  ${med}${r.example_rdns ? `  (e.g. ${r.example_rdns})` : ''}`);
  }
  if (rows.some((r) => r.error > 0)) lines.push('  (+: the network may have more slow handshakes, counted in other while it was not among the tracked networks)');
  if (extra.unattributed) lines.push(`  (${extra.unattributed} slow handshakes without client_info not grouped)`);
  return lines.join('\n');
}

const fmt = (v: number): string => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
