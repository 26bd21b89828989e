// Per-packet cost of the capture thread's own work (FlowHash, prefetch, Ring::Write, flush per
// batch) without libpcap and the kernel, which tcpdump pays as well: packets shaped like
// scripts/bench-capture's replay (Ethernet/IPv4/TCP, 64-600 byte frames, 2,000 flows in flight,
// 8-40 packets each) are laid out in a 64 MiB source area and written into a fresh ring
// ("fill": first touch, unless the ring was faulted in), then for as long again into the
// wrapped ring ("steady"). Prints ns per packet (CPU time of the thread, CLOCK_THREAD_CPUTIME_ID).
//
// build: g++ -O2 -std=c++17 -Inative/src scripts/bench/bench-ring-write.cc native/src/flow_hash.cc -o /tmp/bench-ring-write
// usage: /tmp/bench-ring-write [ring MiB (1024)] [fault-in 0|1 (1)] [batch packets (64)] [huge pages on the ring 0|1 (0)]
//                              [flows in flight (2000, as bench-capture's replay)]
#include <sys/mman.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "flow_hash.h"
#include "ring.h"

using namespace slowshake;

static double CpuNs() {
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return ts.tv_sec * 1e9 + ts.tv_nsec;
}

struct Pkt { uint32_t off, len; };

int main(int argc, char** argv) {
  const uint64_t ring_bytes = (argc > 1 ? strtoull(argv[1], nullptr, 10) : 1024) << 20;
  const bool fault_in = argc > 2 ? atoi(argv[2]) != 0 : true;
  const int batch = argc > 3 ? atoi(argv[3]) : 64;
  const bool huge = argc > 4 ? atoi(argv[4]) != 0 : false;
  // Source packets.
  const uint64_t src_bytes = 64ull << 20;
  std::vector<uint8_t> src(src_bytes);
  std::vector<Pkt> pkts;
  uint32_t seed = 1;
  auto rnd = [&]() { seed = seed * 1664525u + 1013904223u; return seed >> 8; };
  struct Flow { uint32_t c, s; uint16_t cp; int left; };
  int started = 0;
  auto fresh = [&]() { int i = started++; return Flow{0x0a000001u + i, 0xcb007101u + (i % 50), static_cast<uint16_t>(1024 + (i * 7919) % 64000), 8 + static_cast<int>(rnd() % 33)}; };
  std::vector<Flow> pool(argc > 5 ? static_cast<size_t>(atoi(argv[5])) : 2000);
  for (auto& f : pool) f = fresh();
  uint64_t o = 0;
  while (true) {
    Flow& f = pool[rnd() % pool.size()];
    const uint32_t len = (rnd() % 3 == 0) ? 64 : 70 + rnd() % 531;
    if (o + len > src_bytes) break;
    uint8_t* p = &src[o];
    std::memset(p, 0, len);
    p[12] = 0x08; p[13] = 0x00;
    p[14] = 0x45; p[16] = static_cast<uint8_t>((len - 14) >> 8); p[17] = static_cast<uint8_t>(len - 14); p[22] = 64; p[23] = 6;
    const bool fwd = rnd() & 1;
    const uint32_t a = fwd ? f.c : f.s, b = fwd ? f.s : f.c;
    const uint16_t ap = fwd ? f.cp : 443, bp = fwd ? 443 : f.cp;
    for (int i = 0; i < 4; i++) { p[26 + i] = a >> (24 - 8 * i); p[30 + i] = b >> (24 - 8 * i); }
    p[34] = ap >> 8; p[35] = ap; p[36] = bp >> 8; p[37] = bp; p[46] = 0x50;
    pkts.push_back({static_cast<uint32_t>(o), len});
    o += (len + 15) & ~15u;
    if (--f.left == 0) f = fresh();
  }
  void* m = mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  void* ix = mmap(nullptr, sizeof(IndexEntry) * kIndexSlots, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  const uint64_t fl_bytes = sizeof(FlowSlot) * kFlowBuckets * kFlowWays;
  void* fl = mmap(nullptr, fl_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  madvise(fl, fl_bytes, MADV_HUGEPAGE);
  if (huge) madvise(m, ring_bytes, MADV_HUGEPAGE);
  if (fault_in) {
    double t0 = CpuNs();
    timespec w0, w1;
    clock_gettime(CLOCK_MONOTONIC, &w0);
    madvise(m, ring_bytes, 23 /* MADV_POPULATE_WRITE */);
    madvise(fl, fl_bytes, 23);
    madvise(ix, sizeof(IndexEntry) * kIndexSlots, 23);
    clock_gettime(CLOCK_MONOTONIC, &w1);
    printf("fault-in: %.0f ms wall, %.0f ms CPU for %llu MiB\n", (w1.tv_sec - w0.tv_sec) * 1e3 + (w1.tv_nsec - w0.tv_nsec) / 1e6,
           (CpuNs() - t0) / 1e6, static_cast<unsigned long long>(ring_bytes >> 20));
  }
  Ring ring(static_cast<uint8_t*>(m), ring_bytes, static_cast<IndexEntry*>(ix), static_cast<FlowSlot*>(fl));
  uint64_t ts = 1700000000ull * 1000000000ull, n = 0, i = 0;
  auto run = [&](bool until_wrap, uint64_t count) {
    const double t0 = CpuNs();
    uint64_t done = 0;
    while (until_wrap ? ring.counters().overwrites.load(std::memory_order_relaxed) == 0 : done < count) {
      for (int b = 0; b < batch; b++) {
        const Pkt& p = pkts[i++ % pkts.size()];
        const uint8_t* d = &src[p.off];
        const uint32_t h = FlowHash(d, p.len, 1);
        if (h != 0) ring.Prefetch(h);
        ts += 2000;
        ring.Write(d, p.len, p.len, h, static_cast<uint32_t>(ts / 1000000000ull), static_cast<uint32_t>(ts % 1000000000ull), 1);
      }
#ifndef NO_FLUSH  // (a ring.h before the deferred link had no Flush)
      ring.Flush();
#endif
      done += batch;
    }
    n += done;
    return std::make_pair(done, (CpuNs() - t0) / done);
  };
  auto f = run(true, 0);
  printf("fill:   %llu packets, %.1f ns/packet\n", static_cast<unsigned long long>(f.first), f.second);
  for (int r = 0; r < 3; r++) {
    auto s = run(false, f.first);
    printf("steady: %llu packets, %.1f ns/packet\n", static_cast<unsigned long long>(s.first), s.second);
  }
  return 0;
}
