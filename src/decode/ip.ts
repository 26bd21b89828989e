/**
 * IPv4 (RFC 791 §3.1) and IPv6 (RFC 8200 §3–4). Each decoder validates the header, skips IPv6
 * extension headers, and narrows the end of the packet to the length the IP header declares
 * (dropping Ethernet padding) before the transport layer looks at it. Results go to `ip`.
 *
 * Fragments: only a fragment with offset 0 carries the transport header, so a first fragment is
 * decoded (its TCP header and the first bytes of the segment; the rest are in later fragments,
 * not reassembled) and a later fragment is skipped as `ip_fragment`. native/src/flow_hash.cc
 * walks the same headers with the same checks for the ring's flow hash: change both together.
 */
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';
import { Status } from './reader.js';

export const IPPROTO_TCP = 6;
const IPV6_HOP_BY_HOP = 0;
const IPV6_ROUTING = 43;
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51; // RFC 4302: length in 4-octet units, minus 2
const IPV6_DEST_OPTS = 60;
const IPV6_MOBILITY = 135; // RFC 6275 §6.1: length like HBH
/** Extension headers followed per packet, the fragment header included. */
const MAX_EXT_HEADERS = 8;
const IPV4_FRAGMENT_OFFSET = 0x1fff; // RFC 791 §3.1
const IPV6_FRAGMENT_OFFSET = 0xfff8; // RFC 8200 §4.5: offset(13) | res(2) | M(1)

/**
 * `l4Off`: transport header offset; `capEnd`: end of captured bytes of this IP packet;
 * `declEnd`: end according to the IP length fields (may exceed capEnd when snaplen cut it);
 * `proto` is -1 when the packet must be skipped (anomaly already counted).
 */
export const ip = { version: 0, srcOff: 0, dstOff: 0, proto: -1, l4Off: 0, capEnd: 0, declEnd: 0, id: -1, status: Status.OK as Status };

function fail(an: AnomalyCounters, a: Anomaly, s: Status): void {
  ip.status = s;
  an.bump(a);
}

export function decodeIpv4(buf: Uint8Array, off: number, end: number, an: AnomalyCounters): void {
  ip.proto = -1;
  ip.status = Status.OK;
  if (off + 20 > end) return fail(an, Anomaly.TRUNCATED_IP_HEADER, Status.TRUNCATED);
  const vihl = buf[off]!;
  if (vihl >> 4 !== 4) return fail(an, Anomaly.BAD_IP_VERSION, Status.INVALID);
  const hlen = (vihl & 0x0f) * 4;
  if (hlen < 20) return fail(an, Anomaly.BAD_IP_HEADER_LENGTH, Status.INVALID);
  if (off + hlen > end) return fail(an, Anomaly.TRUNCATED_IP_HEADER, Status.TRUNCATED);
  let total = (buf[off + 2]! << 8) | buf[off + 3]!;
  // Total length 0 is what segmentation offload leaves on captured super-frames: trust the capture.
  if (total === 0) total = end - off;
  if (total < hlen) return fail(an, Anomaly.BAD_IP_TOTAL_LENGTH, Status.INVALID);
  // Flags (DF 0x4000, MF 0x2000) and the 13-bit fragment offset (0x1fff, 8-octet units).
  const frag = (buf[off + 6]! << 8) | buf[off + 7]!;
  if ((frag & IPV4_FRAGMENT_OFFSET) !== 0) return fail(an, Anomaly.IP_FRAGMENT, Status.UNSUPPORTED); // no transport header
  ip.version = 4;
  ip.id = (buf[off + 4]! << 8) | buf[off + 5]!;
  ip.srcOff = off + 12;
  ip.dstOff = off + 16;
  ip.l4Off = off + hlen;
  ip.declEnd = off + total;
  ip.capEnd = ip.declEnd < end ? ip.declEnd : end;
  ip.proto = buf[off + 9]!;
}

export function decodeIpv6(buf: Uint8Array, off: number, end: number, an: AnomalyCounters): void {
  ip.proto = -1;
  ip.status = Status.OK;
  if (off + 40 > end) return fail(an, Anomaly.TRUNCATED_IP_HEADER, Status.TRUNCATED);
  if (buf[off]! >> 4 !== 6) return fail(an, Anomaly.BAD_IP_VERSION, Status.INVALID);
  const plen = (buf[off + 4]! << 8) | buf[off + 5]!;
  let next = buf[off + 6]!;
  // Payload length 0 means a jumbogram or an offloaded super-frame: trust the capture.
  const declEnd = plen === 0 ? end : off + 40 + plen;
  const capEnd = declEnd < end ? declEnd : end;
  let p = off + 40;
  for (let i = 0; ; i++) {
    if (next !== IPV6_HOP_BY_HOP && next !== IPV6_ROUTING && next !== IPV6_DEST_OPTS && next !== IPV6_MOBILITY &&
        next !== IPV6_AH && next !== IPV6_FRAGMENT) break;
    if (i === MAX_EXT_HEADERS) return fail(an, Anomaly.TOO_MANY_IPV6_EXTENSIONS, Status.INVALID);
    if (p + 8 > capEnd) return fail(an, Anomaly.TRUNCATED_IPV6_EXTENSION, Status.TRUNCATED);
    const h = p;
    if (next === IPV6_FRAGMENT) {
      const fo = (buf[h + 2]! << 8) | buf[h + 3]!;
      if ((fo & IPV6_FRAGMENT_OFFSET) !== 0) return fail(an, Anomaly.IP_FRAGMENT, Status.UNSUPPORTED); // no transport header
      p += 8; // offset 0: an atomic or first fragment, the transport header follows
    } else if (next === IPV6_AH) {
      p += (buf[h + 1]! + 2) * 4;
    } else {
      p += (buf[h + 1]! + 1) * 8;
    }
    next = buf[h]!;
  }
  if (p > capEnd) return fail(an, Anomaly.TRUNCATED_IPV6_EXTENSION, Status.TRUNCATED);
  ip.version = 6;
  ip.id = -1;
  ip.srcOff = off + 8;
  ip.dstOff = off + 24;
  ip.l4Off = p;
  ip.declEnd = declEnd;
  ip.capEnd = capEnd;
  ip.proto = next;
}
