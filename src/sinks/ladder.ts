/**
 * `--ladder`: one flow as a text sequence diagram. Client on the left, server on the right, one
 * line per packet with its time since the first packet; between packets, the phase that ends at
 * the next packet is labelled with its duration; timeline points are named where they happen.
 */
import type { FlowRecord } from '../handshake/record.js';
import type { KeptPacket } from '../handshake/tracker.js';
import { TIMELINE_POINTS } from '../handshake/timeline.js';

const PHASE_END: Record<string, string> = {
  syn_ack: 'syn_ack_delay', ack: 'tcp_rtt', client_hello: 'client_hello_wait', client_hello_end: 'client_hello_xfer',
  client_hello2_end: 'hrr_rtt', server_flight_end: 'server_flight', client_ack: 'flight_rtt',
  client_finished: 'client_think', done: 'server_finish',
};

function flagText(f: number): string {
  const n: string[] = [];
  if (f & 0x02) n.push('SYN');
  if (f & 0x01) n.push('FIN');
  if (f & 0x04) n.push('RST');
  if (f & 0x08) n.push('PSH');
  if (f & 0x10) n.push('ACK');
  return n.join(',');
}

export function renderLadder(rec: FlowRecord, packets: readonly KeptPacket[]): string {
  const out: string[] = [];
  out.push(`${rec.client} (client)  <->  ${rec.server} (server)   sni=${rec.sni ?? '-'}  TLS ${rec.tls_version ?? '?'}  ` +
    `total ${rec.phases_ms.total ?? '-'} ms  verdict ${rec.verdict}${rec.hrr ? '  hrr' : ''}${rec.resumed ? '  resumed' : ''}${rec.cwnd_stall ? '  cwnd_stall' : ''}`);
  if (packets.length === 0) return out.join('\n') + '\n(no packets kept)\n';
  const t0 = packets[0]!.tsUs;
  const width = 34;
  out.push(`${'time ms'.padStart(10)}  ${'client'.padEnd(width)}${'server'}`);
  // Timeline points by timestamp; a point is printed on the first packet with that timestamp.
  const byTs = new Map<number, string[]>();
  for (const name of TIMELINE_POINTS) {
    const v = rec.timeline[name];
    if (v === null) continue;
    const l = byTs.get(v);
    if (l) l.push(name);
    else byTs.set(v, [name]);
  }
  const hrrEnd = rec.timeline.hello_retry_request;
  const seen = [new Set<string>(), new Set<string>()];
  for (const p of packets) {
    const names = byTs.get(p.tsUs);
    if (names) {
      for (const n of names) {
        let phase = PHASE_END[n];
        if (n === 'hello_retry_request' || (n === 'server_hello' && hrrEnd === null)) phase = 'server_hello_delay';
        else if (n === 'server_hello' && hrrEnd !== null) phase = 'hrr_server_delay';
        const v = phase ? rec.phases_ms[phase as keyof typeof rec.phases_ms] : null;
        if (phase && v !== null && v !== undefined) out.push(`${''.padStart(10)}  ${''.padEnd(width / 2)}┊ ${phase} ${v.toFixed(3)} ms`);
      }
    }
    const dir = p.fromClient ? 0 : 1;
    const key = `${p.seq}:${p.payloadLen}:${p.flags & 0x03}`;
    const rtx = (p.payloadLen > 0 || p.flags & 0x03) && seen[dir]!.has(key);
    seen[dir]!.add(key);
    const desc = `${flagText(p.flags)}${p.payloadLen > 0 ? ` len=${p.payloadLen}` : ''}${rtx ? ' RETRANSMISSION' : ''}`;
    const arrow = p.fromClient ? `${desc} ${'─'.repeat(Math.max(2, width - desc.length - 2))}▶` : `◀${'─'.repeat(Math.max(2, width - desc.length - 2))} ${desc}`;
    const label = names ? `   [${names.join(', ')}]` : '';
    out.push(`${((p.tsUs - t0) / 1000).toFixed(3).padStart(10)}  ${arrow}${label}`);
    if (names) byTs.delete(p.tsUs);
  }
  if (rec.phases_ms.loss) out.push(`${''.padStart(10)}  loss (repair intervals) ${rec.phases_ms.loss.toFixed(3)} ms, retransmissions client ${rec.retransmits.client} server ${rec.retransmits.server}`);
  if (rec.cwnd_stall) out.push(`${''.padStart(10)}  cwnd_stall ${rec.phases_ms.cwnd_stall!.toFixed(3)} ms (server waited for the client's ACK mid-flight)`);
  return out.join('\n') + '\n';
}
