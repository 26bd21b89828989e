/* The layout shared by the eBPF handshake filter (handshake_filter.bpf.c, built with clang -target
 * bpf) and the addon that loads it (native/src/kernel_filter.cc): the flow map's key and value,
 * the counters and the load-time configuration. Plain C with fixed-width kernel types, included by
 * both compilers; change both sides by changing this file only.
 *
 * Canonical key: both directions of a TCP connection map to one entry. Endpoint A is the one whose
 * (address words, port) compares lower under FlowEndpointLess; IPv4 addresses occupy the first 4
 * bytes of the 16-byte address, the rest zero. Addresses and ports are kept in network byte order
 * exactly as they appear on the wire, and compared as the same raw words on both sides.
 */
#ifndef SLOWSHAKE_FILTER_ABI_H_
#define SLOWSHAKE_FILTER_ABI_H_

#include <linux/types.h>

struct flow_key {
  __u32 addr_a[4];
  __u32 addr_b[4];
  __u16 port_a;
  __u16 port_b;
  __u8 ip_version; /* 4 or 6 */
  __u8 pad[3];
};

enum flow_phase {
  FLOW_HANDSHAKE = 0, /* from the SYN: packets pass */
  FLOW_DONE = 1,      /* marked by user space: only FIN/RST pass */
  FLOW_ENDED = 2,     /* a budget ran out: only FIN/RST pass */
  FLOW_DATA = 3,      /* application data both ways, then FLOW_DATA_TAIL more packets: only FIN/RST pass */
};

/* flow_state.flags */
#define FLOW_CLIENT_IS_A 0x01  /* the SYN came from endpoint A */
#define FLOW_CLIENT_DATA 0x02  /* the client sent a segment starting a TLS application-data record */
#define FLOW_TAIL 0x04         /* then the server did too: `tail` packets left before FLOW_DATA */
#define FLOW_SERVER_SENT 0x08  /* the server sent payload before the client's first application-data segment */

/* Packets a flow may still pass once both sides sent application data (see handshake_filter.bpf.c):
 * FLOW_DATA_TAIL when the client's data came before any server payload (TLS 1.3 early data: the
 * server's flight and the client's Finished may still follow), FLOW_DATA_TAIL_AFTER otherwise (the
 * handshake is over; a few packets of slack for reordering). */
#define FLOW_DATA_TAIL 32
#define FLOW_DATA_TAIL_AFTER 4

struct flow_state {
  __u64 syn_ns;  /* bpf_ktime_get_ns() at the (last) SYN */
  __u32 packets; /* packets seen since the SYN, the SYN included */
  __u16 phase;   /* enum flow_phase */
  __u8 flags;    /* FLOW_CLIENT_IS_A, FLOW_CLIENT_DATA, FLOW_TAIL, FLOW_SERVER_SENT */
  __u8 tail;     /* packets left while FLOW_TAIL */
};

/* Per-CPU counters (one PERCPU_ARRAY entry); user space sums the CPUs. */
struct filter_counters {
  __u64 passed;            /* every packet passed, FIN/RST included */
  __u64 passed_fin_rst;    /* of which FIN or RST */
  __u64 dropped_done;      /* flow marked done */
  __u64 dropped_budget;    /* flow's packet or time budget ran out */
  __u64 dropped_untracked; /* TCP without a flow entry (no SYN seen, or evicted) */
  __u64 dropped_non_tcp;   /* not TCP over IPv4/IPv6, or unparseable */
  __u64 flows_started;     /* SYNs that created or reset an entry */
  __u64 flows_inserted;    /* of which created one (no entry for the flow): entries <= min(this, max_flows) */
  __u64 budget_ended;      /* flows whose budget ran out */
  __u64 dropped_data;      /* flow past its handshake by the application-data rule */
  __u64 data_ended;        /* flows ended by that rule */
  /* Adaptive evidence (widened client networks, see struct wide_key). */
  __u64 passed_wide;       /* packets the rules above would have dropped, passed because a widened network matched (in `passed` too) */
  __u64 wide_bytes;        /* their bytes (skb->len) */
  __u64 wide_expired;      /* widened entries a packet found past their expiry (once per entry) */
  __u64 wide_budget_ended; /* widened entries whose byte budget a packet found spent (once per entry) */
};

enum filter_link {
  FILTER_LINK_ETHERNET = 0, /* Ethernet header at offset 0 (one 802.1Q/802.1ad tag skipped) */
  FILTER_LINK_NETWORK = 1,  /* network header at offset 0, protocol from skb->protocol (cooked "any") */
  FILTER_LINK_RAW = 2,      /* network header at offset 0, protocol from the IP version nibble */
};

struct filter_config {
  __u32 link;         /* enum filter_link */
  __u32 flow_packets; /* per-flow packet budget */
  __u64 flow_time_ns; /* per-flow time budget from the SYN */
};

/* Adaptive evidence (design.md "Always-on", issue 12): client networks whose TCP packets pass in
 * full for a while. An LPM trie (BPF_MAP_TYPE_LPM_TRIE, BPF_F_NO_PREALLOC) keyed by the IP version
 * byte then the address, so one trie holds IPv4 and IPv6 without mixing them: an entry for a.b.c.0/24
 * has prefixlen 8 + 24; a packet's lookup key has prefixlen WIDE_KEY_BITS(version) and its full
 * address (IPv4: first 4 bytes, the rest zero, as in flow_key). Written only by user space
 * (insert, replace, delete); the program updates the value's counters in place with atomics. */
#define WIDE_MAX_ENTRIES 64
#define WIDE_KEY_BITS(v) (8 + ((v) == 6 ? 128 : 32))

struct wide_key {
  __u32 prefixlen; /* LPM trie: leading bits of ip_version + addr that must match */
  __u8 ip_version; /* 4 or 6 */
  __u8 addr[16];   /* network byte order, bits past the prefix zero */
  __u8 pad[3];     /* zero; never compared (beyond the longest prefixlen) */
};

/* wide_net.ended: why the entry stopped passing packets (set once, by the first packet that found it so). */
#define WIDE_LIVE 0
#define WIDE_EXPIRED 1
#define WIDE_BUDGET 2

struct wide_net {
  __u64 expires_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) after which normal rules apply again */
  __s64 budget;     /* bytes left; the program subtracts skb->len atomically, normal rules once <= 0 */
  __u64 packets;    /* packets passed because of this entry (atomic adds) */
  __u64 bytes;      /* their bytes */
  __u64 ended;      /* WIDE_LIVE, WIDE_EXPIRED or WIDE_BUDGET (compare-and-swap from WIDE_LIVE; 64-bit: clang's BPF atomics) */
};

/* The one entry of the `wide_ctl` array, written by user space after every change to the trie:
 * with no entries the program never looks the trie up. */
struct wide_control {
  __u32 entries; /* entries in the trie (lapsed ones included until user space deletes them) */
  __u32 pad;
};

/* 1 when endpoint (a, pa) orders before (b, pb): address words first, then the port. */
static inline int FlowEndpointLess(const __u32* a, __u16 pa, const __u32* b, __u16 pb) {
  if (a[0] != b[0]) return a[0] < b[0];
  if (a[1] != b[1]) return a[1] < b[1];
  if (a[2] != b[2]) return a[2] < b[2];
  if (a[3] != b[3]) return a[3] < b[3];
  return pa < pb;
}

#endif /* SLOWSHAKE_FILTER_ABI_H_ */
