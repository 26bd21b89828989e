/**
 * Ring reader: iterates records in a time window and looks up one flow, never returning a torn or
 * overwritten record.
 *
 * 1. Read [head, tail] from the writer (positions()).
 * 2. Find where the window starts with the coarse time index (100 ms buckets), else from tail.
 * 3. Scan record headers only (8-byte aligned, so a Uint32Array view reads them), comparing the
 *    symmetric flow hash; copy matching records out.
 * 4. Read tail again: anything copied from a position now below tail may have been overwritten
 *    while it was copied and is dropped (counted as `torn`).
 * 5. Verify each kept packet's 5-tuple by decoding it (hash collisions), and report how far back
 *    the ring reaches when the window starts before its oldest record.
 */
import { decodePacket } from '../decode/dispatch.js';
import { DecodedPacket } from '../decode/packet.js';
import { Status } from '../decode/reader.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import { BUCKET_NS, FLAG_CHAIN_UNCERTAIN, FLOW_BUCKETS, FLOW_WAYS, FLAG_PADDING, H_CAPLEN, H_FLAGS, H_HASH, H_LEN, H_LINK, H_NSEC, H_ORIGLEN, H_SEC, INDEX_SLOTS, RECORD_HEADER } from './layout.js';
import { flowHash } from './flow-hash.js';

export interface RingSource {
  readonly ring: ArrayBuffer;
  readonly index: ArrayBuffer;
  /** The writer's flow table (flow chains); without it lookups scan the time window. */
  readonly flows?: ArrayBuffer;
  /** Writes [head, tail, newest timestamp ns] into `out` (positions are absolute byte counts). */
  positions(out: Float64Array): void;
}

/** A packet copied out of the ring; the shape the pcap writer takes. */
export interface RingPacket {
  pos: number;
  tsSec: number;
  tsNsec: number;
  /** ns since the epoch as a double (sub-µs precision is lost above 2^53; use tsSec/tsNsec for exact). */
  tsNs: number;
  caplen: number;
  origLen: number;
  linkType: number;
  hash: number;
  data: Uint8Array;
}

export interface FlowKey {
  a: Uint8Array;
  aPort: number;
  b: Uint8Array;
  bPort: number;
}

export interface Reach {
  /** Oldest and newest record timestamps in ns (0 when empty). */
  oldestNs: number;
  newestNs: number;
  /** newest − oldest, seconds. */
  seconds: number;
}

export interface FlowLookup {
  packets: RingPacket[];
  /** Records scanned (headers read). */
  scanned: number;
  /** Copies dropped because the writer overwrote them while they were read. */
  torn: number;
  /** Hash matches whose 5-tuple differed. */
  collisions: number;
  /** Set when the window starts before the oldest record the ring still holds. */
  tooOld: { reachSeconds: number; askedSeconds: number; shortBySeconds: number } | null;
}

export class RingReader {
  readonly #src: RingSource;
  readonly #u8: Uint8Array;
  readonly #u32: Uint32Array;
  readonly #u16: Uint16Array;
  readonly #index: BigUint64Array;
  readonly #flows: Uint32Array | null;
  readonly #size: number;
  readonly #pos = new Float64Array(3);
  readonly #pkt = new DecodedPacket();
  readonly #an = new AnomalyCounters();

  constructor(src: RingSource) {
    this.#src = src;
    this.#u8 = new Uint8Array(src.ring);
    this.#u32 = new Uint32Array(src.ring);
    this.#u16 = new Uint16Array(src.ring);
    this.#index = new BigUint64Array(src.index);
    this.#flows = src.flows ? new Uint32Array(src.flows) : null;
    this.#size = src.ring.byteLength;
  }

  #positions(): [number, number] {
    this.#src.positions(this.#pos);
    return [this.#pos[0]!, this.#pos[1]!];
  }

  /** Offset of the record at abs position p, after the implicit end-of-ring skip. -1 on a padding record. */
  #normalise(p: number): number {
    const off = p % this.#size;
    return this.#size - off < RECORD_HEADER ? p + (this.#size - off) : p;
  }

  #tsNs(off: number): number {
    return this.#u32[(off + H_SEC) >>> 2]! * 1e9 + this.#u32[(off + H_NSEC) >>> 2]!;
  }

  /** How far back the ring reaches now. */
  reach(): Reach {
    for (let attempt = 0; attempt < 8; attempt++) {
      const [head, tail] = this.#positions();
      const newest = this.#pos[2]!;
      if (head === tail) return { oldestNs: 0, newestNs: 0, seconds: 0 };
      const oldest = this.#oldestNs(tail, head);
      const [, tail2] = this.#positions();
      if (tail2 !== tail) continue; // the oldest record was overwritten while read: try again
      return { oldestNs: oldest, newestNs: newest, seconds: Math.max(0, (newest - oldest) / 1e9) };
    }
    return { oldestNs: 0, newestNs: 0, seconds: 0 };
  }

  /** First position whose bucket is at or after `fromNs`'s bucket, via the time index; else tail. */
  #startPos(fromNs: number, tail: number, head: number): number {
    const first = Math.floor(fromNs / BUCKET_NS) + 1;
    // Look forward bucket by bucket (bounded) for an index entry still inside the ring.
    const idx = this.#index;
    for (let b = first, n = 0; n < 600; b++, n++) {
      const slot = (b % INDEX_SLOTS) * 2;
      const bucket = Number(idx[slot]!);
      if (bucket === b) {
        const pos = Number(idx[slot + 1]!);
        if (pos >= tail && pos <= head) return pos;
        if (pos < tail) return tail;
      } else if (bucket > b) {
        // a slot reused by a newer bucket: nothing this old is indexed any more
      }
    }
    return tail;
  }

  /**
   * Scans records from abs position `start` up to `end` (or the first record newer than `toNs`, or
   * `max` records), copying those with timestamp >= fromNs and flow hash `hash` (0 = any) into
   * `out`. Every 64 records, and at any implausible header, `tail` is read again: if the writer
   * has overwritten anything at or after where this batch began, the whole batch is discarded
   * (counted as torn; it may have followed a header read from overwritten memory) and the scan
   * resumes from the new tail, whose record chain is always valid. Returns the next position.
   */
  #scan(start: number, end: number, fromNs: number, toNs: number, hash: number, max: number, out: RingPacket[], st: ScanStats,
    accept: ((pkt: DecodedPacket) => boolean) | null = null): number {
    const size = this.#size, u32 = this.#u32, u16 = this.#u16;
    // Per-record work is a few integer loads and compares (measured 130 ns/record with a float
    // modulo and a method call per record; the offset now advances incrementally). Times are
    // compared as (seconds, nanoseconds) pairs of small integers.
    const toSec = toNs === Infinity ? Infinity : Math.floor(toNs / 1e9);
    const toRem = toNs === Infinity ? 0 : toNs - toSec * 1e9;
    const fromSec = Math.floor(fromNs / 1e9);
    const fromRem = fromNs - fromSec * 1e9;
    let p = start;
    let off = p % size;
    let batchStart = p;
    let committed = out.length;
    let n = 0;
    let stopped = false;
    for (;;) {
      while (p < end && n < max) {
        if (size - off < RECORD_HEADER) { p += size - off; off = 0; if (p >= end) break; }
        const w = off >>> 2;
        const len = u32[w]!;
        const bad = len < RECORD_HEADER || len > size || (len & 7) !== 0 || p + len > end;
        if (bad || (++n & 255) === 0) {
          const tail = this.#tail();
          if (batchStart < tail || p < tail) {
            st.torn += out.length - committed;
            out.length = committed;
            p = batchStart = tail;
            off = p % size;
            continue;
          }
          if (bad) { st.corrupt++; stopped = true; break; } // cannot happen with an intact writer
          batchStart = p;
          committed = out.length;
        }
        if (!(u16[(off + H_FLAGS) >>> 1]! & FLAG_PADDING)) {
          st.scanned++;
          const sec = u32[w + 4]!;
          if (sec > toSec || (sec === toSec && u32[w + 5]! > toRem)) { stopped = true; break; }
          if ((hash === 0 || u32[w + 3] === hash) && (sec > fromSec || (sec === fromSec && u32[w + 5]! >= fromRem)) &&
              (accept === null || this.#decodeInPlace(off, Math.min(u32[w + 1]!, len - RECORD_HEADER), u16[(off + H_LINK) >>> 1]!, accept))) {
            const nsec = u32[w + 5]!;
            const caplen = u32[w + 1]!;
            out.push({
              pos: p, tsSec: sec, tsNsec: nsec, tsNs: sec * 1e9 + nsec, caplen, origLen: u32[w + 2]!,
              linkType: u16[(off + H_LINK) >>> 1]!, hash: u32[w + 3]!,
              data: this.#u8.slice(off + RECORD_HEADER, off + RECORD_HEADER + Math.min(caplen, len - RECORD_HEADER)),
            });
          }
        }
        p += len;
        off += len;
        if (off >= size) off -= size;
      }
      const tail = this.#tail();
      if (batchStart >= tail) break;
      st.torn += out.length - committed;
      out.length = committed;
      p = batchStart = tail;
      off = p % size;
      if (stopped && p >= end) break;
      stopped = false;
      n = 0;
    }
    return p;
  }

  /** Decodes a record where it lies in the ring (no copy) and asks `accept` about it. */
  #decodeInPlace(off: number, caplen: number, linkType: number, accept: (pkt: DecodedPacket) => boolean): boolean {
    const pkt = this.#pkt;
    pkt.buf = this.#u8;
    pkt.off = off + RECORD_HEADER;
    pkt.caplen = caplen;
    pkt.linkType = linkType;
    return decodePacket(pkt, this.#an) === Status.OK && accept(pkt);
  }

  /**
   * Records in [fromNs, toNs] that `accept` keeps, decoded in place: only matches are copied, so
   * a search by one endpoint (no flow hash possible) costs no allocation per scanned record.
   * `accept` sees the packet decoded with `buf` = the ring memory; it must not keep it.
   */
  windowMatching(fromNs: number, toNs: number, accept: (pkt: DecodedPacket) => boolean): { packets: RingPacket[]; torn: number; scanned: number } {
    const [head, tail] = this.#positions();
    const packets: RingPacket[] = [];
    const st: ScanStats = { scanned: 0, torn: 0, corrupt: 0 };
    this.#scan(this.#startPos(fromNs, tail, head), head, fromNs, toNs, 0, Infinity, packets, st, accept);
    return { packets, torn: st.torn, scanned: st.scanned };
  }

  #tail(): number {
    this.#src.positions(this.#pos);
    return this.#pos[1]!;
  }

  /** Whether a window starting at `fromNs` reaches before the oldest record still held. */
  tooOld(fromNs: number, toNs: number): FlowLookup['tooOld'] {
    return this.#tooOld(fromNs, toNs, this.#positions()[0]);
  }

  /** Window-start diagnosis: only a ring that has lost data (tail moved) can be "too old". */
  #tooOld(fromNs: number, toNs: number, head: number): FlowLookup['tooOld'] {
    const tail = this.#tail();
    if (tail === 0) return null;
    const oldest = this.#oldestNs(tail, head);
    if (oldest <= 0 || fromNs >= oldest) return null;
    return { reachSeconds: Math.max(0, (toNs - oldest) / 1e9), askedSeconds: (toNs - fromNs) / 1e9, shortBySeconds: (oldest - fromNs) / 1e9 };
  }

  /**
   * All packets of one TCP flow (either direction) with timestamps in [fromNs, toNs], verified
   * against the 5-tuple.
   */
  lookupFlow(key: FlowKey, fromNs: number, toNs: number): FlowLookup {
    const want = flowHash(key.a, key.aPort, key.b, key.bPort);
    const out: FlowLookup = { packets: [], scanned: 0, torn: 0, collisions: 0, tooOld: null };
    const [head, tail] = this.#positions();
    let copied: RingPacket[] = [];
    const st: ScanStats = { scanned: 0, torn: 0, corrupt: 0 };
    const chain = this.#flows !== null ? this.#chain(want, fromNs, toNs, head, tail, copied, st) : -1;
    if (chain === CHAIN_MISS || chain === -1) {
      copied.length = 0;
      this.#scan(this.#startPos(fromNs, tail, head), head, fromNs, toNs, want, Infinity, copied, st);
    } else if (chain !== CHAIN_COMPLETE) {
      // The chain starts at `chain` ns but may have been cut: scan for older records before it.
      // The scan ends at the chain's first record by position: `chain - 1` ns is the same double
      // as `chain` at today's epoch (ulp 256 ns), and the chain's first record came back twice.
      // Joined in a loop: `unshift(...older)` passes every packet as an argument and threw a
      // RangeError for a flow of more than ~120k packets (issue 8).
      const older: RingPacket[] = [];
      this.#scan(this.#startPos(fromNs, tail, head), head, fromNs, chain, want, Infinity, older, st);
      const firstPos = copied.length > 0 ? copied[0]!.pos : Infinity;
      let n = 0;
      while (n < older.length && older[n]!.pos < firstPos) n++;
      older.length = n;
      for (let i = 0; i < copied.length; i++) older.push(copied[i]!);
      copied = older;
    }
    out.scanned = st.scanned;
    out.torn = st.torn;
    for (const c of copied) {
      if (!this.#matches(c, key)) { out.collisions++; continue; }
      out.packets.push(c);
    }
    out.tooOld = this.#tooOld(fromNs, toNs, head);
    return out;
  }

  /**
   * Walks the flow chain of `want` from its newest record back to `fromNs`, copying records in
   * [fromNs, toNs] into `out` (oldest first). Returns CHAIN_COMPLETE, CHAIN_MISS (no usable
   * chain: scan instead) or the timestamp (ns) of an uncertain chain start. Every hop goes
   * strictly back; copies overwritten meanwhile are dropped after a final tail check.
   */
  #chain(want: number, fromNs: number, toNs: number, head: number, tail: number, out: RingPacket[], st: ScanStats): number {
    const f = this.#flows!, u32 = this.#u32, u16 = this.#u16, size = this.#size;
    const b = (want & (FLOW_BUCKETS - 1)) * FLOW_WAYS * 4;
    let pos1 = 0;
    for (let i = 0; i < FLOW_WAYS; i++) {
      const o = b + i * 4;
      if (f[o] === want) { pos1 = f[o + 2]! + f[o + 3]! * 4294967296; break; }
    }
    if (pos1 === 0) {
      // Not in the table. If this bucket never evicted an entry whose data is still in the ring,
      // no chain of this flow can exist: it is not in the ring, and no window scan is needed.
      const ev = f[b + 1]! * 4294967296 + f[b + 4 + 1]!;
      return ev === 0 || ev < tail ? CHAIN_COMPLETE : CHAIN_MISS;
    }
    let pos = pos1 - 1;
    const found: RingPacket[] = [];
    let result = CHAIN_COMPLETE;
    for (let hops = 0; ; hops++) {
      if (pos < tail) break; // older records are gone: what the ring holds is complete
      const off = pos % size;
      const w = off >>> 2;
      const len = u32[w]!;
      if (len < RECORD_HEADER || len > size || (len & 7) !== 0 || u32[w + 3] !== want || hops > 1_000_000) { result = CHAIN_MISS; break; }
      const delta = u32[w + 6]!;
      if (pos + len <= head) { // published (a record past head is skipped, its link still valid)
        st.scanned++;
        const sec = u32[w + 4]!, nsec = u32[w + 5]!;
        const ts = sec * 1e9 + nsec;
        if (ts < fromNs) break;
        if (ts <= toNs) {
          const caplen = u32[w + 1]!;
          found.push({
            pos, tsSec: sec, tsNsec: nsec, tsNs: ts, caplen, origLen: u32[w + 2]!, linkType: u16[(off + H_LINK) >>> 1]!, hash: want,
            data: this.#u8.slice(off + RECORD_HEADER, off + RECORD_HEADER + Math.min(caplen, len - RECORD_HEADER)),
          });
        }
        if (delta === 0) {
          if (u16[(off + H_FLAGS) >>> 1]! & FLAG_CHAIN_UNCERTAIN) result = ts;
          break;
        }
      } else if (delta === 0) { result = CHAIN_MISS; break; }
      pos -= delta;
    }
    const tail2 = this.#tail();
    for (let i = found.length - 1; i >= 0; i--) {
      const c = found[i]!;
      if (c.pos < tail2) { st.torn++; continue; }
      out.push(c);
    }
    return result;
  }

  #oldestNs(tail: number, head: number): number {
    if (tail >= head) return 0;
    let p = this.#normalise(tail);
    let off = p % this.#size;
    if (this.#u16[(off + H_FLAGS) >>> 1]! & FLAG_PADDING) { p = this.#normalise(p + this.#u32[off >>> 2]!); off = p % this.#size; }
    return p < head ? this.#tsNs(off) : 0;
  }

  #matches(c: RingPacket, k: FlowKey): boolean {
    const pkt = this.#pkt;
    pkt.buf = c.data;
    pkt.off = 0;
    pkt.caplen = c.data.length;
    pkt.linkType = c.linkType;
    if (decodePacket(pkt, this.#an) !== Status.OK) return false;
    const alen = pkt.ipVersion === 6 ? 16 : 4;
    if (k.a.length !== alen || k.b.length !== alen) return false;
    const fwd = pkt.srcPort === k.aPort && pkt.dstPort === k.bPort && eq(c.data, pkt.srcAddrOff, k.a) && eq(c.data, pkt.dstAddrOff, k.b);
    const rev = pkt.srcPort === k.bPort && pkt.dstPort === k.aPort && eq(c.data, pkt.srcAddrOff, k.b) && eq(c.data, pkt.dstAddrOff, k.a);
    return fwd || rev;
  }

  /**
   * Intact records with timestamps in [fromNs, toNs], oldest first, found through the time index.
   * `tooOld` is set when the window starts before the oldest record still held.
   */
  window(fromNs: number, toNs: number): { packets: RingPacket[]; torn: number; tooOld: FlowLookup['tooOld'] } {
    const [head, tail] = this.#positions();
    const packets: RingPacket[] = [];
    const st: ScanStats = { scanned: 0, torn: 0, corrupt: 0 };
    this.#scan(this.#startPos(fromNs, tail, head), head, fromNs, toNs, 0, Infinity, packets, st);
    return { packets, torn: st.torn, tooOld: this.#tooOld(fromNs, toNs, head) };
  }

  /**
   * Calls `fn` for every intact record from the oldest to the head seen at the start (whole-ring
   * dumps), 4096 records at a time so memory stays bounded; records overwritten while being
   * copied are dropped and counted.
   */
  forEach(fn: (p: RingPacket) => void): { records: number; torn: number } {
    const [end, tail0] = this.#positions(); // a snapshot ends at the head seen now
    let p = tail0;
    let records = 0;
    const st: ScanStats = { scanned: 0, torn: 0, corrupt: 0 };
    const chunk: RingPacket[] = [];
    while (p < end && st.corrupt === 0) {
      chunk.length = 0;
      const next = this.#scan(p, end, 0, Infinity, 0, 4096, chunk, st);
      for (const c of chunk) { records++; fn(c); }
      if (next <= p && chunk.length === 0) break;
      p = next;
    }
    return { records, torn: st.torn };
  }
}

const CHAIN_COMPLETE = -2;
const CHAIN_MISS = -3;

interface ScanStats {
  scanned: number;
  torn: number;
  corrupt: number;
}

function eq(buf: Uint8Array, off: number, addr: Uint8Array): boolean {
  for (let i = 0; i < addr.length; i++) if (buf[off + i] !== addr[i]) return false;
  return true;
}
