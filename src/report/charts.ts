/** The report's aggregate charts (inline SVG): the verdict mix and one histogram per phase. */
import type { Verdict } from '../handshake/verdict.js';
import { BIN_EDGES, type PhaseDistribution, VERDICTS } from './aggregate.js';
import { esc, fmtMs, px } from './svg.js';

/** One stacked bar of verdict counts, with the counts as text beside it. */
export function renderVerdictBar(id: string, title: string, counts: Record<Verdict, number>): string {
  const total = VERDICTS.reduce((s, v) => s + counts[v], 0);
  const W = 600;
  let x = 0;
  let bars = '';
  for (const v of VERDICTS) {
    const w = total > 0 ? (counts[v] / total) * W : 0;
    if (w > 0) bars += `<rect class="v-${v}" x="${px(x)}" y="0" width="${px(w)}" height="18"><title>${v}: ${counts[v]} (${((counts[v] / total) * 100).toFixed(1)}%)</title></rect>`;
    x += w;
  }
  const legend = VERDICTS.map((v) => `<span class="vk"><i class="sw v-${v}"></i>${v} <b class="count" data-verdict="${v}">${counts[v]}</b></span>`).join(' ');
  return `<div class="vmix" id="${id}"><div class="vt">${esc(title)}: <b class="count" data-total="1">${total}</b></div>` +
    `<svg viewBox="0 0 ${W} 18" width="${W}" height="18" role="img" aria-label="${esc(title)}">${bars}</svg><div>${legend}</div></div>`;
}

/** Axis labels of the histograms (ms); the bins are four per decade (aggregate.ts BIN_EDGES). */
const DECADES = [0.1, 1, 10, 100, 1000, 10000];

/** A histogram of one phase over every handshake where it was measured, with its percentiles. */
export function renderHistogram(d: PhaseDistribution): string {
  const W = 300;
  const H = 80;
  const nb = BIN_EDGES.length;
  const bw = W / nb;
  const max = Math.max(1, ...d.bins);
  let bars = '';
  for (let i = 0; i < nb; i++) {
    const c = d.bins[i]!;
    if (c === 0) continue;
    const h = Math.max(1, (c / max) * (H - 16));
    const range = i === 0 ? '0 ms' : i === nb - 1 ? `≥ ${BIN_EDGES[i]} ms` : `${i === 1 ? 0 : BIN_EDGES[i]}–${BIN_EDGES[i + 1]} ms`;
    bars += `<rect class="hb${i === 0 ? ' zero' : ''}" x="${px(i * bw + 0.5)}" y="${px(H - 14 - h)}" width="${px(bw - 1)}" height="${px(h)}"><title>${range}: ${c}</title></rect>`;
  }
  let axis = `<text class="ax" x="${px(bw / 2)}" y="${H - 2}" text-anchor="middle">0</text>`;
  for (const m of DECADES) {
    const i = BIN_EDGES.indexOf(m);
    axis += `<text class="ax" x="${px(i * bw)}" y="${H - 2}" text-anchor="middle">${m >= 1000 ? `${m / 1000}s` : m}</text>`;
  }
  const stats = d.n === 0 ? 'never measured'
    : `n ${d.n} · p50 ${fmtMs(d.p50)} · p90 ${fmtMs(d.p90)} · p99 ${fmtMs(d.p99)} · max ${fmtMs(d.max)} ms`;
  return `<figure class="hist" data-phase="${d.phase}" data-n="${d.n}"><figcaption><b>${d.phase}</b> <span>${stats}</span></figcaption>` +
    `<svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="histogram of ${d.phase}">` +
    `<line class="axis" x1="0" y1="${H - 14}" x2="${W}" y2="${H - 14}"/>${bars}${axis}</svg></figure>`;
}
