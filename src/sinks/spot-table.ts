/**
 * The spot check's end table: one line per event's flow, slowest first, with the proxy's own
 * figure beside the wire total, and fitted to the terminal.
 *
 * 1. Cells are built once per record; the pcap is shown by its file name (the directory is
 *    printed once under the table) and a server column whose value is the same on every line is
 *    folded into the title.
 * 2. When the lines are wider than the terminal, columns give way in a fixed order (fewer largest
 *    phases, a shorter SNI, no lag, no pcap, no SNI, no server); `wide` keeps everything as is,
 *    with full pcap paths.
 * 3. A legend under the table explains every column shown.
 */
import { basename, dirname } from 'node:path';
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';
import { verdictTotals } from './report.js';

export interface SpotTableOptions {
  /** Terminal width in characters; null: no limit (not a terminal). */
  width: number | null;
  /** Every column at full width, full pcap paths. */
  wide: boolean;
}

type Col = 'client' | 'server' | 'sni' | 'proxy' | 'wire' | 'lag' | 'phases' | 'verdict' | 'pcap';

const HEADER: Record<Col, string> = {
  client: 'client', server: 'server', sni: 'sni', proxy: 'proxy ms', wire: 'wire ms', lag: 'lag ms',
  phases: 'largest phases (ms)', verdict: 'verdict', pcap: 'pcap',
};
const NUMERIC = new Set<Col>(['proxy', 'wire', 'lag']);

/** What each column means; printed under the table (for the columns shown) and in capture --help. */
export const SPOT_TABLE_LEGEND: Record<Col, string> = {
  client: 'the client endpoint',
  server: 'the edge endpoint the client connected to',
  sni: 'server name the client asked for',
  proxy: "the proxy's own handshake time, from its journal event",
  wire: 'handshake time on the wire, SYN to done (the sum of the phases)',
  lag: 'proxy ms minus the wire time over the span the proxy measures (--proxy-clock): time inside the edge host, charged to server',
  phases: 'the largest phases (proxy_lag when positive) in ms; or why the flow has no breakdown',
  verdict: 'whose time it was: client, network, server, loss, or incomplete',
  pcap: 'per-flow capture file',
};

/** The legend of every column, one line each (capture --help). */
export function spotTableLegend(indent: string): string {
  const w = Math.max(...Object.values(HEADER).map((h) => h.length));
  return (Object.keys(HEADER) as Col[]).map((c) => `${indent}${HEADER[c].padEnd(w)}  ${SPOT_TABLE_LEGEND[c]}`).join('\n');
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(1));

function largest(r: FlowRecord, n: number): string {
  const parts: [string, number][] = [];
  for (const p of [...PHASES, 'loss', 'cwnd_stall'] as const) {
    const v = r.phases_ms[p];
    if (v !== null && v > 0) parts.push([p, v]);
  }
  if (r.proxy_lag_ms != null && r.proxy_lag_ms > 0) parts.push(['proxy_lag', r.proxy_lag_ms]);
  parts.sort((a, b) => b[1] - a[1]);
  return parts.slice(0, n).map(([p, v]) => `${p} ${v.toFixed(1)}`).join(', ') || (r.reason ?? '-');
}

const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);

/** Slowest first by the larger of the two figures (a lagging proxy is slow at 5 ms on the wire). */
function slowness(r: FlowRecord): number {
  return r.phases_ms.total === null && r.event_elapsed_ms == null ? Infinity : Math.max(r.phases_ms.total ?? 0, r.event_elapsed_ms ?? 0);
}

/**
 * The records a spot check keeps for its end table, bounded however many events arrive: the
 * `keep` slowest and counts of all of them (every record also went to the record stream and,
 * with --format ndjson, to stdout as it came; those whose files could not be written are listed
 * by LostResults).
 */
export class SpotRecords {
  #rows: FlowRecord[] = [];
  total = 0;
  readonly verdicts: Record<FlowRecord['verdict'], number> = { client: 0, network: 0, server: 0, loss: 0, incomplete: 0 };

  constructor(readonly keep = 1000) {}

  add(rec: FlowRecord): void {
    this.total++;
    this.verdicts[rec.verdict]++;
    this.#rows.push(rec);
    if (this.#rows.length >= 2 * this.keep) this.#trim();
  }

  #trim(): void {
    this.#rows.sort((a, b) => slowness(b) - slowness(a));
    this.#rows.length = Math.min(this.#rows.length, this.keep);
  }

  /** The slowest `keep` records, slowest first. */
  rows(): FlowRecord[] {
    this.#trim();
    return this.#rows;
  }
}

/** Renders `records` (a SpotRecords for the bounded end table of a run, or a plain list). */
export function renderSpotTable(input: FlowRecord[] | SpotRecords, opts: SpotTableOptions = { width: null, wide: false }): string {
  const records = Array.isArray(input) ? input : input.rows();
  const total = Array.isArray(input) ? input.length : input.total;
  const sorted = [...records].sort((a, b) => slowness(b) - slowness(a));
  const out = [`Slow TLS handshakes: ${total}${total > sorted.length ? ` (the slowest ${sorted.length} shown)` : ''}`];
  if (sorted.length > 0) {
    const servers = new Set(sorted.map((r) => r.server));
    const dirs = new Set(sorted.filter((r) => r.pcap).map((r) => dirname(r.pcap!)));
    const oneServer = !opts.wide && servers.size === 1;
    if (oneServer) out[0] += ` (all to ${sorted[0]!.server})`;
    let cols: Col[] = ['client', 'server', 'sni', 'proxy', 'wire', 'lag', 'phases', 'verdict', 'pcap'];
    if (oneServer) cols = cols.filter((c) => c !== 'server');
    if (!sorted.some((r) => r.event_elapsed_ms != null)) cols = cols.filter((c) => c !== 'proxy' && c !== 'lag');
    if (!sorted.some((r) => r.pcap)) cols = cols.filter((c) => c !== 'pcap');
    let phases = 2, sniMax = Infinity;
    const cells = (r: FlowRecord): Record<Col, string> => ({
      client: r.client, server: r.server, sni: clip(r.sni ?? '-', sniMax), proxy: ms(r.event_elapsed_ms), wire: ms(r.phases_ms.total),
      lag: ms(r.proxy_lag_ms), phases: largest(r, phases), verdict: r.verdict,
      pcap: r.pcap === undefined ? '-' : opts.wide || dirs.size > 1 ? r.pcap : basename(r.pcap),
    });
    const layout = (): { widths: Map<Col, number>; rows: Record<Col, string>[]; total: number } => {
      const rows = sorted.map(cells);
      const widths = new Map<Col, number>();
      for (const c of cols) widths.set(c, Math.max(HEADER[c].length, ...rows.map((x) => x[c].length)));
      let total = 0;
      for (const c of cols) total += widths.get(c)!;
      return { widths, rows, total: total + 2 * (cols.length - 1) };
    };
    let l = layout();
    // Columns give way, least telling first, until the table fits.
    const steps: (() => void)[] = [
      () => { phases = 1; }, () => { sniMax = 20; }, () => { cols = cols.filter((c) => c !== 'lag'); },
      () => { cols = cols.filter((c) => c !== 'pcap'); }, () => { cols = cols.filter((c) => c !== 'sni'); },
      () => { cols = cols.filter((c) => c !== 'server'); },
    ];
    for (let i = 0; !opts.wide && opts.width !== null && l.total > opts.width && i < steps.length; i++) {
      steps[i]!();
      l = layout();
    }
    const line = (cell: (c: Col) => string): string =>
      cols.map((c) => (NUMERIC.has(c) ? cell(c).padStart(l.widths.get(c)!) : cell(c).padEnd(l.widths.get(c)!))).join('  ').trimEnd();
    out.push(line((c) => HEADER[c]), ...l.rows.map((r) => line((c) => r[c])));
    if (cols.includes('pcap') && dirs.size === 1 && !opts.wide) out.push(`pcap files in ${[...dirs][0]}`);
    out.push(...cols.filter((c) => c !== 'client').map((c) => `  ${HEADER[c]}: ${SPOT_TABLE_LEGEND[c]}`));
  }
  const totals = Array.isArray(input) ? verdictTotals(records) : Object.entries(input.verdicts).map(([k, v]) => `${k} ${v}`).join(', ');
  out.push(`Totals by verdict: ${totals}`);
  return out.join('\n') + '\n';
}
