/**
 * Human table of handshakes (slowest first, phases as columns, verdict, totals by verdict) and the
 * summary block shared by every output format.
 */
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';
import { groupOf } from '../enrich/top-networks.js';

const SHORT: Record<string, string> = {
  syn_ack_delay: 'synack', tcp_rtt: 'tcp_rtt', client_hello_wait: 'ch_wait', client_hello_xfer: 'ch_xfer',
  server_hello_delay: 'sh_delay', hrr_rtt: 'hrr_rtt', hrr_server_delay: 'hrr_srv', server_flight: 'flight',
  flight_rtt: 'flt_rtt', client_think: 'think', client_flight_xfer: 'cf_xfer', server_finish: 'finish', loss: 'loss', cwnd_stall: 'cwnd',
};

/** What each table column means (analyze --help, records --help). */
export const TABLE_LEGEND = `table columns (ms; "-" where a bounding packet was not captured):
  client, server, sni, tls   endpoints, server name, TLS version
  total     SYN (or the first packet) to done on the wire; the phases add up to it
  synack    syn_ack_delay: SYN to SYN-ACK (server)      tcp_rtt: SYN-ACK to the client's ACK (network)
  ch_wait   client_hello_wait: ACK to ClientHello (client)
  ch_xfer   client_hello_xfer: first to last ClientHello segment (network)
  sh_delay  server_hello_delay: ClientHello to the server's reply (server)
  hrr_rtt   HelloRetryRequest to the second ClientHello (network)   hrr_srv  hrr_server_delay (server)
  flight    server_flight: ServerHello to the flight's last segment (server)
  flt_rtt   flight_rtt: flight end to the client's ACK of it (network)
  think     client_think: that ACK to the client's second flight (client; when that ACK was the
            flight itself, the part of flt_rtt beyond the flow's RTT, estimated: see notes)
  cf_xfer   client_flight_xfer: first to last segment of that flight, a client certificate in transit (network)
  finish    server_finish: end of the client's flight to done (server)
  loss      time repairing lost segments          cwnd  cwnd_stall: waits for ACKs mid-flight (network)
  verdict   the largest category: client, network, server, loss, or incomplete
  flags     hrr, resumed, cwnd_stall, client_cert, rtx CLIENT/SERVER retransmits, missing points
  proxy_ms  the proxy's own figure (--events)     lag_ms  proxy_ms minus the wire time from accept to done
  network   client_info: provider region service, else AS number, else prefix; then the PTR name
            (shown with --ranges, --asn-db or --rdns)
  pcap      per-flow capture file (--out)`;

const fmtMs = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : v.toFixed(1));

/** The table's flags column: hrr, resumed, client_cert, cwnd_stall, retransmits, what is missing. */
export function flagsOf(r: FlowRecord): string {
  const f: string[] = [];
  if (r.hrr) f.push('hrr');
  if (r.resumed) f.push('resumed');
  if (r.client_cert) f.push('client_cert');
  if (r.cwnd_stall) f.push('cwnd_stall');
  if (r.retransmits.client + r.retransmits.server > 0) f.push(`rtx ${r.retransmits.client}/${r.retransmits.server}`);
  if (r.missing.length > 0 && r.verdict === 'incomplete') f.push(`missing ${r.missing.join(',')}`);
  return f.join(' ');
}

export function sortSlowestFirst(records: FlowRecord[]): FlowRecord[] {
  const total = (r: FlowRecord): number => r.phases_ms.total ?? (r.timeline.done === null ? Number.MAX_VALUE : 0);
  return records.sort((a, b) => total(b) - total(a));
}

/** The table's `network` cell: the record's top-slow-networks group, then its PTR name. */
export function networkLabel(r: FlowRecord): string {
  const g = groupOf(r);
  const parts = [g?.key ?? '-'];
  if (r.client_info?.rdns) parts.push(r.client_info.rdns);
  return parts.join(' ');
}

export function renderTable(records: FlowRecord[], slowMs: number, all: boolean, extraCols: { pcap: boolean; event: boolean; network?: boolean }): string {
  const rows = sortSlowestFirst(records.filter((r) => all || r.slow));
  const phaseCols = [...PHASES, 'loss', 'cwnd_stall'] as const;
  const header = ['client', 'server', 'sni', 'tls', 'total', ...phaseCols.map((p) => SHORT[p]!), 'verdict', 'flags'];
  if (extraCols.event) header.push('proxy_ms', 'lag_ms');
  if (extraCols.network) header.push('network');
  if (extraCols.pcap) header.push('pcap');
  const body = rows.map((r) => {
    const row = [r.client, r.server, r.sni ?? '-', r.tls_version ?? '-', fmtMs(r.phases_ms.total),
      ...phaseCols.map((p) => fmtMs(r.phases_ms[p])), r.verdict, flagsOf(r)];
    if (extraCols.event) row.push(fmtMs(r.event_elapsed_ms ?? null), fmtMs(r.proxy_lag_ms ?? null));
    if (extraCols.network) row.push(networkLabel(r));
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
