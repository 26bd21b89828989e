// Link and network layer walk for FlowHash: the same steps, checks and limits as
// src/decode/link.ts (decodeLink) and src/decode/ip.ts (decodeIpv4, decodeIpv6). Change both
// together. Offsets are 32-bit integers compared against a limit before every read, never
// pointers moved past the end.
#include "flow_hash.h"

namespace slowshake {
namespace {

// LINKTYPE_* (https://www.tcpdump.org/linktypes.html)
constexpr int kLinkNull = 0;      // BSD loopback: 4-byte address family in the capturing host's byte order
constexpr int kLinkEthernet = 1;
constexpr int kLinkRaw12 = 12;    // DLT_RAW on most platforms
constexpr int kLinkRaw14 = 14;    // DLT_RAW on OpenBSD
constexpr int kLinkRaw = 101;
constexpr int kLinkLoop = 108;    // OpenBSD loopback: address family in network byte order
constexpr int kLinkSll = 113;     // Linux cooked v1: 16-byte header, protocol at 14 (libpcap sll.h)
constexpr int kLinkIpv4 = 228;
constexpr int kLinkIpv6 = 229;
constexpr int kLinkSll2 = 276;    // Linux cooked v2: 20-byte header, protocol at 0

constexpr uint32_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86dd;
constexpr uint32_t kEtherVlan = 0x8100, kEtherQinq = 0x88a8, kEtherQinqOld = 0x9100;  // IEEE 802.1Q, 802.1ad
constexpr int kMaxVlanTags = 4;

// IPv6 extension headers (RFC 8200 §4; AH RFC 4302 §2.2; Mobility RFC 6275 §6.1)
constexpr int kIp6HopByHop = 0, kIp6Routing = 43, kIp6Fragment = 44, kIp6Ah = 51, kIp6DestOpts = 60,
              kIp6Mobility = 135;
constexpr int kMaxExtHeaders = 8;
constexpr int kProtoTcp = 6, kProtoUdp = 17;

uint32_t Be16(const uint8_t* p) { return (static_cast<uint32_t>(p[0]) << 8) | p[1]; }
uint32_t Be32(const uint8_t* p) { return (Be16(p) << 16) | Be16(p + 2); }
uint32_t Le32(const uint8_t* p) {
  return p[0] | (static_cast<uint32_t>(p[1]) << 8) | (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

// FNV-1a 32 step per 32-bit big-endian address word, then one for the port. The address length
// is a template parameter so the word loop unrolls. (Per word, not per byte: 2 multiplies per
// IPv4 endpoint instead of 6, 5 instead of 18 for IPv6; scripts/bench/bench-flow-hash.mjs.)
template <int kAlen>
uint32_t Endpoint(const uint8_t* addr, uint32_t port) {
  uint32_t h = 2166136261u;
  for (int i = 0; i < kAlen; i += 4) {
    h ^= Be32(addr + i);
    h *= 16777619u;
  }
  h ^= port;
  h *= 16777619u;
  return h;
}

uint32_t Fmix(uint32_t h) {
  h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
  return h;
}

uint32_t EthertypeOfVersion(uint8_t b) {
  return (b >> 4) == 4 ? kEtherIpv4 : (b >> 4) == 6 ? kEtherIpv6 : 0;
}

// BSD address families (tcpdump af.h; linktypes.html LINKTYPE_NULL): AF_INET is 2 everywhere,
// AF_INET6 is 24 (NetBSD, OpenBSD, BSD/OS), 28 (FreeBSD, DragonFly), 30 (Darwin).
uint32_t EthertypeOfFamily(uint32_t af) {
  if (af == 2) return kEtherIpv4;
  if (af == 24 || af == 28 || af == 30) return kEtherIpv6;
  return 0;
}

}  // namespace

uint32_t FlowHash(const uint8_t* pkt, uint32_t caplen, int link_type) {
  const uint32_t end = caplen;
  uint32_t net = 0, ethertype = 0;
  switch (link_type) {
    case kLinkEthernet: {
      if (end < 14) return 0;
      uint32_t p = 12;
      ethertype = Be16(pkt + p);
      for (int tags = 0; ethertype == kEtherVlan || ethertype == kEtherQinq || ethertype == kEtherQinqOld; tags++) {
        if (tags == kMaxVlanTags || p + 6 > end) return 0;
        p += 4;
        ethertype = Be16(pkt + p);
      }
      net = p + 2;
      break;
    }
    case kLinkSll:
      if (end < 16) return 0;
      ethertype = Be16(pkt + 14); net = 16; break;
    case kLinkSll2:
      if (end < 20) return 0;
      ethertype = Be16(pkt); net = 20; break;
    case kLinkRaw: case kLinkRaw12: case kLinkRaw14: case kLinkIpv4: case kLinkIpv6:
      if (end < 1) return 0;
      ethertype = EthertypeOfVersion(pkt[0]); net = 0; break;
    case kLinkNull: {
      // Host byte order of the machine that captured: little-endian first, then big-endian.
      if (end < 4) return 0;
      ethertype = EthertypeOfFamily(Le32(pkt));
      if (ethertype == 0) ethertype = EthertypeOfFamily(Be32(pkt));
      net = 4;
      break;
    }
    case kLinkLoop:
      if (end < 4) return 0;
      ethertype = EthertypeOfFamily(Be32(pkt)); net = 4; break;
    default:
      return 0;
  }
  const uint8_t* ip = pkt + net;  // net <= end: every case checked its header length
  uint32_t l4, cap_end;
  int alen, proto;
  if (ethertype == kEtherIpv4) {  // RFC 791 §3.1
    if (net + 20 > end || (ip[0] >> 4) != 4) return 0;
    const uint32_t hlen = (ip[0] & 0x0fu) * 4;
    if (hlen < 20 || net + hlen > end) return 0;
    uint32_t total = Be16(ip + 2);
    if (total == 0) total = end - net;  // segmentation offload: trust the capture
    if (total < hlen) return 0;
    if ((Be16(ip + 6) & 0x1fff) != 0) return 0;  // fragment offset != 0: no transport header
    cap_end = net + total < end ? net + total : end;
    proto = ip[9];
    alen = 4;
    l4 = net + hlen;
  } else if (ethertype == kEtherIpv6) {  // RFC 8200 §3-4
    if (net + 40 > end || (ip[0] >> 4) != 6) return 0;
    const uint32_t plen = Be16(ip + 4);
    const uint32_t decl_end = plen == 0 ? end : net + 40 + plen;  // 0: jumbogram or offload
    cap_end = decl_end < end ? decl_end : end;
    proto = ip[6];
    alen = 16;
    l4 = net + 40;
    for (int i = 0;; i++) {
      const bool ext = proto == kIp6HopByHop || proto == kIp6Routing || proto == kIp6DestOpts ||
                       proto == kIp6Mobility || proto == kIp6Ah || proto == kIp6Fragment;
      if (!ext) break;
      if (i == kMaxExtHeaders || l4 + 8 > cap_end) return 0;
      const uint8_t* h = pkt + l4;
      if (proto == kIp6Fragment) {
        if ((Be16(h + 2) & 0xfff8) != 0) return 0;  // fragment offset != 0: no transport header
        l4 += 8;
      } else if (proto == kIp6Ah) {
        l4 += (h[1] + 2u) * 4;  // 4-octet units, minus 2
      } else {
        l4 += (h[1] + 1u) * 8;  // 8-octet units, not counting the first
      }
      proto = h[0];
    }
  } else {
    return 0;
  }
  if (proto != kProtoTcp && proto != kProtoUdp) return 0;
  if (l4 + 4 > cap_end) return 0;
  const uint32_t sport = Be16(pkt + l4), dport = Be16(pkt + l4 + 2);
  const uint32_t ea = alen == 4 ? Endpoint<4>(ip + 12, sport) : Endpoint<16>(ip + 8, sport);
  const uint32_t eb = alen == 4 ? Endpoint<4>(ip + 16, dport) : Endpoint<16>(ip + 24, dport);
  const uint32_t lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
  const uint32_t h = Fmix(lo ^ ((hi << 16) | (hi >> 16)) ^ (static_cast<uint32_t>(proto) << 24));
  return h == 0 ? 1 : h;
}

}  // namespace slowshake
