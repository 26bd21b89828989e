/**
 * One slow handshake as a waterfall (inline SVG):
 *
 *   phases   ▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇▇  the consecutive phases at their place on the time axis, coloured by
 *                                 category (client, network, server); loss hatched, cwnd stalls
 *                                 cross-hatched over the phases they interrupted
 *   client → |  | |   |   |        every packet the client sent (tall: with payload; red: retransmitted)
 *   server ← |  ||||        |      every packet the server sent
 *   wire     ━━━━━━━━━━━━━━━━━━  total on the wire, SYN (or first packet) → done
 *   proxy        ━━━━━━━━━━━━━━  the proxy's own figure (event_elapsed_ms), ending at done, with proxy_lag_ms
 *   axis     0     100    200 ms
 *
 * Packets, loss and stall intervals come from the flow's pcap (flow-packets.ts). Without one, the
 * ticks are the record's timeline points, and the time a phase lost to loss or stalls (its span
 * on the axis minus its value) is hatched at the phase's end, marked as placed by estimate.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASE_CATEGORY, PHASES, type PhaseName } from '../handshake/phases.js';
import type { TimelinePoint } from '../handshake/timeline.js';
import type { FlowPackets } from './flow-packets.js';
import { CATEGORY_CLASS, esc, fmtMs, niceStep, px } from './svg.js';

/** Timeline points bounding each phase (design.md "Phases"); server_hello_delay ends at the HRR when there is one. */
const BOUNDS: Record<PhaseName, [TimelinePoint, TimelinePoint]> = {
  syn_ack_delay: ['syn', 'syn_ack'], tcp_rtt: ['syn_ack', 'ack'], client_hello_wait: ['ack', 'client_hello'],
  client_hello_xfer: ['client_hello', 'client_hello_end'], server_hello_delay: ['client_hello_end', 'server_hello'],
  hrr_rtt: ['hello_retry_request', 'client_hello2_end'], hrr_server_delay: ['client_hello2_end', 'server_hello'],
  server_flight: ['server_hello', 'server_flight_end'], flight_rtt: ['server_flight_end', 'client_ack'],
  client_think: ['client_ack', 'client_finished'], client_flight_xfer: ['client_finished', 'client_flight_end'],
  server_finish: ['client_flight_end', 'done'],
};

const CLIENT_POINTS: readonly TimelinePoint[] = ['syn', 'ack', 'client_hello', 'client_hello_end', 'client_hello2', 'client_hello2_end', 'client_ack', 'client_finished', 'client_flight_end'];
const SERVER_POINTS: readonly TimelinePoint[] = ['syn_ack', 'hello_retry_request', 'server_hello', 'server_flight_end'];

export interface PhaseSpan { phase: PhaseName; from: number; to: number }

/**
 * Where each measured phase lies on the time axis (µs): from its starting timeline point to its
 * ending one, each starting no earlier than the previous ended (TCP Fast Open reorders points).
 * When the client's first ACK of the server flight was its second flight, flight_rtt and
 * client_think share that interval, split at flight_rtt's value.
 */
export function phaseSpans(r: FlowRecord): PhaseSpan[] {
  const tl = r.timeline;
  const hrr = tl.hello_retry_request !== null;
  const spans: PhaseSpan[] = [];
  let cursor = -Infinity;
  for (const p of PHASES) {
    const v = r.phases_ms[p];
    if (v === null) continue;
    let [a, b] = BOUNDS[p];
    if (p === 'server_hello_delay' && hrr) b = 'hello_retry_request';
    let from = tl[a];
    let to = tl[b];
    if (p === 'client_think' && tl.client_ack !== null && tl.client_ack === tl.client_finished && spans.length > 0) {
      const prev = spans[spans.length - 1]!;
      if (prev.phase === 'flight_rtt') from = prev.to; // the split point below
      to = tl.client_finished;
    }
    if (from === null || to === null) continue;
    from = Math.max(from, cursor);
    to = Math.max(from, to);
    if (p === 'flight_rtt' && tl.client_ack !== null && tl.client_ack === tl.client_finished && (r.phases_ms.client_think ?? 0) > 0) {
      to = Math.min(to, from + Math.round(v * 1000)); // the estimated split
    }
    spans.push({ phase: p, from, to });
    cursor = to;
  }
  return spans;
}

/** Start (µs) and end of the drawn window: the wire total, widened to hold the proxy's figure. */
function window(r: FlowRecord, spans: PhaseSpan[]): [number, number] {
  const pts = Object.values(r.timeline).filter((v): v is number => v !== null);
  let t0 = pts.length > 0 ? Math.min(...pts) : 0;
  let t1 = r.timeline.done ?? (pts.length > 0 ? Math.max(...pts) : 0);
  if (spans.length > 0) t1 = Math.max(t1, spans[spans.length - 1]!.to);
  const proxy = r.event_elapsed_ms;
  if (proxy !== undefined && proxy !== null && r.timeline.done !== null) t0 = Math.min(t0, r.timeline.done - proxy * 1000);
  if (t1 <= t0) t1 = t0 + 1000;
  return [t0, t1];
}

const W = 960;
const L = 96; // label column
const R = 16;

/** The waterfall SVG of one record; `flow` from its pcap, or a reason why there is none. */
export function renderWaterfall(r: FlowRecord, flow: FlowPackets | string): string {
  const spans = phaseSpans(r);
  const [t0, t1] = window(r, spans);
  const x = (us: number): number => L + ((Math.min(Math.max(us, t0), t1) - t0) / (t1 - t0)) * (W - L - R);
  const out: string[] = [];
  const hasProxy = r.event_elapsed_ms !== undefined && r.event_elapsed_ms !== null && r.timeline.done !== null;
  const H = hasProxy ? 196 : 176;
  out.push(`<svg class="wf" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="waterfall of ${esc(r.client)}">`);
  const label = (y: number, text: string): void => { out.push(`<text class="lbl" x="4" y="${y}">${text}</text>`); };
  // 1. phases
  label(40, 'phases');
  for (const s of spans) {
    const cat = PHASE_CATEGORY[s.phase];
    const w = Math.max(0.5, x(s.to) - x(s.from));
    out.push(`<rect class="ph ${CATEGORY_CLASS[cat]}" x="${px(x(s.from))}" y="24" width="${px(w)}" height="24"><title>${s.phase} ${fmtMs(r.phases_ms[s.phase])} ms (${cat})</title></rect>`);
    if (w > 54) out.push(`<text class="phl" x="${px(x(s.from) + 3)}" y="40">${s.phase}</text>`);
  }
  const exact = typeof flow !== 'string';
  if (exact) {
    for (let i = 0; i + 1 < flow.loss.length; i += 2) {
      const a = flow.loss[i]!;
      const b = flow.loss[i + 1]!;
      if (b <= t0 || a >= t1) continue;
      out.push(`<rect class="loss" x="${px(x(a))}" y="20" width="${px(Math.max(1, x(b) - x(a)))}" height="32"><title>loss: repairing a lost segment ${fmtMs((b - a) / 1000)} ms</title></rect>`);
    }
    for (let i = 0; i + 1 < flow.stalls.length; i += 2) {
      const a = flow.stalls[i]!;
      const b = flow.stalls[i + 1]!;
      if (b <= t0 || a >= t1) continue;
      out.push(`<rect class="stall" x="${px(x(a))}" y="20" width="${px(Math.max(1, x(b) - x(a)))}" height="32"><title>cwnd stall: the server waited for ACKs mid-flight ${fmtMs((b - a) / 1000)} ms</title></rect>`);
    }
  } else {
    // Without packets: the part of a phase's span its value does not cover went to loss or stalls.
    for (const s of spans) {
      const v = r.phases_ms[s.phase]!;
      const gap = (s.to - s.from) / 1000 - v;
      if (gap < 0.05) continue;
      const a = s.to - gap * 1000;
      const what = (r.phases_ms.loss ?? 0) > 0 && (r.phases_ms.cwnd_stall ?? 0) > 0 ? 'loss or cwnd stall' : (r.phases_ms.cwnd_stall ?? 0) > 0 ? 'cwnd stall' : 'loss';
      out.push(`<rect class="${what === 'cwnd stall' ? 'stall' : 'loss'} est" x="${px(x(a))}" y="20" width="${px(Math.max(1, x(s.to) - x(a)))}" height="32"><title>${what} inside ${s.phase}: ${fmtMs(gap)} ms (placed at the phase's end: the exact interval needs the pcap)</title></rect>`);
    }
  }
  // 2. packet lanes
  label(74, 'client →');
  label(102, 'server ←');
  out.push(`<line class="lane" x1="${L}" y1="78" x2="${W - R}" y2="78"/><line class="lane" x1="${L}" y1="106" x2="${W - R}" y2="106"/>`);
  const tick = (us: number, client: boolean, tall: boolean, cls: string, title: string): void => {
    if (us < t0 || us > t1) return;
    const base = client ? 78 : 106;
    out.push(`<line class="pk${cls}" x1="${px(x(us))}" y1="${base - (tall ? 18 : 8)}" x2="${px(x(us))}" y2="${base}"><title>${title}</title></line>`);
  };
  if (exact) {
    let drawn = 0;
    for (const p of flow.packets) {
      if (p.tsUs < t0 || p.tsUs > t1) continue;
      if (++drawn > 600) break; // a cap for pathological flows; the pcap has them all
      const f = [(p.flags & 0x02) && 'SYN', (p.flags & 0x10) && 'ACK', (p.flags & 0x01) && 'FIN', (p.flags & 0x04) && 'RST'].filter(Boolean).join(',');
      tick(p.tsUs, p.fromClient, p.payloadLen > 0 || (p.flags & 0x07) !== 0, p.retransmit ? ' rtx' : '',
        `+${fmtMs((p.tsUs - t0) / 1000)} ms ${p.fromClient ? 'client' : 'server'} ${f} len ${p.payloadLen}${p.retransmit ? ' (retransmission)' : ''}`);
    }
  } else {
    for (const pt of CLIENT_POINTS) { const v = r.timeline[pt]; if (v !== null) tick(v, true, true, '', `+${fmtMs((v - t0) / 1000)} ms ${pt}`); }
    for (const pt of SERVER_POINTS) { const v = r.timeline[pt]; if (v !== null) tick(v, false, true, '', `+${fmtMs((v - t0) / 1000)} ms ${pt}`); }
  }
  // 3. wire total and the proxy's figure
  const tlStart = Math.min(...Object.values(r.timeline).filter((v): v is number => v !== null), t1);
  const done = r.timeline.done;
  label(129, 'wire');
  /** A value beside (or, when there is no room, inside the end of) a bar from xa to xb. */
  const barText = (xa: number, xb: number, y: number, text: string): void => {
    const room = W - R - xb;
    if (room >= text.length * 6 + 8) out.push(`<text class="val" x="${px(xb + 4)}" y="${y}">${text}</text>`);
    else out.push(`<text class="val in" x="${px(Math.max(xa + text.length * 6, xb - 4))}" y="${y}" text-anchor="end">${text}</text>`);
  };
  if (done !== null) {
    out.push(`<rect class="wire" x="${px(x(tlStart))}" y="119" width="${px(Math.max(1, x(done) - x(tlStart)))}" height="13"/>`);
    barText(x(tlStart), x(done), 129, `wire total ${fmtMs(r.phases_ms.total)} ms`);
  } else {
    out.push(`<text class="val" x="${L}" y="129">no total: the handshake's end was not captured</text>`);
  }
  let y = 150;
  if (hasProxy) {
    const e = r.event_elapsed_ms!;
    label(147, 'proxy');
    const xa = x(done! - e * 1000);
    out.push(`<rect class="proxy" x="${px(xa)}" y="137" width="${px(Math.max(1, x(done!) - xa))}" height="13"/>`);
    const lag = r.proxy_lag_ms;
    barText(xa, x(done!), 147, `proxy ${fmtMs(e)} ms${lag !== undefined && lag !== null ? `, lag ${lag > 0 ? '+' : ''}${fmtMs(lag)} ms` : ''}`);
    y = 170;
  }
  // 4. axis, ms from the window's start
  const spanMs = (t1 - t0) / 1000;
  const step = niceStep(spanMs, 8);
  out.push(`<line class="axis" x1="${L}" y1="${y - 6}" x2="${W - R}" y2="${y - 6}"/>`);
  for (let m = 0; m <= spanMs + 1e-9; m += step) {
    const xx = x(t0 + m * 1000);
    out.push(`<line class="axis" x1="${px(xx)}" y1="${y - 6}" x2="${px(xx)}" y2="${y - 2}"/><text class="ax" x="${px(xx)}" y="${y + 10}" text-anchor="middle">${Number(m.toPrecision(6))}</text>`);
  }
  out.push(`<text class="ax" x="${W - R}" y="${y + 22}" text-anchor="end">ms${exact ? '' : ` · ticks are the record's timeline points (${esc(flow)})`}</text>`);
  out.push('</svg>');
  return out.join('');
}
