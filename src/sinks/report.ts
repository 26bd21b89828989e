/**
 * Human table of handshakes (slowest first, phases as columns, verdict, totals by verdict) and the
 * summary block shared by every output format.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';

const SHORT: Record<string, string> = {
  syn_ack_delay: 'synack', tcp_rtt: 'tcp_rtt', client_hello_wait: 'ch_wait', client_hello_xfer: 'ch_xfer',
  server_hello_delay: 'sh_delay', hrr_rtt: 'hrr_rtt', hrr_server_delay: 'hrr_srv', server_flight: 'flight',
  flight_rtt: 'flt_rtt', client_think: 'think', server_finish: 'finish', loss: 'loss', cwnd_stall: 'cwnd',
};

const fmtMs = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(1));

function flagsOf(r: FlowRecord): string {
  const f: string[] = [];
  if (r.hrr) f.push('hrr');
  if (r.resumed) f.push('resumed');
  if (r.cwnd_stall) f.push('cwnd_stall');
  if (r.retransmits.client + r.retransmits.server > 0) f.push(`rtx ${r.retransmits.client}/${r.retransmits.server}`);
  if (r.missing.length > 0 && r.verdict === 'incomplete') f.push(`missing ${r.missing.join(',')}`);
  return f.join(' ');
}

export function sortSlowestFirst(records: FlowRecord[]): FlowRecord[] {
  const total = (r: FlowRecord): number => r.phases_ms.total ?? (r.timeline.done === null ? Number.MAX_VALUE : 0);
  return records.sort((a, b) => total(b) - total(a));
}

export function renderTable(records: FlowRecord[], slowMs: number, all: boolean, extraCols: { pcap: boolean; event: boolean }): string {
  const rows = sortSlowestFirst(records.filter((r) => all || r.slow));
  const phaseCols = [...PHASES, 'loss', 'cwnd_stall'] as const;
  const header = ['client', 'server', 'sni', 'tls', 'total', ...phaseCols.map((p) => SHORT[p]!), 'verdict', 'flags'];
  if (extraCols.event) header.push('proxy_ms');
  if (extraCols.pcap) header.push('pcap');
  const body = rows.map((r) => {
    const row = [r.client, r.server, r.sni ?? '-', r.tls_version ?? '-', fmtMs(r.phases_ms.total),
      ...phaseCols.map((p) => fmtMs(r.phases_ms[p])), r.verdict, flagsOf(r)];
    if (extraCols.event) row.push(fmtMs(r.event_elapsed_ms ?? null));
    if (extraCols.pcap) row.push(r.pcap ?? '-');
    return row;
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([4, ...phaseCols.map((_, i) => 5 + i)]);
  const line = (cells: string[]): string =>
    cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  const out: string[] = [];
  const slowCount = records.filter((r) => r.slow).length;
  out.push(`${all ? 'TLS handshakes' : `Slow TLS handshakes (total >= ${slowMs} ms)`}: ${rows.length} shown, ${slowCount} slow of ${records.length} TLS flows; times in ms`);
  if (rows.length > 0) {
    out.push(line(header));
    for (const b of body) out.push(line(b));
  }
  out.push(`Totals by verdict (slow flows): ${verdictTotals(records.filter((r) => r.slow))}`);
  if (all) out.push(`Totals by verdict (all flows): ${verdictTotals(records)}`);
  return out.join('\n') + '\n';
}

export function verdictTotals(records: FlowRecord[]): string {
  const counts: Record<string, number> = { client: 0, network: 0, server: 0, loss: 0, incomplete: 0 };
  for (const r of records) counts[r.verdict]!++;
  return Object.entries(counts).map(([k, v]) => `${k} ${v}`).join(', ');
}
