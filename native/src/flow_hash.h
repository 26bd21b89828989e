// Symmetric flow hash over a packet's IP addresses, transport ports and protocol, so both
// directions of a TCP/UDP flow get the same value. This is the one C definition; the capture
// thread stores it in every ring record header. Its TypeScript twin is src/ring/flow-hash.ts over
// the decoders src/decode/link.ts and src/decode/ip.ts; the two must find the same bytes in the
// same packets (test/regression/issue-8-flow-hash.test.ts compares them through the addon).
//   endpoint(a) = FNV-1a 32 steps over the address as big-endian 32-bit words, then the port
//   flow = fmix32(min(ea, eb) ^ rotl32(max(ea, eb), 16) ^ (proto << 24)), 0 mapped to 1
// Returns 0 for packets whose transport ports cannot be read: not TCP/UDP over IPv4/IPv6, a
// non-first fragment, or cut (by snaplen or by the IP length fields) before the ports.
//
// Thread affinity: none (a pure function of its arguments); reads only pkt[0, caplen).
#ifndef SLOWSHAKE_FLOW_HASH_H_
#define SLOWSHAKE_FLOW_HASH_H_

#include <cstdint>  // fixed-width integers

namespace slowshake {

uint32_t FlowHash(const uint8_t* pkt, uint32_t caplen, int link_type);

}  // namespace slowshake

#endif  // SLOWSHAKE_FLOW_HASH_H_
