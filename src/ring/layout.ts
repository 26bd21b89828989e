/**
 * Ring layout shared with native/src/ring.h (the writer). See the diagram there.
 *
 *   record = [ header 32 | packet bytes | pad to 8 ]
 *   header: 0 rec_len u32 | 4 caplen u32 | 8 orig_len u32 | 12 flow_hash u32 |
 *           16 ts_sec u32 | 20 ts_nsec u32 | 24 seq u32 | 28 link_type u16 | 30 flags u16
 *   flags bit 0: padding record (skip to offset 0). Fewer than 32 bytes before the end: skip too.
 * Positions are absolute byte counts (head = next write, tail = oldest valid record);
 * offset = position % size. All little-endian, records 8-byte aligned.
 * Time index: 2^16 slots of { bucket u64 (ts_ns / 100 ms + 1), pos u64 }, slot = bucket % 2^16.
 * Flow chains: each record's prev_delta links to the flow's previous record; the flow table
 * points at each flow's newest record (native/src/ring.h explains the rules).
 */
export const RECORD_HEADER = 32;
export const H_LEN = 0;
export const H_CAPLEN = 4;
export const H_ORIGLEN = 8;
export const H_HASH = 12;
export const H_SEC = 16;
export const H_NSEC = 20;
/** Bytes back to the previous record of the same flow (0: none). */
export const H_PREV = 24;
export const H_LINK = 28;
export const H_FLAGS = 30;
export const FLAG_PADDING = 1;
/** First record of its flow chain, but older records of the flow may exist (bucket eviction). */
export const FLAG_CHAIN_UNCERTAIN = 2;
/** Flow table: 2^18 buckets x 4 ways of { hash u32, pad u32, pos+1 u64 (lo u32, hi u32) }. */
export const FLOW_BUCKETS = 1 << 18;
export const FLOW_WAYS = 4;
export const BUCKET_NS = 100_000_000;
export const INDEX_SLOTS = 1 << 16;
