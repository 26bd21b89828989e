/**
 * Runs the offline analysis over packets already in memory (copied out of the ring), so live
 * spot checks and `analyze` produce the same records from the same code.
 */
import { DecodedPacket } from '../decode/packet.js';
import type { PcapPacket } from '../sinks/pcap-writer.js';
import { Analyzer } from './analyzer.js';
import type { FlowRecord } from './record.js';
import type { HandshakeTracker } from './tracker.js';

export interface PacketAnalysis {
  records: { rec: FlowRecord; t: HandshakeTracker }[];
}

export function analyzePackets(packets: readonly PcapPacket[], slowMs: number): PacketAnalysis {
  const records: PacketAnalysis['records'] = [];
  const a = new Analyzer({ slowMs, keepPackets: false, flowFilter: null, onRecord: (rec, t) => records.push({ rec, t }) });
  const pkt = new DecodedPacket();
  for (const p of packets) {
    pkt.buf = p.data;
    pkt.off = 0;
    pkt.caplen = p.data.length;
    pkt.origLen = p.origLen;
    pkt.linkType = p.linkType;
    pkt.ifIndex = 0;
    pkt.tsSec = p.tsSec;
    pkt.tsNsec = p.tsNsec;
    pkt.tsUs = p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000);
    a.onPacket(pkt);
  }
  a.finish();
  return { records };
}
