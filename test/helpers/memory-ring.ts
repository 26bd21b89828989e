/**
 * A TypeScript twin of native/src/ring.h's writer (same layout, same wrap and tail rules) over an
 * ordinary ArrayBuffer, so RingReader and the correlator can be tested without root or libpcap.
 * With `{ flowChains: true }` it also keeps the writer's flow table and per-record links
 * (Ring::Link / MarkStart: 2^18 buckets x 4 ways, oldest way evicted, eviction position kept in
 * ways 0 and 1), so RingReader's chain walk is exercised too; without it lookups scan.
 */
import type { RingSource } from '../../src/ring/reader.js';
import { BUCKET_NS, FLAG_CHAIN_UNCERTAIN, FLOW_BUCKETS, FLOW_WAYS, INDEX_SLOTS, RECORD_HEADER, FLAG_PADDING } from '../../src/ring/layout.js';
import { flowHashOfPacket } from '../../src/ring/flow-hash.js';

export class MemoryRing implements RingSource {
  readonly ring: ArrayBuffer;
  readonly index: ArrayBuffer;
  readonly flows?: ArrayBuffer;
  head = 0;
  tail = 0;
  newestNs = 0;
  overwrites = 0;
  #dv: DataView;
  #idx: BigUint64Array;
  #lastBucket = 0;
  #n = 0;
  /** Flow table as the reader sees it: per way { hash, evict word, pos+1 lo, pos+1 hi } (u32). */
  #f: Uint32Array | null = null;

  constructor(readonly size: number, opts: { flowChains?: boolean } = {}) {
    this.ring = new ArrayBuffer(size);
    this.index = new ArrayBuffer(INDEX_SLOTS * 16);
    this.#dv = new DataView(this.ring);
    this.#idx = new BigUint64Array(this.index);
    if (opts.flowChains) {
      this.flows = new ArrayBuffer(FLOW_BUCKETS * FLOW_WAYS * 16);
      this.#f = new Uint32Array(this.flows);
    }
  }

  /** Ring::Link + MarkStart: the way of `hash` (made by evicting the oldest), the link back, the flags. */
  #link(hash: number, pos: number): { way: number; delta: number; flags: number } {
    const f = this.#f!;
    const b = (hash & (FLOW_BUCKETS - 1)) * FLOW_WAYS;
    const p1 = (w: number): number => f[w * 4 + 2]! + f[w * 4 + 3]! * 4294967296;
    const start = (): number => {
      const ev = f[b * 4 + 1]! * 4294967296 + f[(b + 1) * 4 + 1]!;
      return ev !== 0 && ev >= this.tail ? FLAG_CHAIN_UNCERTAIN : 0;
    };
    let victim = 0;
    let oldest = Infinity;
    for (let i = 0; i < FLOW_WAYS; i++) {
      const w = b + i;
      if (p1(w) !== 0 && f[w * 4] === hash) {
        const prev = p1(w) - 1;
        const delta = prev >= this.tail && pos - prev < 4294967296 ? pos - prev : 0;
        return { way: w, delta, flags: delta === 0 ? start() : 0 };
      }
      if (p1(w) < oldest) { oldest = p1(w); victim = i; }
    }
    if (oldest !== 0) { // evicting a live entry: remember where
      f[b * 4 + 1] = Math.floor(pos / 4294967296);
      f[(b + 1) * 4 + 1] = pos >>> 0;
    }
    f[(b + victim) * 4] = hash;
    return { way: b + victim, delta: 0, flags: start() };
  }

  positions(out: Float64Array): void {
    out[0] = this.head;
    out[1] = this.tail;
    if (out.length > 2) out[2] = this.newestNs;
  }

  #lenAt(pos: number): number {
    const off = pos % this.size;
    if (this.size - off < RECORD_HEADER) return this.size - off;
    if (!(this.#dv.getUint16(off + 30, true) & FLAG_PADDING)) this.overwrites++;
    return this.#dv.getUint32(off, true);
  }

  /** Same hash as the native writer (native/src/flow_hash.cc's TypeScript twin). */
  #hash(data: Uint8Array, linkType: number): number {
    return flowHashOfPacket(data, 0, data.length, linkType);
  }

  write(data: Uint8Array, origLen: number, tsSec: number, tsNsec: number, linkType: number): void {
    const need = (RECORD_HEADER + data.length + 7) & ~7;
    let off = this.head % this.size;
    const pad = this.size - off < need ? this.size - off : 0;
    while (this.head + pad + need - this.tail > this.size) this.tail += this.#lenAt(this.tail);
    if (pad >= RECORD_HEADER) {
      this.#dv.setUint32(off, pad, true);
      for (let i = 4; i < 28; i++) this.#dv.setUint8(off + i, 0);
      this.#dv.setUint16(off + 28, 0, true);
      this.#dv.setUint16(off + 30, FLAG_PADDING, true);
    }
    this.head += pad;
    off = this.head % this.size;
    const dv = this.#dv;
    dv.setUint32(off, need, true);
    dv.setUint32(off + 4, data.length, true);
    dv.setUint32(off + 8, origLen, true);
    const hash = this.#hash(data, linkType);
    dv.setUint32(off + 12, hash, true);
    dv.setUint32(off + 16, tsSec, true);
    dv.setUint32(off + 20, tsNsec, true);
    const link = this.#f !== null && hash !== 0 ? this.#link(hash, this.head) : null;
    dv.setUint32(off + 24, link !== null ? link.delta : this.#n++ >>> 0, true);
    dv.setUint16(off + 28, linkType, true);
    dv.setUint16(off + 30, link !== null ? link.flags : 0, true);
    if (link !== null) {
      const pos1 = this.head + 1;
      this.#f![link.way * 4 + 2] = pos1 >>> 0;
      this.#f![link.way * 4 + 3] = Math.floor(pos1 / 4294967296);
    }
    new Uint8Array(this.ring, off + RECORD_HEADER, data.length).set(data);
    const tsNs = tsSec * 1e9 + tsNsec;
    const bucket = Math.floor(tsNs / BUCKET_NS) + 1;
    if (bucket !== this.#lastBucket) {
      const slot = (bucket % INDEX_SLOTS) * 2;
      this.#idx[slot + 1] = BigInt(this.head);
      this.#idx[slot] = BigInt(bucket);
      this.#lastBucket = bucket;
    }
    this.newestNs = tsNs;
    this.head += need;
  }
}
