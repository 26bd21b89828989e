// Capture: a libpcap handle plus a dedicated thread that copies every packet straight into the
// ring (no JavaScript per packet).
//
// Threads: Open() and Stop()/destructor run on the JS thread; Run() (and the pcap callback) on the
// capture thread, which alone touches the pcap_t after Open(). Statistics are published through
// atomics, so GetStats() is safe from any thread at any time.
// Ownership: the ring storage is shared between the Capture and the ArrayBuffers handed to JS;
// the last owner frees it, so JS may keep reading a ring after capture stopped.
#ifndef SLOWSHAKE_CAPTURE_H_
#define SLOWSHAKE_CAPTURE_H_

#include <pcap/pcap.h>  // pcap_t, pcap_pkthdr

#include <atomic>   // std::atomic
#include <memory>   // std::shared_ptr, std::unique_ptr
#include <mutex>    // std::mutex for the error text
#include <string>   // std::string
#include <thread>   // std::thread

#include "kernel_filter.h"
#include "ring.h"

namespace slowshake {

struct CaptureOptions {
  std::string device;
  std::string filter;
  int snaplen = 262144;
  int buffer_bytes = 64 << 20;
  bool promisc = true;
  int timeout_ms = 50;
  uint64_t ring_bytes = 256ull << 20;
  // Kernel-side packet selection (design.md "Always-on"): off (every packet, the user's filter in
  // the kernel as classic BPF), auto (eBPF, else classic), ebpf (or fail), classic.
  enum class FilterMode { kOff, kAuto, kEbpf, kClassic } filter_mode = FilterMode::kOff;
  KernelFilterOptions kernel;
};

// mmap'ed ring memory, time index and flow table, all faulted in when made; freed (munmap) by the
// last shared owner.
struct RingStorage {
  RingStorage(uint64_t bytes, std::string* err);
  ~RingStorage();
  bool ok() const { return mem != nullptr && index != nullptr && flows != nullptr; }
  uint8_t* mem = nullptr;
  uint64_t bytes = 0;
  IndexEntry* index = nullptr;
  FlowSlot* flows = nullptr;
  uint64_t fault_in_ns = 0;  // time taken to fault ring, index and flow table in (at open)
  std::unique_ptr<Ring> ring;
};

struct CaptureStats {
  RingCounters* ring;
  uint64_t kernel_received, kernel_drops, if_drops, pps;
  int state;  // 0 running, 1 stopped, 2 failed
  std::string error;
};

class Capture {
 public:
  // Opens and activates the device, installs the filter and starts the capture thread.
  // Returns null and fills `err` (one line, with context) on failure.
  static std::unique_ptr<Capture> Open(const CaptureOptions& opts, std::string* err);
  ~Capture();

  void Stop();  // JS thread: wakes the capture thread, joins it. Idempotent.
  CaptureStats GetStats();
  std::shared_ptr<RingStorage> storage() const { return storage_; }
  int link_type() const { return link_type_; }
  bool nanosecond() const { return nano_; }
  // The kernel filter in use: "ebpf", "classic" or "off"; and why eBPF is not in use (auto).
  const char* filter_mode() const { return filter_mode_; }
  const std::string& filter_reason() const { return filter_reason_; }
  KernelFilter* kernel_filter() { return kfilter_.get(); }
  // Packets the user's expression rejected in the capture thread (eBPF mode only).
  uint64_t user_filter_rejected() const { return user_rejected_.load(std::memory_order_relaxed); }
  // Packets the socket queued between pcap_activate and SO_ATTACH_BPF (unfiltered), discarded.
  uint64_t pre_attach_discarded() const { return pre_attach_.load(std::memory_order_relaxed); }

 private:
  Capture() = default;
  void Run();
  void PublishPcapStats();
  static void OnPacket(u_char* user, const pcap_pkthdr* h, const u_char* bytes);

  bool InstallClassic(const std::string& where, const std::string& expr, std::string* err);

  pcap_t* pcap_ = nullptr;
  std::unique_ptr<KernelFilter> kfilter_;
  const char* filter_mode_ = "off";
  std::string filter_reason_;
  // With the eBPF filter the user's expression runs here, per packet, before the ring copy.
  bool user_prog_set_ = false;
  bpf_program user_prog_ = {0, nullptr};
  std::atomic<uint64_t> user_rejected_{0};
  uint64_t attach_ns_ = 0;  // CLOCK_REALTIME just before SO_ATTACH_BPF; earlier packets bypassed the filter
  std::atomic<uint64_t> pre_attach_{0};
  std::shared_ptr<RingStorage> storage_;
  Ring* ring_ = nullptr;
  std::thread thread_;
  int wake_[2] = {-1, -1};
  int link_type_ = 0;
  int timeout_ms_ = 50;
  bool nano_ = true;
  std::atomic<bool> stop_{false};
  std::atomic<int> state_{0};
  std::atomic<uint64_t> kernel_received_{0}, kernel_drops_{0}, if_drops_{0}, pps_{0};
  std::mutex err_mu_;
  std::string error_;
};

// Names of capturable interfaces, comma-separated (for "no such interface" messages).
std::string ListInterfaces();

}  // namespace slowshake

#endif  // SLOWSHAKE_CAPTURE_H_
