/**
 * The report page: one self-contained HTML file (inline CSS and SVG, a few lines of inline
 * script, a Content-Security-Policy that forbids fetching anything), so it opens the same from a
 * laptop's disk and from a mail attachment. Nothing on it depends on when or from which kind of
 * input it was made: the same records give the same bytes.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASE_CATEGORY, PHASES } from '../handshake/phases.js';
import { flagsOf as tableFlags, networkLabel } from '../sinks/report.js';
import type { NetworkRow } from '../enrich/top-networks.js';
import type { Aggregate } from './aggregate.js';
import { renderHistogram, renderVerdictBar } from './charts.js';
import { esc, fmtMs } from './svg.js';

export interface PageWaterfall { rec: FlowRecord; svg: string; pcapHref: string | null }

export interface PageInput {
  agg: Aggregate;
  waterfalls: PageWaterfall[];
  /** Slow handshakes, slowest first, at most `tableRows` of them. */
  rows: FlowRecord[];
  tableRows: number;
  /** Top slow networks; null when no record carries client attribution. */
  networks: NetworkRow[] | null;
  pcapHref: (rec: FlowRecord) => string | null;
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#1d1d1f;background:#fff}
h1{font-size:20px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd}
.sub{color:#555}.sw{display:inline-block;width:12px;height:12px;margin:0 4px -1px 8px;border:1px solid #0003}
.c-client,.v-client{fill:#e39b1b;background:#e39b1b}.c-network,.v-network{fill:#3a7bd5;background:#3a7bd5}
.c-server,.v-server{fill:#c7402d;background:#c7402d}.c-loss,.v-loss{fill:#7d4ea3;background:#7d4ea3}
.v-incomplete{fill:#9a9a9a;background:#9a9a9a}
.vmix{margin:6px 0 12px}.vt{margin-bottom:2px}.vk{white-space:nowrap}
.hists{display:flex;flex-wrap:wrap;gap:8px 20px}.hist{margin:0}.hist figcaption{font-size:12px}.hist span{color:#555}
.hb{fill:#5b6b7f}.hb.zero{fill:#b8c0ca}
svg text{font:11px system-ui,sans-serif}.lbl{fill:#333}.phl{fill:#fff;font-size:10px}.ax{fill:#555;font-size:10px}.val{fill:#222}.val.in{fill:#fff}
.axis{stroke:#888}.lane{stroke:#ccc}.pk{stroke:#222;stroke-width:1}.pk.rtx{stroke:#d00;stroke-width:2}
.loss{fill:url(#hatch-loss);stroke:#7d4ea3}.stall{fill:url(#hatch-stall);stroke:#1f4e8f;stroke-dasharray:3 2}.est{opacity:.7}
.wire{fill:#444}.proxy{fill:#8a8a8a}
.waterfall{margin:18px 0;padding:8px 0;border-top:1px solid #eee}.waterfall h3{font-size:14px;margin:0 0 4px}
.waterfall .notes{font-size:12px;color:#555;margin:2px 0}
table{border-collapse:collapse;font-size:12px}th,td{padding:2px 6px;border-bottom:1px solid #eee;white-space:nowrap}
th{position:sticky;top:0;background:#f4f4f6;cursor:pointer;text-align:left}th[data-dir=asc]::after{content:" ▲"}th[data-dir=desc]::after{content:" ▼"}
td.n{text-align:right;font-variant-numeric:tabular-nums}.tw{max-height:70vh;overflow:auto;border:1px solid #ddd}
dl.cols{display:grid;grid-template-columns:max-content auto;gap:1px 12px;font-size:12px}dl.cols dt{font-weight:600}dl.cols dd{margin:0}
input#filter{font:inherit;padding:3px 6px;width:24em}`;

/** Sort on header click, filter on typing; cells sort by data-v when they have one (numbers). */
const SCRIPT = `(function(){var t=document.getElementById('slow-table');if(!t)return;var b=t.tBodies[0],f=document.getElementById('filter'),c=document.getElementById('shown');
function upd(){var q=f.value.toLowerCase(),n=0;for(var r of b.rows){var h=q!==''&&r.textContent.toLowerCase().indexOf(q)<0;r.hidden=h;if(!h)n++;}c.textContent=n;}
f.addEventListener('input',upd);
t.tHead.addEventListener('click',function(e){var th=e.target.closest('th');if(!th)return;var i=th.cellIndex,num=th.dataset.num==='1',d=th.dataset.dir==='asc'?'desc':'asc';
for(var h of t.tHead.rows[0].cells)delete h.dataset.dir;th.dataset.dir=d;var key=function(r){var x=r.cells[i];return num?(x.dataset.v===''?-Infinity:+x.dataset.v):x.textContent;};
var rows=Array.from(b.rows);rows.sort(function(x,y){var a=key(x),z=key(y),s=num?(a<z?-1:a>z?1:0):a.localeCompare(z);return d==='asc'?s:-s;});for(var r of rows)b.appendChild(r);});})();`;

/** Shared pattern definitions (ids are page-global in inline SVG). */
const DEFS = `<svg width="0" height="0" style="position:absolute" aria-hidden="true"><defs>
<pattern id="hatch-loss" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="#efe6f7"/><line x1="0" y1="0" x2="0" y2="6" stroke="#7d4ea3" stroke-width="3"/></pattern>
<pattern id="hatch-stall" width="6" height="6" patternUnits="userSpaceOnUse"><rect width="6" height="6" fill="#dfe9f8"/><path d="M0 0L6 6M6 0L0 6" stroke="#1f4e8f" stroke-width="1"/></pattern>
</defs></svg>`;

const PHASE_COLS = [...PHASES, 'loss', 'cwnd_stall'] as const;

/** Every table column with what it means (shown under the table and as each header's tooltip). */
export const COLUMNS: { key: string; num: boolean; doc: string }[] = [
  { key: 'rank', num: true, doc: 'position by total among the slow handshakes (1 = slowest)' },
  { key: 'client', num: false, doc: 'client address:port' },
  { key: 'server', num: false, doc: 'server address:port' },
  { key: 'sni', num: false, doc: 'server name the client asked for (ClientHello SNI)' },
  { key: 'tls', num: false, doc: 'negotiated TLS version' },
  { key: 'total', num: true, doc: 'ms from the SYN (or the first packet seen) to done on the wire; the phases, loss and cwnd_stall add up to it' },
  { key: 'syn_ack_delay', num: true, doc: 'SYN → SYN-ACK (server: a full SYN or accept backlog shows here)' },
  { key: 'tcp_rtt', num: true, doc: "SYN-ACK → the client's ACK (network round trip)" },
  { key: 'client_hello_wait', num: true, doc: 'ACK → first ClientHello segment (client)' },
  { key: 'client_hello_xfer', num: true, doc: 'first → last ClientHello segment (network)' },
  { key: 'server_hello_delay', num: true, doc: "ClientHello → the server's reply, ServerHello or HelloRetryRequest (server)" },
  { key: 'hrr_rtt', num: true, doc: 'HelloRetryRequest → the second ClientHello (network)' },
  { key: 'hrr_server_delay', num: true, doc: 'second ClientHello → ServerHello (server)' },
  { key: 'server_flight', num: true, doc: "ServerHello → the flight's last segment (server)" },
  { key: 'flight_rtt', num: true, doc: "end of the server flight → the client's ACK of it (network)" },
  { key: 'client_think', num: true, doc: "that ACK → the client's second flight (client CPU; estimated when the ACK was the flight itself, see the notes)" },
  { key: 'client_flight_xfer', num: true, doc: "first → last segment of the client's second flight, e.g. a client certificate in transit (network)" },
  { key: 'server_finish', num: true, doc: "end of the client's flight → done (server; zero for TLS 1.3 and resumed 1.2)" },
  { key: 'loss', num: true, doc: 'time spent repairing lost segments, taken out of the phases it overlapped (loss)' },
  { key: 'cwnd_stall', num: true, doc: 'the server waiting for ACKs mid-flight, congestion window full (network)' },
  { key: 'verdict', num: false, doc: 'the largest category: client, network, server, loss; incomplete when needed packets are missing' },
  { key: 'flags', num: false, doc: 'hrr, resumed, client_cert, cwnd_stall, rtx CLIENT/SERVER retransmits, estimated (kernel filter), missing timeline points' },
  { key: 'proxy_ms', num: true, doc: "the proxy's own figure for the handshake (its journal event, event_elapsed_ms)" },
  { key: 'lag_ms', num: true, doc: 'proxy_ms minus the wire time over the span the proxy measures: time inside the edge host (charged to server when positive)' },
  { key: 'network', num: false, doc: "client's network from client_info: provider region service, else AS number, else prefix; then the PTR name" },
  { key: 'pcap', num: false, doc: "the flow's own capture file (link relative to this page)" },
];

/** The text table's flags, and `estimated` (the classic filter's records). */
function flagsOf(r: FlowRecord): string {
  const f = tableFlags(r);
  return r.estimated === true ? (f ? `${f} estimated` : 'estimated') : f;
}

const num = (v: number | null | undefined): string => `<td class="n" data-v="${v === null || v === undefined ? '' : v}">${fmtMs(v)}</td>`;
const txt = (s: string | null | undefined): string => `<td>${esc(s ?? '-')}</td>`;

function tableRow(r: FlowRecord, rank: number, wfIndex: number | undefined, href: string | null): string {
  const client = wfIndex !== undefined ? `<td><a href="#wf-${wfIndex}">${esc(r.client)}</a></td>` : txt(r.client);
  let s = `<tr><td class="n" data-v="${rank}">${rank}</td>${client}${txt(r.server)}${txt(r.sni)}${txt(r.tls_version)}${num(r.phases_ms.total)}`;
  for (const p of PHASE_COLS) s += num(r.phases_ms[p]);
  s += `<td class="verdict">${r.verdict}</td>${txt(flagsOf(r))}${num(r.event_elapsed_ms)}${num(r.proxy_lag_ms)}`;
  s += r.client_info !== undefined ? txt(networkLabel(r)) : txt(null);
  s += href !== null ? `<td><a href="${esc(href)}">${esc(r.pcap!.split('/').pop()!)}</a></td>` : txt(r.pcap === undefined ? null : r.pcap.split('/').pop()!);
  return s + '</tr>';
}

function waterfallSection(w: PageWaterfall, i: number): string {
  const r = w.rec;
  const cats: string[] = [];
  const sum = { client: 0, network: 0, server: 0, loss: r.phases_ms.loss ?? 0 };
  for (const p of PHASES) sum[PHASE_CATEGORY[p]] += r.phases_ms[p] ?? 0;
  sum.network += r.phases_ms.cwnd_stall ?? 0;
  for (const [k, v] of Object.entries(sum)) if (v > 0) cats.push(`${k} ${fmtMs(v)}`);
  const pcap = w.pcapHref !== null ? ` · <a class="pcap" href="${esc(w.pcapHref)}">pcap</a>` : '';
  const notes = [...(r.reason !== undefined ? [r.reason] : []), ...r.notes].map((n) => `<div class="notes">${esc(n)}</div>`).join('');
  return `<section class="waterfall" id="wf-${i}" data-client="${esc(r.client)}" data-verdict="${r.verdict}"><h3>${i + 1}. ${esc(r.client)} → ${esc(r.server)}` +
    `${r.sni !== null ? ` (${esc(r.sni)})` : ''} · total ${fmtMs(r.phases_ms.total)} ms · verdict <b>${r.verdict}</b>${pcap}</h3>` +
    `<div class="notes">ms by category: ${cats.join(', ') || '-'}${r.tls_version ? ` · TLS ${esc(r.tls_version)}` : ''}${flagsOf(r) ? ` · ${esc(flagsOf(r))}` : ''}</div>${w.svg}${notes}</section>`;
}

function networksTable(rows: NetworkRow[]): string {
  let s = '<table id="networks"><thead><tr><th>network</th><th>slow</th><th>verdicts</th><th>median total ms</th><th>largest median phases (ms)</th><th>example PTR name</th></tr></thead><tbody>';
  for (const r of rows) {
    const v = Object.entries(r.verdicts).sort((a, b) => b[1] - a[1]).map(([k, c]) => `${k} ${c}`).join(', ');
    const ph = Object.entries(r.median_ms).filter((e): e is [string, number] => e[0] !== 'total' && e[1] !== null && e[1] > 0)
      .sort((a, b) => b[1] - a[1]).slice(0, 3).map(([p, x]) => `${p} ${fmtMs(x)}`).join(', ');
    s += `<tr><td>${esc(r.network)}</td><td class="n">${r.count}${r.error > 0 ? '+' : ''}</td><td>${v}</td><td class="n">${fmtMs(r.median_ms.total)}</td><td>${esc(ph)}</td><td>${esc(r.example_rdns ?? '-')}</td></tr>`;
  }
  return s + '</tbody></table>';
}

export function renderPage(p: PageInput): string {
  const a = p.agg;
  const out: string[] = [];
  out.push('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">');
  out.push(`<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">`);
  out.push('<meta name="viewport" content="width=device-width,initial-scale=1"><title>slowshake report</title>');
  out.push(`<style>${CSS}</style></head><body>${DEFS}`);
  out.push(`<h1>slowshake report</h1><div class="sub"><b id="n-records">${a.records}</b> TLS handshakes, <b id="n-slow">${a.slow}</b> slow. ` +
    'Colours by whose time it was: <i class="sw c-client"></i>client <i class="sw c-network"></i>network <i class="sw c-server"></i>server <i class="sw c-loss"></i>loss</div>');
  out.push('<h2>Verdicts</h2>');
  out.push(renderVerdictBar('verdicts-slow', 'slow handshakes', a.slowVerdicts));
  out.push(renderVerdictBar('verdicts-all', 'all handshakes', a.verdicts));
  out.push(`<h2>Phases over all ${a.records} handshakes</h2><div class="sub">Histograms, four bins per decade of ms (log scale); the light bar at the left counts zeros. A phase counts where it was measured (n).</div><div class="hists">`);
  for (const d of a.phases) out.push(renderHistogram(d));
  out.push('</div>');
  if (p.networks !== null) {
    out.push('<h2>Top slow networks</h2><div class="sub">Slow handshakes by the client\'s network (client_info: provider and region, else ASN, else prefix).</div>');
    out.push(p.networks.length > 0 ? networksTable(p.networks) : '<p>No slow handshake from an attributed network.</p>');
  }
  out.push(`<h2>Slowest handshakes</h2><div class="sub"><b id="n-waterfalls">${p.waterfalls.length}</b> waterfall${p.waterfalls.length === 1 ? '' : 's'}` +
    `${a.slow > p.waterfalls.length ? ` (the slowest ${p.waterfalls.length} of ${a.slow}; --waterfalls N for more)` : ''}. Time runs left to right from the handshake's first packet; ` +
    'packets are ticks on their sender\'s lane (tall: with payload or SYN/FIN/RST, red: retransmitted); loss is hatched, cwnd stalls cross-hatched; ' +
    'the proxy\'s own figure ends at done beside the wire total. Hover for values.</div>');
  p.waterfalls.forEach((w, i) => out.push(waterfallSection(w, i)));
  const wfIndex = new Map(p.waterfalls.map((w, i) => [w.rec, i]));
  out.push(`<h2>Slow handshakes</h2><div class="sub"><b id="n-rows">${p.rows.length}</b> rows` +
    `${a.slow > p.rows.length ? ` (the slowest ${p.rows.length} of ${a.slow}; --table-rows N for more)` : ''}, <span id="shown">${p.rows.length}</span> shown. ` +
    'Click a header to sort, type to filter (any cell text). Times in ms, "-" where a bounding packet was not captured.</div>');
  out.push('<p><input id="filter" type="search" placeholder="filter: address, sni, verdict, network…" aria-label="filter rows"></p>');
  out.push('<div class="tw"><table id="slow-table"><thead><tr>');
  for (const c of COLUMNS) out.push(`<th data-num="${c.num ? 1 : 0}" title="${esc(c.doc)}">${c.key}</th>`);
  out.push('</tr></thead><tbody>');
  p.rows.forEach((r, i) => out.push(tableRow(r, i + 1, wfIndex.get(r), p.pcapHref(r))));
  out.push('</tbody></table></div><h2>Columns</h2><dl class="cols">');
  for (const c of COLUMNS) out.push(`<dt>${c.key}</dt><dd>${esc(c.doc)}</dd>`);
  out.push(`</dl><script>${SCRIPT}</script></body></html>\n`);
  return out.join('\n');
}
