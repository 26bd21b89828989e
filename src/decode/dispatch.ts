/**
 * Packet dispatch: link → IP → TCP, by integer switch (Zeek Dispatcher). Fills the reusable
 * DecodedPacket and returns a Status; non-TCP and malformed packets are counted, never thrown.
 */
import { Status } from './reader.js';
import type { DecodedPacket } from './packet.js';
import { decodeLink, link, ETHERTYPE_IPV4 } from './link.js';
import { decodeIpv4, decodeIpv6, ip, IPPROTO_TCP } from './ip.js';
import { decodeTcp } from './tcp.js';
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';

/** Decodes pkt.buf[pkt.off, pkt.off + pkt.caplen) down to TCP. UNSUPPORTED = not IP/TCP. */
export function decodePacket(pkt: DecodedPacket, an: AnomalyCounters): Status {
  const buf = pkt.buf;
  const end = pkt.off + pkt.caplen;
  decodeLink(buf, pkt.off, end, pkt.linkType, an);
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
