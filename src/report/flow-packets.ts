/**
 * The packets behind a waterfall: a record carries its timeline and phase totals, not its packets
 * or the exact loss and stall intervals. When the record's per-flow pcap is readable, it is run
 * through the same analyzer that made the record (handshake/analyzer.ts), which gives every
 * packet with its direction, the loss repair intervals and the cwnd stalls (µs since the epoch).
 * Without a readable pcap the waterfall draws from the record alone (and says so).
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { DecodedPacket } from '../decode/packet.js';
import { Analyzer } from '../handshake/analyzer.js';
import type { FlowRecord } from '../handshake/record.js';
import { readCaptureFile } from '../sources/capture-file.js';

/** A per-flow pcap is a few KiB to a few MiB; a larger file (a whole-ring dump named by hand) is not drawn. */
const MAX_PCAP_BYTES = 64 * 1024 * 1024;

export interface FlowPacket {
  tsUs: number;
  fromClient: boolean;
  payloadLen: number;
  /** TCP flags byte (RFC 9293 §3.1). */
  flags: number;
  /** Sends payload the same direction had already sent (a retransmission). */
  retransmit: boolean;
}

export interface FlowPackets {
  packets: FlowPacket[];
  /** [from, to] µs pairs. */
  loss: number[];
  stalls: number[];
}

/** Seconds-safe sequence comparison: a - b in 32-bit sequence space (RFC 9293 §3.4). */
const seqDiff = (a: number, b: number): number => ((a - b) | 0);

/** The record's flow from its pcap, or a reason why there is none. */
export async function loadFlowPackets(rec: FlowRecord): Promise<FlowPackets | string> {
  if (rec.pcap === undefined) return 'no pcap';
  const path = resolve(rec.pcap);
  try {
    const size = (await stat(path)).size;
    if (size > MAX_PCAP_BYTES) return `pcap larger than ${MAX_PCAP_BYTES >> 20} MiB, not read`;
  } catch (err) {
    return `pcap not readable (${(err as NodeJS.ErrnoException).code ?? String(err)}: ${rec.pcap})`;
  }
  let found: FlowPackets | null = null;
  const a = new Analyzer({
    slowMs: 0, keepPackets: true, flowFilter: null,
    onRecord: (r, t) => {
      if (found !== null || r.client !== rec.client || r.server !== rec.server || t.kept === null) return;
      const packets: FlowPacket[] = [];
      const next = [NaN, NaN]; // highest sequence end sent per direction (client, server)
      const syn = [false, false];
      for (const k of t.kept) {
        const d = k.fromClient ? 0 : 1;
        const end = (k.seq + k.payloadLen) >>> 0;
        let retransmit = false;
        if (k.flags & 0x02) { // SYN or SYN-ACK: a second one is a retransmission
          retransmit = syn[d]!;
          syn[d] = true;
        } else if (k.payloadLen > 0) {
          if (!Number.isNaN(next[d]!) && seqDiff(end, next[d]!) <= 0) retransmit = true;
          else next[d] = end;
        }
        packets.push({ tsUs: k.tsUs, fromClient: k.fromClient, payloadLen: k.payloadLen, flags: k.flags, retransmit });
      }
      found = { packets, loss: [...t.loss], stalls: [...t.stalls] };
    },
  });
  try {
    await readCaptureFile(path, new DecodedPacket(), a);
    a.finish();
  } catch (err) {
    return `pcap not readable (${(err as Error).message})`;
  }
  return found ?? 'the flow is not in its pcap';
}
