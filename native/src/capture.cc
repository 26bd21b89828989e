#include "capture.h"

#include <fcntl.h>     // O_NONBLOCK, O_CLOEXEC
#include <poll.h>      // poll
#include <pthread.h>   // pthread_setname_np
#include <sys/mman.h>  // mmap, munmap
#include <unistd.h>    // pipe2, write, close

#include <cerrno>   // errno after madvise
#include <chrono>   // steady_clock for the stats period
#include <cstring>  // strerror
#include <ctime>    // clock_gettime for the fault-in time

#include "flow_hash.h"

namespace slowshake {

namespace {

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14
#endif

// Faults every page of [p, p + n) in now, writable, so the packet path never takes a page fault
// (the first fill of a fresh ring paid one per 4 KiB: most of its CPU above tcpdump's).
// MADV_POPULATE_WRITE reports a failure (out of memory) where MAP_POPULATE would not; before
// Linux 5.14, one write per page does the same.
bool FaultIn(void* p, uint64_t n) {
  if (madvise(p, n, MADV_POPULATE_WRITE) == 0) return true;
  if (errno != EINVAL) return false;
  const long page = sysconf(_SC_PAGESIZE);
  volatile uint8_t* b = static_cast<volatile uint8_t*>(p);
  for (uint64_t i = 0; i < n; i += static_cast<uint64_t>(page)) b[i] = 0;
  return true;
}

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

RingStorage::RingStorage(uint64_t n, std::string* err) : bytes(n) {
  void* m = mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    *err = "cannot allocate a " + std::to_string(n >> 20) + " MiB ring (mmap failed: out of memory?)";
    return;
  }
  void* ix = mmap(nullptr, sizeof(IndexEntry) * kIndexSlots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (ix == MAP_FAILED) {
    munmap(m, n);
    *err = "cannot allocate the ring time index";
    return;
  }
  void* fl = mmap(nullptr, sizeof(FlowSlot) * kFlowBuckets * kFlowWays, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (fl == MAP_FAILED) {
    munmap(m, n);
    munmap(ix, sizeof(IndexEntry) * kIndexSlots);
    *err = "cannot allocate the ring flow table";
    return;
  }
  // Transparent huge pages for the flow table (THP "madvise" mode): the writer reads it at random,
  // one bucket per packet, and 4 KiB pages cost a TLB miss each time. Not for the ring: measured,
  // huge pages there quadrupled the first fill's system time (0.18 -> 0.73 s per Mpkt), and with
  // the ring faulted in at open they still cost more than they saved (figures in ring.h, Write).
  madvise(fl, sizeof(FlowSlot) * kFlowBuckets * kFlowWays, MADV_HUGEPAGE);
  const uint64_t t0 = NowNs();
  if (!FaultIn(m, n) || !FaultIn(ix, sizeof(IndexEntry) * kIndexSlots) || !FaultIn(fl, sizeof(FlowSlot) * kFlowBuckets * kFlowWays)) {
    const int e = errno;
    munmap(m, n);
    munmap(ix, sizeof(IndexEntry) * kIndexSlots);
    munmap(fl, sizeof(FlowSlot) * kFlowBuckets * kFlowWays);
    *err = "cannot fault in a " + std::to_string(n >> 20) + " MiB ring: " + std::strerror(e) + " (not enough free memory for --ring-size?)";
    return;
  }
  fault_in_ns = NowNs() - t0;
  mem = static_cast<uint8_t*>(m);
  index = static_cast<IndexEntry*>(ix);  // zero pages: every bucket empty
  flows = static_cast<FlowSlot*>(fl);
  ring = std::make_unique<Ring>(mem, n, index, flows);
}

RingStorage::~RingStorage() {
  if (mem) munmap(mem, bytes);
  if (index) munmap(index, sizeof(IndexEntry) * kIndexSlots);
  if (flows) munmap(flows, sizeof(FlowSlot) * kFlowBuckets * kFlowWays);
}

std::string ListInterfaces() {
  pcap_if_t* all = nullptr;
  char errbuf[PCAP_ERRBUF_SIZE];
  if (pcap_findalldevs(&all, errbuf) != 0) return "(cannot list interfaces: " + std::string(errbuf) + ")";
  std::string out;
  for (pcap_if_t* d = all; d; d = d->next) {
    if (!out.empty()) out += ", ";
    out += d->name;
  }
  pcap_freealldevs(all);
  return out.empty() ? "(none visible)" : out;
}

std::unique_ptr<Capture> Capture::Open(const CaptureOptions& o, std::string* err) {
  const std::string where = "open \"" + o.device + "\"";
  char errbuf[PCAP_ERRBUF_SIZE] = {0};
  std::unique_ptr<Capture> c(new Capture());
  c->pcap_ = pcap_create(o.device.c_str(), errbuf);
  if (!c->pcap_) {
    *err = where + ": " + errbuf;
    return nullptr;
  }
  pcap_set_snaplen(c->pcap_, o.snaplen);
  pcap_set_promisc(c->pcap_, o.promisc ? 1 : 0);
  pcap_set_timeout(c->pcap_, o.timeout_ms);
  pcap_set_buffer_size(c->pcap_, o.buffer_bytes);
  pcap_set_immediate_mode(c->pcap_, 0);
  const bool nano_ok = pcap_set_tstamp_precision(c->pcap_, PCAP_TSTAMP_PRECISION_NANO) == 0;
  // The ring is faulted in before activation: packets start queueing in the kernel at
  // pcap_activate, and 1 GiB takes a few hundred milliseconds.
  std::string serr;
  c->storage_ = std::make_shared<RingStorage>(o.ring_bytes, &serr);
  if (!c->storage_->ok()) {
    *err = serr;
    return nullptr;
  }
  c->ring_ = c->storage_->ring.get();
  const int rc = pcap_activate(c->pcap_);
  if (rc < 0) {
    switch (rc) {
      case PCAP_ERROR_NO_SUCH_DEVICE:
        *err = where + ": no such interface (interfaces: " + ListInterfaces() + ")";
        break;
      case PCAP_ERROR_PERM_DENIED:
        *err = where + ": permission denied: packet capture needs CAP_NET_RAW (run as root, or grant the capability to node)";
        break;
      case PCAP_ERROR_PROMISC_PERM_DENIED:
        *err = where + ": promiscuous mode needs CAP_NET_ADMIN (run as root, or use --no-promisc)";
        break;
      case PCAP_ERROR_IFACE_NOT_UP:
        *err = where + ": the interface is down";
        break;
      default:
        *err = where + ": pcap_activate: " + pcap_geterr(c->pcap_);
    }
    return nullptr;
  }
  c->nano_ = nano_ok && pcap_get_tstamp_precision(c->pcap_) == PCAP_TSTAMP_PRECISION_NANO;
  c->link_type_ = pcap_datalink(c->pcap_);
  c->timeout_ms_ = o.timeout_ms;
  // The user's expression alone first, so a bad one is reported as the user wrote it.
  if (!o.filter.empty()) {
    bpf_program prog;
    if (pcap_compile(c->pcap_, &prog, o.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
      *err = "bad filter \"" + o.filter + "\": " + pcap_geterr(c->pcap_);
      return nullptr;
    }
    pcap_freecode(&prog);
  }
  using Mode = CaptureOptions::FilterMode;
  bool classic = o.filter_mode == Mode::kClassic;
  if (o.filter_mode == Mode::kAuto || o.filter_mode == Mode::kEbpf) {
    std::string kerr;
    c->kfilter_ = KernelFilter::Attach(pcap_fileno(c->pcap_), c->link_type_, o.kernel, &c->attach_ns_, &kerr);
    if (c->kfilter_) {
      c->filter_mode_ = "ebpf";
      if (!o.filter.empty()) {
        // Compiled for the bytes the callback sees (VLAN tags reinserted by libpcap, cooked
        // headers built), not for the live socket: a dead handle does not use the kernel's
        // auxiliary-data loads, which the user-space interpreter cannot evaluate.
        pcap_t* dead = pcap_open_dead(c->link_type_, o.snaplen);
        const int rc = dead ? pcap_compile(dead, &c->user_prog_, o.filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) : -1;
        if (rc != 0) {
          *err = "bad filter \"" + o.filter + "\": " + (dead ? pcap_geterr(dead) : "pcap_open_dead failed");
          if (dead) pcap_close(dead);
          return nullptr;
        }
        pcap_close(dead);
        c->user_prog_set_ = true;
      }
    } else if (o.filter_mode == Mode::kEbpf) {
      *err = where + ": kernel filter ebpf: " + kerr;
      return nullptr;
    } else {
      classic = true;
      c->filter_reason_ = kerr;
    }
  }
  if (classic) {
    std::string hs = std::string("(") + kClassicHandshakeFilter + ")";
    // On Ethernet, frames with one or two VLAN tags still in the packet too (the eBPF filter reads
    // up to four). `vlan` moves every later offset of the expression, so the tagged cases nest
    // and the user's filter comes first (a `vlan` of theirs then moves ours alike).
    if (c->link_type_ == DLT_EN10MB) hs = "(" + hs + " or (vlan and (" + hs + " or (vlan and " + hs + "))))";
    std::string expr = o.filter.empty() ? hs : "(" + o.filter + ") and " + hs;
    if (!c->InstallClassic(where, expr, err)) return nullptr;
    c->filter_mode_ = "classic";
  } else if (!c->kfilter_ && !o.filter.empty()) {
    if (!c->InstallClassic(where, o.filter, err)) return nullptr;
  }
  if (pcap_setnonblock(c->pcap_, 1, errbuf) != 0) {
    *err = where + ": pcap_setnonblock: " + errbuf;
    return nullptr;
  }
  if (pipe2(c->wake_, O_NONBLOCK | O_CLOEXEC) != 0) {
    *err = "cannot create the wake-up pipe";
    return nullptr;
  }
  c->thread_ = std::thread([p = c.get()] { p->Run(); });
  return c;
}

bool Capture::InstallClassic(const std::string& where, const std::string& expr, std::string* err) {
  bpf_program prog;
  if (pcap_compile(pcap_, &prog, expr.c_str(), 1, PCAP_NETMASK_UNKNOWN) != 0) {
    *err = "bad filter \"" + expr + "\": " + pcap_geterr(pcap_);
    return false;
  }
  const int set = pcap_setfilter(pcap_, &prog);
  pcap_freecode(&prog);
  if (set != 0) {
    *err = where + ": cannot install the filter: " + pcap_geterr(pcap_);
    return false;
  }
  return true;
}

Capture::~Capture() {
  Stop();
  if (pcap_) pcap_close(pcap_);
  if (user_prog_set_) pcap_freecode(&user_prog_);
  if (wake_[0] >= 0) close(wake_[0]);
  if (wake_[1] >= 0) close(wake_[1]);
}

void Capture::Stop() {
  if (!thread_.joinable()) return;
  stop_.store(true);
  pcap_breakloop(pcap_);
  const char b = 1;
  ssize_t ignored = write(wake_[1], &b, 1);  // poll() wakes even where breakloop does not
  (void)ignored;
  thread_.join();
  if (state_.load() == 0) state_.store(1);
}

void Capture::OnPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes) {
  Capture* c = reinterpret_cast<Capture*>(user);
  const uint32_t nsec = c->nano_ ? static_cast<uint32_t>(h->ts.tv_usec) : static_cast<uint32_t>(h->ts.tv_usec) * 1000;
  // Stamped before the eBPF filter was attached: queued unfiltered while it loaded (the stamp is
  // taken in the same softirq as the filter runs, so the boundary is exact to a few microseconds).
  if (c->attach_ns_ != 0 && static_cast<uint64_t>(h->ts.tv_sec) * 1000000000ull + nsec < c->attach_ns_) {
    c->pre_attach_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (c->user_prog_set_ && pcap_offline_filter(&c->user_prog_, h, bytes) == 0) {
    c->user_rejected_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t hash = FlowHash(bytes, h->caplen, c->link_type_);
  if (hash != 0) c->ring_->Prefetch(hash);
  c->ring_->Write(bytes, h->caplen, h->len, hash, static_cast<uint32_t>(h->ts.tv_sec), nsec,
                  static_cast<uint16_t>(c->link_type_));
}

void Capture::PublishPcapStats() {
  pcap_stat ps;
  if (pcap_stats(pcap_, &ps) == 0) {
    kernel_received_.store(ps.ps_recv, std::memory_order_relaxed);
    kernel_drops_.store(ps.ps_drop, std::memory_order_relaxed);
    if_drops_.store(ps.ps_ifdrop, std::memory_order_relaxed);
  }
}

void Capture::Run() {
  // A name of its own in /proc/PID/task/*/comm and top -H (every other thread of Node is "node").
  pthread_setname_np(pthread_self(), "slowshake-cap");
  using Clock = std::chrono::steady_clock;
  pollfd fds[2] = {{pcap_get_selectable_fd(pcap_), POLLIN, 0}, {wake_[0], POLLIN, 0}};
  auto next_stats = Clock::now();
  auto pps_mark = Clock::now();
  uint64_t pps_count = ring_->counters().packets.load(std::memory_order_relaxed);
  while (!stop_.load(std::memory_order_relaxed)) {
    const int n = pcap_dispatch(pcap_, -1, &Capture::OnPacket, reinterpret_cast<u_char*>(this));
    ring_->Flush();  // the batch's last record, held back by Write
    if (n == PCAP_ERROR) {
      std::lock_guard<std::mutex> lock(err_mu_);
      error_ = pcap_geterr(pcap_);
      state_.store(2);
      break;
    }
    if (n == PCAP_ERROR_BREAK) break;
    const auto now = Clock::now();
    if (now >= next_stats) {
      PublishPcapStats();
      next_stats = now + std::chrono::milliseconds(100);
      const auto dt = std::chrono::duration<double>(now - pps_mark).count();
      if (dt >= 1.0) {
        const uint64_t cnt = ring_->counters().packets.load(std::memory_order_relaxed);
        pps_.store(static_cast<uint64_t>((cnt - pps_count) / dt), std::memory_order_relaxed);
        pps_count = cnt;
        pps_mark = now;
      }
    }
    if (n == 0) {
      fds[0].revents = fds[1].revents = 0;
      poll(fds, 2, 100);
    }
  }
  if (state_.load() == 0) {
    // Graceful stop: the kernel hands over a partly filled block only when its timeout expires,
    // so keep dispatching for one timeout (plus margin) or the last packets it already counted as
    // received would never reach the ring (measured: 53 of 200 lost on an immediate stop).
    const auto drain_until = Clock::now() + std::chrono::milliseconds(timeout_ms_ + 30);
    pollfd fd = {pcap_get_selectable_fd(pcap_), POLLIN, 0};
    while (Clock::now() < drain_until) {
      const int n = pcap_dispatch(pcap_, -1, &Capture::OnPacket, reinterpret_cast<u_char*>(this));
      ring_->Flush();
      if (n < 0 && n != PCAP_ERROR_BREAK) break;
      if (n <= 0) {
        fd.revents = 0;
        poll(&fd, 1, 10);
      }
    }
  }
  ring_->Flush();
  PublishPcapStats();
}

CaptureStats Capture::GetStats() {
  CaptureStats s;
  s.ring = &ring_->counters();
  s.kernel_received = kernel_received_.load(std::memory_order_relaxed);
  s.kernel_drops = kernel_drops_.load(std::memory_order_relaxed);
  s.if_drops = if_drops_.load(std::memory_order_relaxed);
  s.pps = pps_.load(std::memory_order_relaxed);
  s.state = state_.load();
  std::lock_guard<std::mutex> lock(err_mu_);
  s.error = error_;
  return s;
}

}  // namespace slowshake
