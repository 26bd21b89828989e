/**
 * Phases from a timeline (design.md "Phases"): consecutive intervals that add up to `total`.
 * Loss repair intervals are merged into a union, clipped to [start, done], and taken out of every
 * phase they overlap (charged to `loss`); congestion-window stalls are then taken out the same way
 * and charged to the network as `cwnd_stall`.
 */
import { T, type Timeline } from './timeline.js';

export const PHASES = [
  'syn_ack_delay', 'tcp_rtt', 'client_hello_wait', 'client_hello_xfer', 'server_hello_delay',
  'hrr_rtt', 'hrr_server_delay', 'server_flight', 'flight_rtt', 'client_think', 'server_finish',
] as const;
export type PhaseName = (typeof PHASES)[number];
export type Category = 'client' | 'network' | 'server';

export const PHASE_CATEGORY: Record<PhaseName, Category> = {
  syn_ack_delay: 'server', tcp_rtt: 'network', client_hello_wait: 'client', client_hello_xfer: 'network',
  server_hello_delay: 'server', hrr_rtt: 'network', hrr_server_delay: 'server', server_flight: 'server',
  flight_rtt: 'network', client_think: 'client', server_finish: 'server',
};

/**
 * Timeline points bounding each phase (index into PHASES); server_hello_delay ends at the HRR
 * when there is one. Two functions instead of a tuple per phase: no allocation per flow.
 */
function phaseStart(i: number, tl: Timeline): number {
  switch (i) {
    case 0: return tl[T.SYN]!;
    case 1: return tl[T.SYN_ACK]!;
    case 2: return tl[T.ACK]!;
    case 3: return tl[T.CLIENT_HELLO]!;
    case 4: return tl[T.CLIENT_HELLO_END]!;
    case 5: return tl[T.HELLO_RETRY_REQUEST]!;
    case 6: return tl[T.HELLO_RETRY_REQUEST]! >= 0 ? tl[T.CLIENT_HELLO2_END]! : -1;
    case 7: return tl[T.SERVER_HELLO]!;
    case 8: return tl[T.SERVER_FLIGHT_END]!;
    case 9: return tl[T.CLIENT_ACK]!;
    default: return tl[T.CLIENT_FINISHED]!;
  }
}

function phaseEnd(i: number, tl: Timeline): number {
  const hrr = tl[T.HELLO_RETRY_REQUEST]!;
  switch (i) {
    case 0: return tl[T.SYN_ACK]!;
    case 1: return tl[T.ACK]!;
    case 2: return tl[T.CLIENT_HELLO]!;
    case 3: return tl[T.CLIENT_HELLO_END]!;
    case 4: return hrr >= 0 ? hrr : tl[T.SERVER_HELLO]!;
    case 5: return hrr >= 0 ? tl[T.CLIENT_HELLO2_END]! : -1;
    case 6: return hrr >= 0 ? tl[T.SERVER_HELLO]! : -1;
    case 7: return tl[T.SERVER_FLIGHT_END]!;
    case 8: return tl[T.CLIENT_ACK]!;
    case 9: return tl[T.CLIENT_FINISHED]!;
    default: return tl[T.DONE]!;
  }
}

/** Sorted, merged union of [s, e] pairs clipped to [lo, hi]. */
export function mergeIntervals(pairs: readonly number[], lo: number, hi: number): number[] {
  const iv: [number, number][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const s = Math.max(pairs[i]!, lo), e = Math.min(pairs[i + 1]!, hi);
    if (e > s) iv.push([s, e]);
  }
  iv.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of iv) {
    const n = out.length;
    if (n > 0 && s <= out[n - 1]!) out[n - 1] = Math.max(out[n - 1]!, e);
    else out.push(s, e);
  }
  return out;
}

/** Length of the part of [a, b] covered by a merged union. */
export function overlap(union: readonly number[], a: number, b: number): number {
  let sum = 0;
  for (let i = 0; i < union.length; i += 2) {
    const s = Math.max(union[i]!, a), e = Math.min(union[i + 1]!, b);
    if (e > s) sum += e - s;
  }
  return sum;
}

/** Union minus another union (both merged). */
function subtract(u: readonly number[], minus: readonly number[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < u.length; i += 2) {
    let s = u[i]!;
    const e = u[i + 1]!;
    for (let j = 0; j < minus.length && s < e; j += 2) {
      const ms = minus[j]!, me = minus[j + 1]!;
      if (me <= s || ms >= e) continue;
      if (ms > s) out.push(s, ms);
      s = Math.max(s, me);
    }
    if (s < e) out.push(s, e);
  }
  return out;
}

export interface PhaseBreakdown {
  /** µs per phase, null when a bounding point is missing. */
  phases: Record<PhaseName, number | null>;
  loss: number;
  cwndStall: number;
  /** start → done in µs, null without `done`. */
  total: number | null;
  start: number;
  byCategory: { client: number; network: number; server: number; loss: number };
}

export function computePhases(tl: Timeline, firstTs: number, lossPairs: readonly number[], stallPairs: readonly number[]): PhaseBreakdown {
  const start = tl[T.SYN]! >= 0 ? tl[T.SYN]! : firstTs;
  const done = tl[T.DONE]!;
  const end = done >= 0 ? done : Number.MAX_SAFE_INTEGER;
  const loss = mergeIntervals(lossPairs, start, end);
  const stall = subtract(mergeIntervals(stallPairs, start, end), loss);
  const phases = {} as Record<PhaseName, number | null>;
  const byCategory = { client: 0, network: 0, server: 0, loss: 0 };
  for (let i = 0; i < PHASES.length; i++) {
    const name = PHASES[i]!;
    const a = phaseStart(i, tl), b = phaseEnd(i, tl);
    if (a < 0 || b < 0) { phases[name] = null; continue; }
    const v = Math.max(0, b - a - overlap(loss, a, b) - overlap(stall, a, b));
    phases[name] = v;
    byCategory[PHASE_CATEGORY[name]] += v;
  }
  const hi = done >= 0 ? done : start;
  const lossUs = done >= 0 ? overlap(loss, start, hi) : 0;
  const stallUs = done >= 0 ? overlap(stall, start, hi) : 0;
  byCategory.loss = lossUs;
  byCategory.network += stallUs;
  return { phases, loss: lossUs, cwndStall: stallUs, total: done >= 0 ? done - start : null, start, byCategory };
}
