/**
 * The symmetric flow hash: the one TypeScript definition. The native capture thread computes the
 * same function (native/src/flow_hash.cc, its one C definition) for every packet and stores it in
 * the ring record header; the ring reader recomputes it from a 5-tuple for lookups, and the
 * analyzer's flow table uses it as its bucket hash, so the flow the analyzer decodes is the flow
 * the ring names. test/regression/issue-8-flow-hash.test.ts checks C == TypeScript on crafted
 * packets of every link type.
 *
 *   endpoint(addr, port) = FNV-1a 32 steps over the address as big-endian 32-bit words, then the port
 *   flow = fmix32(min(ea, eb) ^ rotl32(max(ea, eb), 16) ^ (proto << 24)), 0 mapped to 1
 *
 * Both directions give the same value (min/max), so a lookup needs no direction. A packet's hash
 * is taken over what src/decode/link.ts and src/decode/ip.ts find (flowHashOfPacket); 0 means
 * "no transport ports": not TCP/UDP over IP, a non-first fragment, or cut before the ports.
 */
import { decodeLink, link, ETHERTYPE_IPV4 } from '../decode/link.js';
import { decodeIpv4, decodeIpv6, ip } from '../decode/ip.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';

const FNV_OFFSET = 2166136261;
const FNV_PRIME = 16777619;
const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

/**
 * FNV-1a 32 steps over buf[off, off + alen) as big-endian 32-bit words, then the port. Per word,
 * not per byte: 2 multiplies per IPv4 endpoint instead of 6, 5 instead of 18 for IPv6.
 */
function endpoint(buf: Uint8Array, off: number, alen: number, port: number): number {
  let h = FNV_OFFSET;
  for (let i = off; i < off + alen; i += 4) {
    h = Math.imul(h ^ ((buf[i]! << 24) | (buf[i + 1]! << 16) | (buf[i + 2]! << 8) | buf[i + 3]!), FNV_PRIME);
  }
  return Math.imul(h ^ port, FNV_PRIME) >>> 0;
}

function combine(ea: number, eb: number, proto: number): number {
  const lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
  let h = (lo ^ (((hi << 16) | (hi >>> 16)) >>> 0) ^ (proto << 24)) >>> 0;
  // fmix32 (MurmurHash3 finaliser)
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h >>>= 0;
  return h === 0 ? 1 : h;
}

/** The flow hash of a 5-tuple given as address arrays (4 or 16 bytes each). */
export function flowHash(a: Uint8Array, aPort: number, b: Uint8Array, bPort: number, proto = IPPROTO_TCP): number {
  return combine(endpoint(a, 0, a.length, aPort), endpoint(b, 0, b.length, bPort), proto);
}

/**
 * The flow hash of a 5-tuple whose addresses are buf[srcOff, srcOff + alen) and
 * buf[dstOff, dstOff + alen): allocation-free, for the per-packet path.
 */
export function flowHashAt(buf: Uint8Array, srcOff: number, dstOff: number, alen: number, srcPort: number, dstPort: number, proto = IPPROTO_TCP): number {
  return combine(endpoint(buf, srcOff, alen, srcPort), endpoint(buf, dstOff, alen, dstPort), proto);
}

/**
 * flowHashAt for IPv4 with the addresses already read as big-endian 32-bit words (signed or
 * unsigned alike): the flow table's per-packet path reads each address once (issue 13).
 */
export function flowHashV4(srcWord: number, srcPort: number, dstWord: number, dstPort: number): number {
  const ea = Math.imul(Math.imul(FNV_OFFSET ^ srcWord, FNV_PRIME) ^ srcPort, FNV_PRIME) >>> 0;
  const eb = Math.imul(Math.imul(FNV_OFFSET ^ dstWord, FNV_PRIME) ^ dstPort, FNV_PRIME) >>> 0;
  return combine(ea, eb, IPPROTO_TCP);
}

const scratchAnomalies = new AnomalyCounters();

/**
 * What the native capture thread stores for the packet buf[off, off + caplen) of `linkType`:
 * the flow hash of its TCP/UDP ports and addresses as the TypeScript decoders find them, or 0.
 * Needs only the ports of the transport header (a TCP header cut after them still names its
 * flow). Used by the parity test and the in-memory ring of the tests; the analyzer hashes the
 * 5-tuple it decoded with flowHashAt.
 */
export function flowHashOfPacket(buf: Uint8Array, off: number, caplen: number, linkType: number): number {
  const end = off + caplen;
  decodeLink(buf, off, end, linkType, scratchAnomalies);
  if (link.ethertype === 0) return 0;
  if (link.ethertype === ETHERTYPE_IPV4) decodeIpv4(buf, link.netOff, end, scratchAnomalies);
  else decodeIpv6(buf, link.netOff, end, scratchAnomalies);
  if ((ip.proto !== IPPROTO_TCP && ip.proto !== IPPROTO_UDP) || ip.l4Off + 4 > ip.capEnd) return 0;
  const sp = (buf[ip.l4Off]! << 8) | buf[ip.l4Off + 1]!;
  const dp = (buf[ip.l4Off + 2]! << 8) | buf[ip.l4Off + 3]!;
  return flowHashAt(buf, ip.srcOff, ip.dstOff, ip.version === 6 ? 16 : 4, sp, dp, ip.proto);
}
