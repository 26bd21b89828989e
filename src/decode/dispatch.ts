/**
 * Packet dispatch: link → IP → TCP, by integer switch (Zeek Dispatcher). Fills the reusable
 * DecodedPacket and returns a Status; non-TCP and malformed packets are counted, never thrown.
 */
import { Status } from './reader.js';
import type { DecodedPacket } from './packet.js';
import { decodeLink, link, ETHERTYPE_IPV4, LINKTYPE_ETHERNET } from './link.js';
import { decodeIpv4, decodeIpv6, ip, IPPROTO_TCP } from './ip.js';
import { decodeTcp } from './tcp.js';
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';

/** Decodes pkt.buf[pkt.off, pkt.off + pkt.caplen) down to TCP. UNSUPPORTED = not IP/TCP. */
export function decodePacket(pkt: DecodedPacket, an: AnomalyCounters): Status {
  const buf = pkt.buf;
  const off = pkt.off;
  const end = off + pkt.caplen;
  // Fast path, the common frame: untagged Ethernet, IPv4 without options, not a later fragment,
  // TCP. It reads what decodeLink and decodeIpv4 would and passes every check they make, so it
  // decodes to the same fields; any other frame (or a check that would fail) takes the general
  // path from the start, which counts what is wrong.
  if (pkt.linkType === LINKTYPE_ETHERNET && off + 34 <= end && buf[off + 12] === 0x08 && buf[off + 13] === 0x00 &&
      buf[off + 14] === 0x45 && buf[off + 23] === IPPROTO_TCP && (buf[off + 20]! & 0x1f) === 0 && buf[off + 21] === 0) {
    const n = off + 14;
    let total = (buf[n + 2]! << 8) | buf[n + 3]!;
    if (total === 0) total = end - n;
    if (total >= 20) {
      const declEnd = n + total;
      pkt.ipVersion = 4;
      pkt.ipId = (buf[n + 4]! << 8) | buf[n + 5]!;
      pkt.srcAddrOff = n + 12;
      pkt.dstAddrOff = n + 16;
      return decodeTcp(pkt, buf, n + 20, declEnd < end ? declEnd : end, declEnd, an);
    }
  }
  decodeLink(buf, off, end, pkt.linkType, an);
  if (link.ethertype === 0) return link.status;
  if (link.ethertype === ETHERTYPE_IPV4) decodeIpv4(buf, link.netOff, end, an);
  else decodeIpv6(buf, link.netOff, end, an);
  if (ip.proto < 0) return ip.status;
  if (ip.proto !== IPPROTO_TCP) {
    an.bump(Anomaly.NON_TCP_PACKET);
    return Status.UNSUPPORTED;
  }
  pkt.ipVersion = ip.version;
  pkt.ipId = ip.id;
  pkt.srcAddrOff = ip.srcOff;
  pkt.dstAddrOff = ip.dstOff;
  return decodeTcp(pkt, buf, ip.l4Off, ip.capEnd, ip.declEnd, an);
}
