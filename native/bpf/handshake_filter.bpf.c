/* Per-flow handshake filter: an eBPF socket filter for the capture's packet socket, so that only
 * TLS handshakes reach user space. Each TCP flow passes from its SYN until user space marks its
 * handshake done (the analyzer emitted its record) or a per-flow packet or time budget runs out;
 * after that only its FIN/RST pass. Everything that is not TCP is dropped. Every decision is
 * counted in a per-CPU array.
 *
 * Built by native/tools/build-bpf.sh (clang -target bpf, from binding.gyp) and embedded in the
 * addon, which sets `cfg` before loading (native/src/kernel_filter.cc). The return value is the
 * number of bytes to keep: skb->len passes the packet whole, 0 drops it.
 *
 * Application data ends a flow without waiting for user space: the analyzer marks a flow done
 * tens of milliseconds after its handshake ended (the capture's block timeout and the follower's
 * poll), and a download sends a whole budget of packets in that time. So once the client has sent
 * a segment that starts a TLS application-data record (17 03 03) and then the server does too,
 * the handshake is over in every TLS version (TLS 1.3: the client's first such record is its
 * encrypted Finished, or its certificate; TLS 1.2: the client's first request after both
 * Finished), and the flow passes a tail of a few more packets, then only FIN/RST. The tail is
 * FLOW_DATA_TAIL_AFTER (4, slack for reordering) when the server had sent payload (its flight)
 * before the client's first application-data segment, and FLOW_DATA_TAIL (32) when the client's
 * data came first (TLS 1.3 early data): the server's flight and the client's Finished are then
 * still to come. A segment that starts mid-record matches by
 * chance once in 2^24.
 *
 * Packet data is read with bpf_skb_load_bytes (socket filters have no direct packet access);
 * offset 0 is the link header for Ethernet and the network header for cooked ("any") and raw IP
 * captures (af_packet hands SOCK_DGRAM sockets the packet from the network header).
 *
 * Cost (scripts/bench/bench-kernel-filter.mjs --bpf-stats, bulk TCP on a veth): ~175 ns per
 * packet in the program; the clock is read only for SYNs and handshake-phase packets (reading it
 * for every packet measured ~235 ns). It verifies with CAP_BPF alone (no CAP_PERFMON), which makes
 * the verifier walk speculative branches too: keep the code straight-line (see ip6_skip).
 *
 * Adaptive evidence (issue 12): user space may widen client networks (the `wide` LPM trie, up to
 * WIDE_MAX_ENTRIES IPv4/IPv6 prefixes, each with an expiry and a byte budget). A TCP packet the
 * rules above would drop (after its handshake, or of a flow whose SYN was never seen) still
 * passes in full when its source or destination is in a widened network with time and budget
 * left; the flow's own state advances as usual, so when the entry expires or its budget is spent
 * the normal rules apply again at once, with no user-space step. Packets that pass anyway (SYN,
 * FIN/RST, handshake) do not spend the budget. Only drops look at the trie, and only when
 * wide_ctl says it has entries. Measured the same way as above (3 alternating runs of 256 MiB):
 * with the trie empty ~155 ns per packet against ~172 ns before the trie existed (no difference
 * beyond noise); with one entry that matches no packet ~214 ns (two trie lookups per drop).
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "filter_abi.h"

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define IP6_MAX_EXT 3
#define VLAN_MAX_TAGS 4
#define ETH_P_QINQ_OLD 0x9100

/* Why the rules drop a packet (the counter `drop` increments). */
#define DROP_UNTRACKED 0
#define DROP_DONE 1
#define DROP_DATA 2
#define DROP_BUDGET 3

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536); /* set from kernelFilter.maxFlows before loading */
  __type(key, struct flow_key);
  __type(value, struct flow_state);
} flows SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct filter_counters);
} counters SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, WIDE_MAX_ENTRIES);
  __type(key, struct wide_key);
  __type(value, struct wide_net);
} wide SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct wide_control);
} wide_ctl SEC(".maps");

const volatile struct filter_config cfg = {FILTER_LINK_ETHERNET, 128, 10000000000ull};

static __always_inline int parse_ipv4(struct __sk_buff* skb, __u32 off, struct flow_key* k, __u32* l4, __u32* end) {
  __u8 h[20];
  if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0) return -1;
  if ((h[0] >> 4) != 4 || h[9] != IPPROTO_TCP) return -1;
  if (((h[6] & 0x1f) | h[7]) != 0) return -1; /* a non-first fragment has no TCP header */
  __u32 ihl = (h[0] & 0x0f) * 4;
  if (ihl < 20) return -1;
  __builtin_memcpy(&k->addr_a[0], &h[12], 4);
  __builtin_memcpy(&k->addr_b[0], &h[16], 4);
  k->ip_version = 4;
  *l4 = off + ihl;
  *end = off + ((h[2] << 8) | h[3]); /* not skb->len: a short frame carries Ethernet padding */
  return 0;
}

/* Steps over one IPv6 extension header (hop-by-hop, routing, fragment, destination options).
 * Straight-line code called a fixed number of times, not a loop: without CAP_PERFMON the verifier
 * also walks every speculative branch, and a loop over these branches exceeded its jump history. */
static __always_inline int ip6_skip(struct __sk_buff* skb, __u8* next, __u32* p) {
  const __u8 n = *next;
  if (n == IPPROTO_TCP) return 0;
  if (n != 0 && n != 43 && n != 44 && n != 60) return -1;
  __u8 e[4];
  if (bpf_skb_load_bytes(skb, *p, e, sizeof(e)) < 0) return -1;
  if (n == 44) {
    if (((e[2] << 8) | e[3]) & 0xfff8) return -1; /* only the first fragment carries the TCP header */
    *p += 8;
  } else {
    *p += 8 + e[1] * 8;
  }
  *next = e[0];
  return 0;
}

static __always_inline int parse_ipv6(struct __sk_buff* skb, __u32 off, struct flow_key* k, __u32* l4, __u32* end) {
  __u8 h[40];
  if (bpf_skb_load_bytes(skb, off, h, sizeof(h)) < 0) return -1;
  if ((h[0] >> 4) != 6) return -1;
  __builtin_memcpy(k->addr_a, &h[8], 16);
  __builtin_memcpy(k->addr_b, &h[24], 16);
  k->ip_version = 6;
  *end = off + 40 + ((h[4] << 8) | h[5]);
  __u8 next = h[6];
  __u32 p = off + 40;
  /* At most IP6_MAX_EXT extension headers before TCP. */
  if (ip6_skip(skb, &next, &p) < 0 || ip6_skip(skb, &next, &p) < 0 || ip6_skip(skb, &next, &p) < 0) return -1;
  if (next != IPPROTO_TCP) return -1;
  *l4 = p;
  return 0;
}

/* The live widened-network entry for address `addr` of the packet's flow, else null. */
static __always_inline struct wide_net* wide_find(const __u32* addr, __u8 version, struct filter_counters* c) {
  struct wide_key wk = {};
  wk.prefixlen = WIDE_KEY_BITS(version);
  wk.ip_version = version;
  __builtin_memcpy(wk.addr, addr, 16);
  struct wide_net* w = bpf_map_lookup_elem(&wide, &wk);
  if (!w) return 0;
  if (w->ended != WIDE_LIVE) return 0;
  if (bpf_ktime_get_ns() >= w->expires_ns) {
    if (__sync_val_compare_and_swap(&w->ended, WIDE_LIVE, WIDE_EXPIRED) == WIDE_LIVE) c->wide_expired++;
    return 0;
  }
  return w;
}

/* Adaptive evidence: 1 when a packet the rules would drop passes because its source or
 * destination is in a widened network that has time and bytes left (the budget is spent here).
 * With the trie empty (wide_ctl's count, kept by user space) it costs one array read. */
static __always_inline int wide_pass(struct __sk_buff* skb, const struct flow_key* k, struct filter_counters* c) {
  __u32 zero = 0;
  const struct wide_control* ctl = bpf_map_lookup_elem(&wide_ctl, &zero);
  if (!ctl || ctl->entries == 0) return 0;
  struct wide_net* w = wide_find(k->addr_a, k->ip_version, c);
  if (!w) w = wide_find(k->addr_b, k->ip_version, c);
  if (!w) return 0;
  const __u32 len = skb->len;
  /* The packet that finds budget left passes whole, so up to one packet more than the budget passes. */
  if (__sync_fetch_and_add(&w->budget, -(__s64)len) <= 0) {
    if (__sync_val_compare_and_swap(&w->ended, WIDE_LIVE, WIDE_BUDGET) == WIDE_LIVE) c->wide_budget_ended++;
    return 0;
  }
  __sync_fetch_and_add(&w->packets, 1);
  __sync_fetch_and_add(&w->bytes, len);
  c->passed++;
  c->passed_wide++;
  c->wide_bytes += len;
  return 1;
}

SEC("socket")
int handshake_filter(struct __sk_buff* skb) {
  __u32 zero = 0;
  struct filter_counters* c = bpf_map_lookup_elem(&counters, &zero);
  if (!c) return 0;
  struct flow_key k = {};
  __u32 off = 0, l4 = 0, end = 0;
  __u16 ethertype = 0;
  if (cfg.link == FILTER_LINK_ETHERNET) {
    __u8 eh[4];
    if (bpf_skb_load_bytes(skb, 12, eh, 2) < 0) goto non_tcp;
    ethertype = (eh[0] << 8) | eh[1];
    off = 14;
    /* VLAN tags still in the packet (a tag the NIC or the receive path took off is not): up to
     * VLAN_MAX_TAGS of them, 802.1Q, 802.1ad and the older 0x9100 QinQ, as the user-space
     * decoder reads them (src/decode/link.ts); more is not TCP to either. */
#pragma unroll
    for (int i = 0; i < VLAN_MAX_TAGS; i++) {
      if (ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD && ethertype != ETH_P_QINQ_OLD) break;
      if (bpf_skb_load_bytes(skb, off + 2, eh, 2) < 0) goto non_tcp;
      ethertype = (eh[0] << 8) | eh[1];
      off += 4;
    }
  } else if (cfg.link == FILTER_LINK_NETWORK) {
    ethertype = bpf_ntohs(skb->protocol);
  } else {
    __u8 v;
    if (bpf_skb_load_bytes(skb, 0, &v, 1) < 0) goto non_tcp;
    ethertype = (v >> 4) == 4 ? ETH_P_IP : (v >> 4) == 6 ? ETH_P_IPV6 : 0;
  }
  if (ethertype == ETH_P_IP) {
    if (parse_ipv4(skb, off, &k, &l4, &end) < 0) goto non_tcp;
  } else if (ethertype == ETH_P_IPV6) {
    if (parse_ipv6(skb, off, &k, &l4, &end) < 0) goto non_tcp;
  } else {
    goto non_tcp;
  }
  __u8 th[14];
  if (bpf_skb_load_bytes(skb, l4, th, sizeof(th)) < 0) goto non_tcp;
  __u16 sport, dport;
  __builtin_memcpy(&sport, &th[0], 2);
  __builtin_memcpy(&dport, &th[2], 2);
  const int src_is_a = FlowEndpointLess(k.addr_a, sport, k.addr_b, dport);
  if (src_is_a) {
    k.port_a = sport;
    k.port_b = dport;
  } else {
    __u32 t[4];
    __builtin_memcpy(t, k.addr_a, 16);
    __builtin_memcpy(k.addr_a, k.addr_b, 16);
    __builtin_memcpy(k.addr_b, t, 16);
    k.port_a = dport;
    k.port_b = sport;
  }
  const __u8 flags = th[13];
  if (flags & (TCP_FIN | TCP_RST)) {
    c->passed++;
    c->passed_fin_rst++;
    return skb->len;
  }
  if ((flags & (TCP_SYN | TCP_ACK)) == TCP_SYN) {
    struct flow_state s = {bpf_ktime_get_ns(), 1, FLOW_HANDSHAKE, src_is_a ? FLOW_CLIENT_IS_A : 0, 0};
    if (bpf_map_update_elem(&flows, &k, &s, BPF_NOEXIST) == 0) c->flows_inserted++;
    else bpf_map_update_elem(&flows, &k, &s, BPF_ANY); /* a new connection on the same ports, or a SYN retransmission */
    c->flows_started++;
    c->passed++;
    return skb->len;
  }
  /* From here every drop goes through `drop`, where a widened network may still pass the packet.
   * The reason is a number, not a pointer to its counter: without CAP_PERFMON the verifier
   * refuses a pointer whose offset differs by path. */
  int why;
  struct flow_state* st = bpf_map_lookup_elem(&flows, &k);
  if (!st) {
    why = DROP_UNTRACKED;
    goto drop;
  }
  if (st->phase == FLOW_DONE) {
    why = DROP_DONE;
    goto drop;
  }
  if (st->phase == FLOW_DATA) {
    why = DROP_DATA;
    goto drop;
  }
  if (st->phase != FLOW_HANDSHAKE) {
    why = DROP_BUDGET;
    goto drop;
  }
  if (st->flags & FLOW_TAIL) {
    if (st->tail == 0) {
      st->phase = FLOW_DATA;
      c->data_ended++;
      why = DROP_DATA;
      goto drop;
    }
    st->tail--;
  } else {
    /* A segment whose payload starts a TLS application-data record (17 03 03). */
    const __u32 pay = l4 + ((th[12] >> 4) * 4);
    const int from_client = src_is_a == !!(st->flags & FLOW_CLIENT_IS_A);
    __u8 rh[3];
    if (end >= pay + 3 && bpf_skb_load_bytes(skb, pay, rh, sizeof(rh)) == 0 && rh[0] == 0x17 && rh[1] == 0x03 && rh[2] == 0x03) {
      if (from_client) {
        st->flags |= FLOW_CLIENT_DATA;
      } else if (st->flags & FLOW_CLIENT_DATA) {
        st->flags |= FLOW_TAIL;
        st->tail = (st->flags & FLOW_SERVER_SENT) ? FLOW_DATA_TAIL_AFTER : FLOW_DATA_TAIL;
      }
    }
    if (!from_client && end > pay && !(st->flags & FLOW_CLIENT_DATA)) st->flags |= FLOW_SERVER_SENT;
  }
  /* Not atomic: two CPUs counting one flow's packets at once may lose an increment, which only
   * lets that flow pass a packet more. */
  const __u32 n = st->packets + 1;
  st->packets = n;
  if (n > cfg.flow_packets || bpf_ktime_get_ns() - st->syn_ns > cfg.flow_time_ns) {
    st->phase = FLOW_ENDED;
    c->budget_ended++;
    why = DROP_BUDGET;
    goto drop;
  }
  c->passed++;
  return skb->len;

drop:
  if (wide_pass(skb, &k, c)) return skb->len;
  if (why == DROP_UNTRACKED) c->dropped_untracked++;
  else if (why == DROP_DONE) c->dropped_done++;
  else if (why == DROP_DATA) c->dropped_data++;
  else c->dropped_budget++;
  return 0;

non_tcp:
  c->dropped_non_tcp++;
  return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
