/**
 * Phases from a timeline (design.md "Phases"): consecutive intervals that add up to `total`.
 * Loss repair intervals are merged into a union, clipped to [start, done], and taken out of every
 * phase they overlap (charged to `loss`); congestion-window stalls are then taken out the same way
 * and charged to the network as `cwnd_stall`.
 *
 * When the client's first ACK of the server flight is its second flight (client_ack ==
 * client_finished), server_flight_end → client_ack holds the round trip and the client's work: it
 * is split at the flow's own RTT from the handshake's start (hrr_rtt when there was an HRR, else
 * tcp_rtt); flight_rtt gets at most that, the rest is client_think (`flightSplit`, estimated).
 *
 * Each phase starts where the previous one ended, clipped at zero (design.md "TCP Fast Open"): in
 * timeline order a phase ends at the later of its own end point and the end of the phases before
 * it. In an ordinary handshake every point follows the one before, so this changes nothing; with
 * TCP Fast Open the ClientHello is in the SYN and the server may answer before the client's ACK,
 * and the phases still stay consecutive and add up to `total`.
 *
 * TCP Fast Open data the server refused (`tfoResend`: [syn, the client's copy of the ClientHello])
 * is taken out of the phases it overlaps, as loss is, and charged to client_hello_xfer: the
 * ClientHello was in transit from its first transmission in the SYN until the copy the server took.
 */
import { T, type Timeline } from './timeline.js';

export const PHASES = [
  'syn_ack_delay', 'tcp_rtt', 'client_hello_wait', 'client_hello_xfer', 'server_hello_delay',
  'hrr_rtt', 'hrr_server_delay', 'server_flight', 'flight_rtt', 'client_think', 'client_flight_xfer', 'server_finish',
] as const;
export type PhaseName = (typeof PHASES)[number];
export type Category = 'client' | 'network' | 'server';

export const PHASE_CATEGORY: Record<PhaseName, Category> = {
  syn_ack_delay: 'server', tcp_rtt: 'network', client_hello_wait: 'client', client_hello_xfer: 'network',
  server_hello_delay: 'server', hrr_rtt: 'network', hrr_server_delay: 'server', server_flight: 'server',
  flight_rtt: 'network', client_think: 'client', client_flight_xfer: 'network', server_finish: 'server',
};

/**
 * Timeline points bounding each phase (index into PHASES); server_hello_delay ends at the HRR
 * when there is one. Two functions instead of a tuple per phase: no allocation per flow.
 */
function phaseStart(i: number, tl: Timeline, split: number): number {
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
    case 9: return split >= 0 ? split : tl[T.CLIENT_ACK]!;
    case 10: return tl[T.CLIENT_FINISHED]!;
    default: return tl[T.CLIENT_FLIGHT_END]!;
  }
}

function phaseEnd(i: number, tl: Timeline, split: number): number {
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
    case 8: return split >= 0 ? split : tl[T.CLIENT_ACK]!;
    case 9: return tl[T.CLIENT_FINISHED]!;
    case 10: return tl[T.CLIENT_FLIGHT_END]!;
    default: return tl[T.DONE]!;
  }
}

/**
 * Where flight_rtt ends when it is split (see the file comment): server_flight_end + the flow's
 * RTT, or -1 when there is no split (client_ack is a pure ACK, no RTT was measured, or the
 * interval is no longer than the RTT).
 */
export function flightSplitPoint(tl: Timeline): number {
  const sfe = tl[T.SERVER_FLIGHT_END]!, ack = tl[T.CLIENT_ACK]!;
  if (sfe < 0 || ack < 0 || ack !== tl[T.CLIENT_FINISHED]!) return -1;
  const rtt = flowRtt(tl);
  if (rtt < 0 || sfe + rtt >= ack) return -1;
  return sfe + rtt;
}

/** The RTT measured at the handshake's start: hrr_rtt with an HRR, else tcp_rtt; -1 when unknown. */
export function flowRtt(tl: Timeline): number {
  const hrr = tl[T.HELLO_RETRY_REQUEST]!;
  if (hrr >= 0) return tl[T.CLIENT_HELLO2_END]! >= hrr ? tl[T.CLIENT_HELLO2_END]! - hrr : -1;
  return tl[T.SYN_ACK]! >= 0 && tl[T.ACK]! >= tl[T.SYN_ACK]! ? tl[T.ACK]! - tl[T.SYN_ACK]! : -1;
}

const NO_INTERVALS: readonly number[] = [];
/** Up to this many pairs are sorted in place by insertion; more (a pathological flow) by Array.sort. */
const INSERTION_SORT_MAX = 16;

/**
 * Sorted, merged union of [s, e] pairs clipped to [lo, hi]. Most flows have no loss and no
 * stall: they get a shared empty union, and the rest one flat array sorted in place, not a tuple
 * per pair (issue 13: the tuples were 6% of the allocation on a handshake-dense capture).
 */
export function mergeIntervals(pairs: readonly number[], lo: number, hi: number): readonly number[] {
  if (pairs.length < 2) return NO_INTERVALS;
  const out: number[] = [];
  let n = 0; // pairs in out
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const s = Math.max(pairs[i]!, lo), e = Math.min(pairs[i + 1]!, hi);
    if (e > s) { out.push(s, e); n++; }
  }
  if (n === 0) return NO_INTERVALS;
  if (n > INSERTION_SORT_MAX) return mergeSorted(sortPairs(out));
  for (let i = 1; i < n; i++) { // insertion sort by start; ties keep their order (as a stable sort)
    const s = out[2 * i]!, e = out[2 * i + 1]!;
    let j = i - 1;
    while (j >= 0 && out[2 * j]! > s) { out[2 * j + 2] = out[2 * j]!; out[2 * j + 3] = out[2 * j + 1]!; j--; }
    out[2 * j + 2] = s;
    out[2 * j + 3] = e;
  }
  return mergeSorted(out);
}

/** Flat pairs sorted by start (stable). */
function sortPairs(flat: number[]): number[] {
  const iv: [number, number][] = [];
  for (let i = 0; i < flat.length; i += 2) iv.push([flat[i]!, flat[i + 1]!]);
  iv.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of iv) out.push(s, e);
  return out;
}

/** Merges sorted flat pairs in place: overlapping or touching ones become one. */
function mergeSorted(a: number[]): number[] {
  let w = 0; // length of the merged prefix
  for (let i = 0; i < a.length; i += 2) {
    const s = a[i]!, e = a[i + 1]!;
    if (w > 0 && s <= a[w - 1]!) a[w - 1] = Math.max(a[w - 1]!, e);
    else { a[w] = s; a[w + 1] = e; w += 2; }
  }
  a.length = w;
  return a;
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
function subtract(u: readonly number[], minus: readonly number[]): readonly number[] {
  if (u.length === 0 || minus.length === 0) return u;
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
  /** µs moved from flight_rtt to client_think by the split (0: none). */
  flightSplit: number;
  byCategory: { client: number; network: number; server: number; loss: number };
}

/** Index of client_hello_xfer in PHASES (it takes the time of refused TCP Fast Open data). */
const CH_XFER = 3;
const CAT_CLIENT = 0, CAT_NETWORK = 1, CAT_SERVER = 2;
/** PHASE_CATEGORY by PHASES index, as small integers. */
const CATEGORY_OF = Uint8Array.from(PHASES, (p) => (PHASE_CATEGORY[p] === 'client' ? CAT_CLIENT : PHASE_CATEGORY[p] === 'network' ? CAT_NETWORK : CAT_SERVER));
/** Scratch for one computePhases call: µs per phase by PHASES index, null when unbounded. */
const phaseValues: (number | null)[] = PHASES.map(() => null);

/**
 * `tfoResend`: capture time of the client's copy of SYN data the server refused (TCP Fast Open),
 * -1 when there is none.
 */
export function computePhases(tl: Timeline, firstTs: number, lossPairs: readonly number[], stallPairs: readonly number[], tfoResend = -1): PhaseBreakdown {
  return computePhasesInto(newBreakdown(), tl, firstTs, lossPairs, stallPairs, tfoResend);
}

/** An empty breakdown for computePhasesInto. */
export function newBreakdown(): PhaseBreakdown {
  return {
    phases: {
      syn_ack_delay: null, tcp_rtt: null, client_hello_wait: null, client_hello_xfer: null, server_hello_delay: null,
      hrr_rtt: null, hrr_server_delay: null, server_flight: null, flight_rtt: null, client_think: null,
      client_flight_xfer: null, server_finish: null,
    },
    loss: 0, cwndStall: 0, total: null, start: 0, flightSplit: 0,
    byCategory: { client: 0, network: 0, server: 0, loss: 0 },
  };
}

/**
 * computePhases into `out` (every field overwritten): a caller that reads the breakdown at once
 * (buildRecord) reuses one, so the three objects per flow are not garbage (issue 13).
 */
export function computePhasesInto(out: PhaseBreakdown, tl: Timeline, firstTs: number, lossPairs: readonly number[], stallPairs: readonly number[], tfoResend = -1): PhaseBreakdown {
  const start = tl[T.SYN]! >= 0 ? tl[T.SYN]! : firstTs;
  const done = tl[T.DONE]!;
  const end = done >= 0 ? done : Number.MAX_SAFE_INTEGER;
  const loss = mergeIntervals(lossPairs, start, end);
  const stall = subtract(mergeIntervals(stallPairs, start, end), loss);
  const resend = tfoResend > start && tl[T.SYN]! >= 0 && tl[T.CLIENT_HELLO]! >= 0 && tl[T.CLIENT_HELLO_END]! >= 0 ? subtract(mergeIntervals([start, tfoResend], start, end), loss) : NO_INTERVALS;
  const resendUs = overlap(resend, start, end);
  const v = phaseValues;
  let client = 0, network = 0, server = 0;
  const split = flightSplitPoint(tl);
  let cursor = start; // where the phases so far ended
  for (let i = 0; i < PHASES.length; i++) {
    const a0 = phaseStart(i, tl, split), b0 = phaseEnd(i, tl, split);
    if (a0 < 0 || b0 < 0) { v[i] = null; continue; }
    const a = Math.max(a0, cursor), b = Math.max(b0, a);
    cursor = b;
    let x = Math.max(0, b - a - overlap(loss, a, b) - overlap(stall, a, b) - overlap(resend, a, b));
    if (i === CH_XFER) x += resendUs;
    v[i] = x;
    const c = CATEGORY_OF[i];
    if (c === CAT_CLIENT) client += x;
    else if (c === CAT_NETWORK) network += x;
    else server += x;
  }
  // Named stores in PHASES order (one shape for every flow, not twelve keyed stores per flow).
  const phases = out.phases;
  phases.syn_ack_delay = v[0]!; phases.tcp_rtt = v[1]!; phases.client_hello_wait = v[2]!; phases.client_hello_xfer = v[3]!;
  phases.server_hello_delay = v[4]!; phases.hrr_rtt = v[5]!; phases.hrr_server_delay = v[6]!; phases.server_flight = v[7]!;
  phases.flight_rtt = v[8]!; phases.client_think = v[9]!; phases.client_flight_xfer = v[10]!; phases.server_finish = v[11]!;
  const hi = done >= 0 ? done : start;
  const lossUs = done >= 0 ? overlap(loss, start, hi) : 0;
  const stallUs = done >= 0 ? overlap(stall, start, hi) : 0;
  const bc = out.byCategory;
  bc.client = client; bc.network = network + stallUs; bc.server = server; bc.loss = lossUs;
  out.loss = lossUs;
  out.cwndStall = stallUs;
  out.total = done >= 0 ? done - start : null;
  out.start = start;
  out.flightSplit = split >= 0 ? tl[T.CLIENT_ACK]! - split : 0;
  return out;
}
