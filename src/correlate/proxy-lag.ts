/**
 * The proxy's own figure against the wire (design.md "Verdict"): a journal event carries the
 * handshake time the proxy measured; the packets show the same handshake from outside the host.
 *
 * 1. The span the proxy measures starts at accept (the client's ACK completes the TCP handshake,
 *    so `ack`, else the ClientHello segment that carried it) or, for proxies that time from the
 *    SYN (`--proxy-clock syn`), at `syn`; it ends at `done`.
 * 2. `proxy_lag_ms` = proxy figure − that wire span. Positive lag is time spent inside the edge
 *    host after the packets arrived (the proxy's scheduling or CPU): no packet shows it. It is
 *    charged to `server`, and when that makes `server` the largest category the verdict is
 *    `server`, with a note saying the time went inside the host, not on the wire.
 * 3. Negative lag means the proxy's clock started after the connection was established (a
 *    proxy that times from its first read, or one that called accept late): nothing is charged;
 *    a large one is noted.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASE_CATEGORY, PHASES } from '../handshake/phases.js';
import { largestCategory, type CategoryTotals } from '../handshake/verdict.js';
import type { SlowEvent } from './journal-event.js';

export type ProxyClock = 'accept' | 'syn';
export const PROXY_CLOCKS: readonly ProxyClock[] = ['accept', 'syn'];

/** Negative lag beyond this is noted (smaller ones are clock granularity and accept latency). */
const NOTE_NEGATIVE_MS = 10;

const round3 = (v: number): number => Math.round(v * 1000) / 1000;

/** Category sums of a record's phases (ms); cwnd stalls are the network's, as in computePhases. */
export function categoryTotalsMs(rec: FlowRecord): CategoryTotals {
  const t: CategoryTotals = { client: 0, network: 0, server: 0, loss: 0 };
  for (const p of PHASES) t[PHASE_CATEGORY[p]] += rec.phases_ms[p] ?? 0;
  t.network += rec.phases_ms.cwnd_stall ?? 0;
  t.loss = rec.phases_ms.loss ?? 0;
  return t;
}

/** Wire time (ms) over the span the proxy measures, or null when a bounding packet is missing. */
export function proxySpanMs(rec: FlowRecord, clock: ProxyClock): number | null {
  const tl = rec.timeline;
  const start = clock === 'syn' ? tl.syn : (tl.ack ?? tl.client_hello);
  if (start === null || tl.done === null) return null;
  return (tl.done - start) / 1000;
}

/** Attaches `ev` to `rec`: the event, the proxy's figure, proxy_gap_ms, proxy_lag_ms and its verdict. */
export function attachEvent(rec: FlowRecord, ev: SlowEvent, clock: ProxyClock): FlowRecord {
  rec.event = { cursor: ev.cursor, message: ev.message, timestamp_us: ev.endUs, elapsed_ms: ev.elapsedMs, sni: ev.sni, server: ev.server };
  rec.event_elapsed_ms = ev.elapsedMs;
  rec.proxy_gap_ms = ev.elapsedMs !== null && rec.phases_ms.total !== null ? round3(ev.elapsedMs - rec.phases_ms.total) : null;
  const span = proxySpanMs(rec, clock);
  const lag = ev.elapsedMs !== null && span !== null ? round3(ev.elapsedMs - span) : null;
  rec.proxy_lag_ms = lag;
  if (lag === null || rec.verdict === 'incomplete') return rec;
  const from = clock === 'syn' ? 'SYN' : 'accept';
  if (lag > 0) {
    const totals = categoryTotalsMs(rec);
    const wireServer = totals.server;
    totals.server += lag;
    const verdict = largestCategory(totals);
    if (verdict === 'server' && (lag >= wireServer || rec.verdict !== 'server')) {
      rec.notes.push(`the proxy measured ${ev.elapsedMs} ms from ${from} to done where the wire shows ${round3(span!)} ms: ` +
        `${lag} ms went inside the edge host (the proxy's scheduling or CPU), not on the wire (charged to server as proxy_lag_ms)`);
    }
    rec.verdict = verdict;
  } else if (-lag >= NOTE_NEGATIVE_MS) {
    rec.notes.push(`the proxy measured ${ev.elapsedMs} ms, ${-lag} ms less than the wire shows from ${from} to done: ` +
      `its clock started after the connection was established (a late accept, or a proxy that times from its first read)`);
  }
  return rec;
}
