/**
 * TCP header (RFC 9293 §3.1) with options (§3.2). Fills the TCP fields of a DecodedPacket.
 * The payload length comes from the IP length fields, so a snaplen-truncated segment still
 * advances sequence tracking correctly; `payloadAvail` says how many of its bytes were captured.
 */
import { Status } from './reader.js';
import type { DecodedPacket } from './packet.js';
import { TCP_SYN } from './packet.js';
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';

const TCPOPT_EOL = 0;
const TCPOPT_NOP = 1;
const TCPOPT_MSS = 2; // RFC 9293 §3.2

export function decodeTcp(
  pkt: DecodedPacket, buf: Uint8Array, off: number, capEnd: number, declEnd: number, an: AnomalyCounters,
): Status {
  if (off + 20 > declEnd) {
    // The IP length leaves no room for a TCP header: a protocol violation, not a capture cut.
    an.bump(Anomaly.BAD_IP_TOTAL_LENGTH);
    return Status.INVALID;
  }
  if (off + 20 > capEnd) {
    an.bump(Anomaly.TRUNCATED_TCP_HEADER);
    return Status.TRUNCATED;
  }
  const doff = (buf[off + 12]! >> 4) * 4;
  if (doff < 20 || off + doff > declEnd) {
    an.bump(Anomaly.BAD_TCP_DATA_OFFSET);
    return Status.INVALID;
  }
  if (off + doff > capEnd) {
    an.bump(Anomaly.TRUNCATED_TCP_HEADER);
    return Status.TRUNCATED;
  }
  pkt.srcPort = (buf[off]! << 8) | buf[off + 1]!;
  pkt.dstPort = (buf[off + 2]! << 8) | buf[off + 3]!;
  pkt.seq = ((buf[off + 4]! << 24) | (buf[off + 5]! << 16) | (buf[off + 6]! << 8) | buf[off + 7]!) >>> 0;
  pkt.ack = ((buf[off + 8]! << 24) | (buf[off + 9]! << 16) | (buf[off + 10]! << 8) | buf[off + 11]!) >>> 0;
  pkt.flags = buf[off + 13]!;
  pkt.window = (buf[off + 14]! << 8) | buf[off + 15]!;
  pkt.mss = 0;
  if (pkt.flags & TCP_SYN && doff > 20) {
    // Options are only read on SYNs (the MSS is shown in ladders); validate their lengths there.
    let p = off + 20;
    const oEnd = off + doff;
    while (p < oEnd) {
      const kind = buf[p]!;
      if (kind === TCPOPT_EOL) break;
      if (kind === TCPOPT_NOP) { p++; continue; }
      if (p + 2 > oEnd) { an.bump(Anomaly.BAD_TCP_OPTION); break; }
      const len = buf[p + 1]!;
      if (len < 2 || p + len > oEnd) { an.bump(Anomaly.BAD_TCP_OPTION); break; }
      if (kind === TCPOPT_MSS && len === 4) pkt.mss = (buf[p + 2]! << 8) | buf[p + 3]!;
      p += len;
    }
  }
  pkt.payloadOff = off + doff;
  pkt.payloadLen = declEnd - pkt.payloadOff;
  pkt.payloadAvail = capEnd - pkt.payloadOff;
  if (pkt.payloadAvail < pkt.payloadLen) an.bump(Anomaly.TRUNCATED_TCP_PAYLOAD);
  return Status.OK;
}
