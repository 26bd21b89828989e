// Symmetric flow hash over a packet's IP addresses, transport ports and protocol, so both
// directions of a TCP/UDP flow get the same value. src/ring/flow-hash.ts computes the same
// function for lookups; keep them in step (a unit test compares them on real packets).
//   endpoint(a) = FNV-1a 32 over the address bytes, then port high byte, port low byte
//   flow = fmix32(min(ea, eb) ^ rotl32(max(ea, eb), 16) ^ (proto << 24)), 0 mapped to 1
// Returns 0 for packets that are not TCP/UDP over IPv4/IPv6 (or too short to tell).
#ifndef SLOWSHAKE_FLOW_HASH_H_
#define SLOWSHAKE_FLOW_HASH_H_

#include <cstdint>  // fixed-width integers

namespace slowshake {

uint32_t FlowHash(const uint8_t* pkt, uint32_t caplen, int link_type);

}  // namespace slowshake

#endif  // SLOWSHAKE_FLOW_HASH_H_
