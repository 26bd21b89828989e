#include "flow_hash.h"

namespace slowshake {
namespace {

constexpr int kLinkNull = 0, kLinkEthernet = 1, kLinkRaw12 = 12, kLinkRaw14 = 14, kLinkRaw = 101,
              kLinkLoop = 108, kLinkSll = 113, kLinkIpv4 = 228, kLinkIpv6 = 229, kLinkSll2 = 276;

uint32_t Fnv(uint32_t h, const uint8_t* p, int n) {
  for (int i = 0; i < n; i++) { h ^= p[i]; h *= 16777619u; }
  return h;
}

uint32_t Endpoint(const uint8_t* addr, int alen, const uint8_t* port) {
  return Fnv(Fnv(2166136261u, addr, alen), port, 2);
}

uint32_t Fmix(uint32_t h) {
  h ^= h >> 16; h *= 0x85ebca6bu; h ^= h >> 13; h *= 0xc2b2ae35u; h ^= h >> 16;
  return h;
}

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

}  // namespace

uint32_t FlowHash(const uint8_t* pkt, uint32_t caplen, int link_type) {
  const uint8_t* end = pkt + caplen;
  const uint8_t* p = pkt;
  int ethertype = 0;
  switch (link_type) {
    case kLinkEthernet: {
      if (caplen < 14) return 0;
      p = pkt + 12;
      ethertype = Be16(p);
      for (int tags = 0; (ethertype == 0x8100 || ethertype == 0x88a8 || ethertype == 0x9100) && tags < 4; tags++) {
        if (p + 6 > end) return 0;
        p += 4;
        ethertype = Be16(p);
      }
      p += 2;
      break;
    }
    case kLinkSll:
      if (caplen < 16) return 0;
      ethertype = Be16(pkt + 14); p = pkt + 16; break;
    case kLinkSll2:
      if (caplen < 20) return 0;
      ethertype = Be16(pkt); p = pkt + 20; break;
    case kLinkRaw: case kLinkRaw12: case kLinkRaw14: case kLinkIpv4: case kLinkIpv6:
      if (caplen < 1) return 0;
      ethertype = (pkt[0] >> 4) == 4 ? 0x0800 : (pkt[0] >> 4) == 6 ? 0x86dd : 0; break;
    case kLinkNull: case kLinkLoop:
      if (caplen < 5) return 0;
      p = pkt + 4;
      ethertype = (p[0] >> 4) == 4 ? 0x0800 : (p[0] >> 4) == 6 ? 0x86dd : 0; break;
    default:
      return 0;
  }
  const uint8_t *src, *dst, *l4;
  int alen, proto;
  if (ethertype == 0x0800) {
    if (p + 20 > end || (p[0] >> 4) != 4) return 0;
    const int ihl = (p[0] & 0x0f) * 4;
    if (ihl < 20) return 0;
    if ((Be16(p + 6) & 0x1fff) != 0) return 0;  // non-first fragment: no ports
    proto = p[9]; src = p + 12; dst = p + 16; alen = 4; l4 = p + ihl;
  } else if (ethertype == 0x86dd) {
    if (p + 40 > end || (p[0] >> 4) != 6) return 0;
    proto = p[6]; src = p + 8; dst = p + 24; alen = 16; l4 = p + 40;
    for (int i = 0; i < 8 && (proto == 0 || proto == 43 || proto == 60 || proto == 44); i++) {
      if (l4 + 8 > end) return 0;
      if (proto == 44 && (Be16(l4 + 2) & 0xfff8) != 0) return 0;
      const int len = proto == 44 ? 8 : (l4[1] + 1) * 8;
      proto = l4[0];
      l4 += len;
    }
  } else {
    return 0;
  }
  if (proto != 6 && proto != 17) return 0;
  if (l4 + 4 > end) return 0;
  const uint32_t ea = Endpoint(src, alen, l4);
  const uint32_t eb = Endpoint(dst, alen, l4 + 2);
  const uint32_t lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
  uint32_t h = Fmix(lo ^ ((hi << 16) | (hi >> 16)) ^ (static_cast<uint32_t>(proto) << 24));
  return h == 0 ? 1 : h;
}

}  // namespace slowshake
