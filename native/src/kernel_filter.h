// Kernel-side packet selection for the capture socket (design.md "Always-on").
//
// KernelFilter: the per-flow eBPF socket filter (native/bpf/handshake_filter.bpf.c, embedded in
// the addon at build time) loaded with libbpf and attached to libpcap's packet socket with
// SO_ATTACH_BPF. libpcap touches a socket's filter only in pcap_setfilter (SO_ATTACH_FILTER,
// SO_DETACH_FILTER; pcap-linux.c set_kernel_filter/reset_kernel_filter), never at activate or
// close, so with the eBPF filter on the capture never calls pcap_setfilter and applies the
// user's expression in the capture thread instead.
//
// Privileges: loading needs CAP_BPF (kernel.unprivileged_bpf_disabled != 0); after that the
// program stays attached for the socket's life, and marking flows done or reading counters are
// map syscalls on fds opened at load time, which the kernel checks against the fd only (no
// capability), so they keep working after capture drops root.
//
// Adaptive evidence (issue 12): Widen/Narrow/Widened edit and list the program's `wide` LPM trie
// of client networks that pass in full for a while (filter_abi.h struct wide_key/wide_net), and
// keep `wide_ctl`'s entry count equal to the trie's so the program skips the trie when it is
// empty. The program only updates an entry's counters; it never inserts or deletes, so the count
// is exact. Same fds-opened-at-load rule: they work after the privilege drop.
//
// Threads: Load() on the JS thread; MarkDone(), ReadCounters() and the Widen family on the JS
// thread (the bpf syscalls are safe against the program running in softirq on other CPUs).
#ifndef SLOWSHAKE_KERNEL_FILTER_H_
#define SLOWSHAKE_KERNEL_FILTER_H_

#include <atomic>   // std::atomic
#include <cstdint>  // fixed-width integers
#include <memory>   // std::unique_ptr
#include <string>   // std::string
#include <vector>   // per-CPU counter buffer

#include "../bpf/filter_abi.h"

struct bpf_object;

namespace slowshake {

struct KernelFilterOptions {
  uint32_t flow_packets = 128;
  uint64_t flow_time_ns = 10'000'000'000ull;
  uint32_t max_flows = 65536;
};

struct KernelFilterCounters {
  filter_counters sum;         // summed over CPUs
  uint64_t marked_done;        // MarkDone calls that found the flow's entry
  uint64_t mark_missing;       // MarkDone calls whose flow had no entry (evicted, or never seen)
  uint64_t mark_failed;        // MarkDone calls the kernel refused otherwise (errno in last_mark_errno)
  int last_mark_errno;
  uint32_t max_flows;
  uint32_t wide_entries;   // entries in the widened-network trie (wide_ctl's count)
  uint64_t widen_failed;   // Widen calls the kernel refused (map full, or errno)
};

// One widened network as Widened() lists it.
struct WideEntry {
  int ip_version;
  uint8_t addr[16];
  int prefix_len;          // of the address (without the version byte)
  uint64_t ns_left;        // until expiry, 0 when expired
  uint64_t bytes_left;     // budget left, 0 when spent
  uint64_t packets, bytes; // passed because of this entry
  const char* state;       // "active", "expired" or "budget"
};

class KernelFilter {
 public:
  // Loads the program with `link_type`'s header layout and attaches it to `sock_fd`; `attach_ns`:
  // CLOCK_REALTIME just before the attach (packets stamped earlier reached the socket unfiltered).
  // Returns null and sets `err` (one line, with the cause) on failure.
  static std::unique_ptr<KernelFilter> Attach(int sock_fd, int link_type, const KernelFilterOptions& o, uint64_t* attach_ns,
                                              std::string* err);
  ~KernelFilter();

  // Marks the flow done (only FIN/RST pass from now on). false: no entry for it.
  bool MarkDone(const flow_key& key);
  bool ReadCounters(KernelFilterCounters* out, std::string* err);

  // Widens `addr`/`prefix_len` (host bits are cleared) for `duration_ns` and `max_bytes`: inserts
  // the entry, or replaces its expiry and budget (keeping its packet and byte counts). Returns ""
  // when done, else one line saying why not (counted in widen_failed).
  std::string Widen(int ip_version, const uint8_t* addr, int prefix_len, uint64_t duration_ns, uint64_t max_bytes);
  // Deletes the entry for exactly that network; false when there was none.
  bool Narrow(int ip_version, const uint8_t* addr, int prefix_len);
  // Every entry; lapsed ones (expired, budget spent) are listed once more with their final counts
  // and then deleted, so the trie empties and the program stops looking it up. "" or the error.
  std::string Widened(std::vector<WideEntry>* out);

 private:
  KernelFilter() = default;
  bpf_object* obj_ = nullptr;
  int flows_fd_ = -1;
  int counters_fd_ = -1;
  int wide_fd_ = -1;
  int wide_ctl_fd_ = -1;
  uint32_t wide_entries_ = 0;
  uint64_t widen_failed_ = 0;
  // Counts the trie's entries and stores the count in wide_ctl; "" or the error.
  std::string SyncWideCount();
  std::vector<filter_counters> percpu_;
  uint32_t max_flows_ = 0;
  std::atomic<uint64_t> marked_done_{0}, mark_missing_{0}, mark_failed_{0};
  std::atomic<int> last_mark_errno_{0};
};

// Builds the canonical key of a flow from its endpoints (addresses in network byte order, 4 or 16
// bytes; ports in host order), as the program builds it from a packet.
void MakeFlowKey(int ip_version, const uint8_t* client, uint16_t client_port, const uint8_t* server, uint16_t server_port,
                 flow_key* out);

// The classic BPF (libpcap expression) fallback: TCP SYN/FIN/RST, and segments whose payload
// starts a TLS handshake or ChangeCipherSpec record, IPv4 and IPv6 (no extension headers).
extern const char kClassicHandshakeFilter[];

}  // namespace slowshake

#endif  // SLOWSHAKE_KERNEL_FILTER_H_
