/**
 * Link layers (tcpdump print-ether.c, print-sll.c, print-null.c; LINKTYPE_* from
 * https://www.tcpdump.org/linktypes.html). Each decoder finds where the network layer starts and
 * which protocol it carries, writing both into `link` (module scratch, no allocation).
 * native/src/flow_hash.cc walks the same link headers for the ring's flow hash: change both
 * together (test/regression/issue-8-flow-hash.test.ts compares them).
 */
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';
import { Status } from './reader.js';

export const LINKTYPE_NULL = 0; // BSD loopback, 4-byte family in host byte order
export const LINKTYPE_ETHERNET = 1;
export const LINKTYPE_RAW_DLT12 = 12; // DLT_RAW on most platforms
export const LINKTYPE_RAW_DLT14 = 14; // DLT_RAW on OpenBSD
export const LINKTYPE_RAW = 101;
export const LINKTYPE_LOOP = 108; // OpenBSD loopback, family in network byte order
export const LINKTYPE_LINUX_SLL = 113;
export const LINKTYPE_IPV4 = 228;
export const LINKTYPE_IPV6 = 229;
export const LINKTYPE_LINUX_SLL2 = 276;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100; // IEEE 802.1Q
const ETHERTYPE_QINQ = 0x88a8; // IEEE 802.1ad
const ETHERTYPE_QINQ_OLD = 0x9100;
const MAX_VLAN_TAGS = 4;

/**
 * Result of a link decode: `ethertype` 0 means "not IP / not decodable" (anomaly already counted,
 * `status` says whether the frame was cut short, malformed, or just not IP).
 */
export const link = { netOff: 0, ethertype: 0, status: Status.OK as Status };


function ethertypeOfVersion(b: number): number {
  const v = b >> 4;
  return v === 4 ? ETHERTYPE_IPV4 : v === 6 ? ETHERTYPE_IPV6 : 0;
}

/**
 * BSD address families (tcpdump af.h; linktypes.html LINKTYPE_NULL): AF_INET is 2 everywhere,
 * AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly), 30 (Darwin). The family,
 * not the IP version nibble, says what follows (tcpdump print-null.c).
 */
function ethertypeOfFamily(af: number): number {
  if (af === 2) return ETHERTYPE_IPV4;
  if (af === 24 || af === 28 || af === 30) return ETHERTYPE_IPV6;
  return 0;
}

function truncated(an: AnomalyCounters): void {
  link.status = Status.TRUNCATED;
  an.bump(Anomaly.TRUNCATED_LINK_HEADER);
}

export function decodeLink(buf: Uint8Array, off: number, end: number, linkType: number, an: AnomalyCounters): void {
  link.ethertype = 0;
  link.status = Status.UNSUPPORTED;
  switch (linkType) {
    case LINKTYPE_ETHERNET: {
      if (off + 14 > end) return truncated(an);
      let p = off + 12;
      let et = (buf[p]! << 8) | buf[p + 1]!;
      for (let tags = 0; et === ETHERTYPE_VLAN || et === ETHERTYPE_QINQ || et === ETHERTYPE_QINQ_OLD; tags++) {
        if (tags === MAX_VLAN_TAGS) return an.bump(Anomaly.TOO_MANY_VLAN_TAGS);
        if (p + 6 > end) return truncated(an);
        p += 4;
        et = (buf[p]! << 8) | buf[p + 1]!;
      }
      link.netOff = p + 2;
      return setEthertype(et, an);
    }
    case LINKTYPE_LINUX_SLL: // 16-byte header, protocol at 14 (libpcap sll.h)
      if (off + 16 > end) return truncated(an);
      link.netOff = off + 16;
      return setEthertype((buf[off + 14]! << 8) | buf[off + 15]!, an);
    case LINKTYPE_LINUX_SLL2: // 20-byte header, protocol at 0
      if (off + 20 > end) return truncated(an);
      link.netOff = off + 20;
      return setEthertype((buf[off]! << 8) | buf[off + 1]!, an);
    case LINKTYPE_RAW: case LINKTYPE_RAW_DLT12: case LINKTYPE_RAW_DLT14: case LINKTYPE_IPV4: case LINKTYPE_IPV6:
      if (off + 1 > end) return truncated(an);
      link.netOff = off;
      return setEthertype(ethertypeOfVersion(buf[off]!), an);
    case LINKTYPE_NULL: {
      if (off + 4 > end) return truncated(an);
      // Host byte order of the capturing machine: try little-endian first, then big-endian.
      const le = buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24);
      const be = (buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!;
      link.netOff = off + 4;
      return setEthertype(ethertypeOfFamily(le) || ethertypeOfFamily(be), an);
    }
    case LINKTYPE_LOOP:
      if (off + 4 > end) return truncated(an);
      link.netOff = off + 4;
      return setEthertype(ethertypeOfFamily((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!), an);
    default:
      return an.bump(Anomaly.UNSUPPORTED_LINK_TYPE);
  }
}

function setEthertype(et: number, an: AnomalyCounters): void {
  if (et === ETHERTYPE_IPV4 || et === ETHERTYPE_IPV6) {
    link.ethertype = et;
    link.status = Status.OK;
  } else an.bump(Anomaly.NON_IP_PACKET);
}
