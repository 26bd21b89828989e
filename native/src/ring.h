// Packet ring: one fixed block of memory holding records, oldest overwritten first.
//
// Ownership and threads: the capture thread is the only writer; any thread may read the memory
// (JavaScript reads it through an external ArrayBuffer) and must validate what it read against
// `tail` (see below). The ring outlives the capture thread: it is freed when JS drops the buffer.
//
//   abs positions (uint64, bytes ever written):    tail ............... head
//   ring offset = abs % size
//
//   +--------+--------------+--------+--------------+-----+--------+-----------+
//   | hdr 32 | packet bytes | hdr 32 | packet bytes | ... | hdr 32 | ...       |
//   +--------+--------------+--------+--------------+-----+--------+-----------+
//   ^ tail (oldest record still valid)                               ^ head (next write)
//
// Record header (little-endian, every record 8-byte aligned, length a multiple of 8):
//    0 u32 rec_len      header + data + padding
//    4 u32 caplen       bytes of packet data stored
//    8 u32 orig_len     length on the wire
//   12 u32 flow_hash    symmetric 5-tuple hash (0 when not TCP/UDP over IP)
//   16 u32 ts_sec       capture time, seconds since the epoch
//   20 u32 ts_nsec      nanoseconds
//   24 u32 prev_delta   bytes back to the previous record of the same flow (0: none)
//   28 u16 link_type    LINKTYPE_* of the packet
//   30 u16 flags        bit 0: padding record (skip to the ring start); bit 1: first record of
//                       its flow's chain, but an entry was evicted from its flow-table bucket
//                       while its data is still in the ring (the chain may be cut: scan further)
//
// Flow chains: a flow table of 2^18 buckets x 4 ways { hash u32, pad u32, pos+1 u64 } points at
// each flow's newest record, and every record's prev_delta links to the one before, so a lookup
// walks one flow's records instead of scanning a time window (a scan is memory-latency bound:
// ~65 ns per record over a 1 GiB ring).
// When fewer than 32 bytes remain before the end of the ring, writer and readers both skip to
// offset 0 without a padding record.
//
// Torn reads: before overwriting anything the writer moves `tail` past the records it is about
// to destroy (release fence), then writes, then publishes `head`. A reader that copied a record at
// abs position p and then sees tail <= p knows the copy is intact.
//
// Publication: a record is linked (prev_delta, flags) and published kLinkDelay packets after it
// was copied in (see Write), or when the capture thread flushes after each pcap_dispatch batch;
// the bytes between `head` and the writer's own position are records not yet published, which
// no reader reads (the writer publishes them before `tail` could pass them). Order of the stores that publish a record: its header, the flow-table way's pos1
// (release), `head` (release), then bytes/wire_bytes/newest_ns (relaxed) and `packets` (release).
// Readers (addon.cc positions/stats, read by src/ring/reader.ts): load head (acquire) before
// reading records through the ring's ArrayBuffer, and tail (acquire) after copying them. The
// counters have one writer, the capture thread: plain load + store, no read-modify-write.
#ifndef SLOWSHAKE_RING_H_
#define SLOWSHAKE_RING_H_

#include <atomic>   // std::atomic for head/tail/counters
#include <cstdint>  // fixed-width integers
#include <cstring>  // memcpy

namespace slowshake {

constexpr uint32_t kRecordHeader = 32;
constexpr uint16_t kFlagPadding = 1;
constexpr uint16_t kFlagChainUncertain = 2;
constexpr uint32_t kFlowBuckets = 1u << 18;
constexpr uint32_t kFlowWays = 4;
// Records are linked into their flow chain this many packets after they were copied in, so the
// flow-table bucket prefetched for each has time to arrive (see Ring::Write). Measured (capture
// thread CPU per packet against tcpdump's, scripts/bench-capture, 1 GiB ring): 1 packet 1.5-2.1x,
// 4 packets 1.2-1.5x, 8 packets 1.0-1.2x in steady state.
#ifndef SLOWSHAKE_LINK_DELAY
#define SLOWSHAKE_LINK_DELAY 8
#endif
constexpr uint32_t kLinkDelay = SLOWSHAKE_LINK_DELAY;

struct FlowSlot {
  std::atomic<uint32_t> hash;
  // Ways 0 and 1 carry the bucket's last eviction position (hi, lo words; 0 = never), published
  // so a reader whose flow is absent from the bucket knows whether the chain could have been cut.
  std::atomic<uint32_t> evict_word;
  std::atomic<uint64_t> pos1;     // abs position of the newest record + 1 (0 = empty)
};
static_assert(sizeof(FlowSlot) == 16, "src/ring/layout.ts reads flow slots as 4 x u32");
// Time index: one entry per 100 ms bucket, 2^16 entries (~109 minutes before slots are reused).
constexpr uint64_t kBucketNs = 100'000'000;
constexpr uint32_t kIndexSlots = 1u << 16;

struct IndexEntry {
  std::atomic<uint64_t> bucket;  // ts_ns / kBucketNs + 1 (0 = empty)
  std::atomic<uint64_t> pos;     // abs position of the first record of that bucket
};

// Counters live outside the ring memory; JS reads them through Stats() and positions(). Written
// by the capture thread only (see "Publication" above for the order).
struct RingCounters {
  std::atomic<uint64_t> head{0};
  std::atomic<uint64_t> tail{0};
  std::atomic<uint64_t> packets{0};       // records published
  std::atomic<uint64_t> bytes{0};         // packet bytes stored (caplen)
  std::atomic<uint64_t> wire_bytes{0};    // orig_len sum
  std::atomic<uint64_t> overwrites{0};    // records lost to wrap-around
  std::atomic<uint64_t> too_big{0};       // packets larger than the ring can hold
  std::atomic<int64_t> newest_ns{0};
};

class Ring {
 public:
  // `mem` must be 8-byte aligned and `size` a multiple of 8 (checked by the caller).
  Ring(uint8_t* mem, uint64_t size, IndexEntry* index, FlowSlot* flows)
      : mem_(mem), size_(size), index_(index), flows_(flows) {}

  uint8_t* memory() const { return mem_; }
  uint64_t size() const { return size_; }
  RingCounters& counters() { return c_; }

  // Capture thread only: start loading the flow-table bucket of `hash` while the caller does
  // other work (the bucket is a cache and TLB miss on almost every packet: it tripled the capture
  // thread's CPU before it was prefetched). Into L1 with a read hint (prefetcht0): measured with
  // scripts/bench-capture, the write hint with low locality (prefetcht2 here) hid almost none of
  // the miss, even with the record linked 4 packets later (Link stalled on the bucket load).
  // What remains (perf, cpu-clock samples of the capture thread): the prefetch instruction itself
  // stalls, about a third of the thread's time, as the random bucket is a TLB miss too (a nested
  // page walk in a VM). Measured since (scripts/bench/bench-ring-write.cc, steady state, 1 GiB
  // ring, ns per packet, 3 runs each): the table's size is not the cost. 2,000 flows in flight
  // (bench-capture's replay): 2^18 buckets 72.2-73.6, 2^16 72.6-75.7, 2^14 74.3-75.9, 2^12
  // 74.6-76.0; 50,000 in flight: 2^18 88.9-92.4, 2^16 91.2-95.1 (one line per live flow either
  // way, so 8-byte ways, which also need one line per bucket, were not built). Linking switched off
  // altogether: 66.7-68.2, so the whole flow chain costs 5-7 ns of ~72 here; linking only some
  // packets could save at most that, and was not done (lookups would scan time windows).
  void Prefetch(uint32_t hash) const {
    __builtin_prefetch(flows_ + static_cast<uint64_t>(hash & (kFlowBuckets - 1)) * kFlowWays, 0, 3);
  }

  // Capture thread only. Copies one packet in, overwriting the oldest records as needed.
  // Ring offsets are kept next to the positions (write_off_, tail_off_, Pending::off): the three
  // or four `pos % size_` per packet were 64-bit divisions (bench-ring-write steady 71.5-75.2 ->
  // 69.7-73.4 ns/packet). Tried and dropped: non-temporal stores for the copy (no read of the
  // ring's cold lines; but the link rewrites the header line and head needs an sfence): 380-389
  // ns/packet; huge pages on the ring (faulted in at open): 71.3-71.8 against 72.5-74.4 here, but
  // fault-in 119-2563 ms instead of 235-269 per GiB, and scripts/bench-capture measured it worse
  // (steady 0.131-0.142 s/Mpkt against tcpdump's 0.090-0.105 in the same run). A software
  // prefetch of the records about to be overwritten (tail + 256, 1024 or 4096 bytes, read or write
  // hint; steady state costs ~8 ns/packet more than the first fill, 44.8 against 51-53, for that
  // header walk): 53-61 ns/packet against 51-53 without, every variant slower (2026-12-03).
  // The record is linked into its flow chain and published (head) kLinkDelay packets later, by a
  // later Write or by Flush: by then the flow-table bucket the caller prefetched for it has
  // arrived, so the bucket's miss overlaps several packets' work instead of one memcpy.
  void Write(const uint8_t* data, uint32_t caplen, uint32_t orig_len, uint32_t hash, uint32_t ts_sec,
             uint32_t ts_nsec, uint16_t link_type) {
    const uint64_t need = (kRecordHeader + caplen + 7) & ~uint64_t{7};
    if (need > size_ / 2) {
      Bump(c_.too_big, 1);
      return;
    }
    uint64_t head = write_pos_;
    const uint64_t off = write_off_;  // head % size_, kept alongside (no 64-bit division per packet)
    uint64_t pad = 0;
    if (size_ - off < need) pad = size_ - off;  // does not fit before the end: wrap
    uint64_t tail = tail_;
    uint64_t toff = tail_off_;
    uint64_t lost = 0;
    while (head + pad + need - tail > size_) {
      const uint64_t len = RecordLengthAt(toff, &lost);
      tail += len;
      toff += len;
      if (toff >= size_) toff -= size_;
    }
    if (tail != tail_) {
      // (A ring of a few snaplens: records still pending would be overwritten. Link and publish
      // them first, while they are intact, so head never falls behind tail.)
      while (npending_ > 0 && pending_[first_].pos < tail) Publish();
      if (lost) Bump(c_.overwrites, lost);
      tail_ = tail;
      tail_off_ = toff;
      c_.tail.store(tail, std::memory_order_relaxed);
      std::atomic_thread_fence(std::memory_order_release);  // tail move is visible before the overwrite
    }
    if (pad >= kRecordHeader) {
      uint8_t* p = mem_ + off;
      Put32(p, static_cast<uint32_t>(pad));
      std::memset(p + 4, 0, 24);
      Put16(p + 28, 0);
      Put16(p + 30, kFlagPadding);
    }
    head += pad;
    const uint64_t roff = pad != 0 ? 0 : off;  // a wrap always lands on offset 0
    uint8_t* p = mem_ + roff;
    Put32(p, static_cast<uint32_t>(need));
    Put32(p + 4, caplen);
    Put32(p + 8, orig_len);
    Put32(p + 12, hash);
    Put32(p + 16, ts_sec);
    Put32(p + 20, ts_nsec);
    std::memcpy(p + kRecordHeader, data, caplen);
    Put32(p + 24, 0);  // prev_delta and flags: set when the record is linked
    Put16(p + 28, link_type);
    Put16(p + 30, 0);
    const int64_t ts_ns = static_cast<int64_t>(ts_sec) * 1'000'000'000 + ts_nsec;
    const uint64_t bucket = static_cast<uint64_t>(ts_ns) / kBucketNs + 1;
    if (bucket != last_bucket_) {
      IndexEntry& e = index_[bucket % kIndexSlots];
      e.pos.store(head, std::memory_order_relaxed);
      e.bucket.store(bucket, std::memory_order_release);
      last_bucket_ = bucket;
    }
    write_pos_ = head + need;
    write_off_ = roff + need == size_ ? 0 : roff + need;
    // The oldest pending record: its bucket has been loading since the caller prefetched it,
    // kLinkDelay packets ago.
    if (npending_ == kLinkDelay) Publish();
    Pending& q = pending_[(first_ + npending_) % kLinkDelay];
    q.pos = head;
    q.off = roff;
    q.end = head + need;
    q.hash = hash;
    q.caplen = caplen;
    q.orig_len = orig_len;
    q.ts_ns = ts_ns;
    npending_++;
  }

  // Capture thread only: links and publishes the record Write left pending (after a batch of
  // packets, so none waits for the next one).
  void Flush() {
    while (npending_ > 0) Publish();
  }

 private:
  // Single writer: a plain load and store, no locked read-modify-write (each one a full barrier
  // that waited for the packet copy's stores to reach the cache).
  static void Bump(std::atomic<uint64_t>& c, uint64_t d) {
    c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
  }

  // Links the pending record into its flow chain, then publishes it: the flow-table way's
  // position (release, after the record's header is complete), head (release), then the
  // counters, `packets` last (release), so a reader that sees packets = N and then loads head
  // finds those N records published.
  void Publish() {
    const Pending q = pending_[first_];
    first_ = (first_ + 1) % kLinkDelay;
    npending_--;
    const uint64_t pos = q.pos;
    uint8_t* p = mem_ + q.off;
    if (q.hash != 0) {
      uint32_t prev_delta = 0;
      uint16_t flags = 0;
      Link(q.hash, pos, tail_, &prev_delta, &flags);
      Put32(p + 24, prev_delta);
      if (flags) Put16(p + 30, flags);
      flows_[link_slot_].pos1.store(pos + 1, std::memory_order_release);
    }
    c_.head.store(q.end, std::memory_order_release);
    Bump(c_.bytes, q.caplen);
    Bump(c_.wire_bytes, q.orig_len);
    c_.newest_ns.store(q.ts_ns, std::memory_order_relaxed);
    c_.packets.store(c_.packets.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }

  // Length to skip at ring offset `off` (a record, a padding record, or the implicit end skip).
  uint64_t RecordLengthAt(uint64_t off, uint64_t* lost) const {
    if (size_ - off < kRecordHeader) return size_ - off;
    const uint8_t* p = mem_ + off;
    const uint32_t len = Get32(p);
    const uint16_t flags = static_cast<uint16_t>(p[30] | (p[31] << 8));
    if (!(flags & kFlagPadding)) ++*lost;
    return len;
  }
  // Finds (or makes) the flow-table way for `hash`; sets the link to the flow's previous record.
  // The way's position is published after the record is written (see Write).
  void Link(uint32_t hash, uint64_t pos, uint64_t tail, uint32_t* prev_delta, uint16_t* flags) {
    FlowSlot* b = flows_ + static_cast<uint64_t>(hash & (kFlowBuckets - 1)) * kFlowWays;
    uint32_t victim = 0;
    uint64_t oldest = UINT64_MAX;
    for (uint32_t i = 0; i < kFlowWays; i++) {
      const uint64_t p1 = b[i].pos1.load(std::memory_order_relaxed);
      if (p1 != 0 && b[i].hash.load(std::memory_order_relaxed) == hash) {
        const uint64_t prev = p1 - 1;
        if (prev >= tail && pos - prev < (uint64_t{1} << 32)) *prev_delta = static_cast<uint32_t>(pos - prev);
        link_slot_ = static_cast<uint64_t>(b - flows_) + i;
        if (*prev_delta == 0) MarkStart(b, tail, flags);
        return;
      }
      if (p1 < oldest) { oldest = p1; victim = i; }  // an empty way (0) wins
    }
    if (oldest != 0) {  // evicting a live entry: remember where, so later chain starts are doubted
      b[0].evict_word.store(static_cast<uint32_t>(pos >> 32), std::memory_order_relaxed);
      b[1].evict_word.store(static_cast<uint32_t>(pos), std::memory_order_release);
    }
    b[victim].hash.store(hash, std::memory_order_relaxed);
    link_slot_ = static_cast<uint64_t>(b - flows_) + victim;
    MarkStart(b, tail, flags);
  }

  // A chain starts here. It is certain unless this bucket evicted an entry whose data may still
  // be in the ring (the eviction position is at or after the tail).
  void MarkStart(FlowSlot* b, uint64_t tail, uint16_t* flags) {
    const uint64_t ev = (static_cast<uint64_t>(b[0].evict_word.load(std::memory_order_relaxed)) << 32) |
                        b[1].evict_word.load(std::memory_order_relaxed);
    if (ev != 0 && ev >= tail) *flags |= kFlagChainUncertain;
  }

  static void Put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }  // little-endian hosts only
  static void Put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
  static uint32_t Get32(const uint8_t* p) { uint32_t v; std::memcpy(&v, p, 4); return v; }

  uint8_t* mem_;
  uint64_t size_;
  IndexEntry* index_;
  FlowSlot* flows_;
  uint64_t link_slot_ = 0;
  RingCounters c_;
  uint64_t last_bucket_ = 0;
  // The writer's own copies of head (next write, including the pending record) and tail.
  uint64_t write_pos_ = 0;
  uint64_t tail_ = 0;
  uint64_t write_off_ = 0;  // write_pos_ % size_
  uint64_t tail_off_ = 0;   // tail_ % size_
  // Records written but not yet linked and published (see Write), oldest at first_.
  struct Pending {
    uint64_t pos, end, off;  // off = pos % size_
    uint32_t hash, caplen, orig_len;
    int64_t ts_ns;
  };
  Pending pending_[kLinkDelay];
  uint32_t first_ = 0;
  uint32_t npending_ = 0;
};

}  // namespace slowshake

#endif  // SLOWSHAKE_RING_H_
