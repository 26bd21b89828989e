/**
 * A TypeScript twin of native/src/ring.h's writer (same layout, same wrap and tail rules) over an
 * ordinary ArrayBuffer, so RingReader and the correlator can be tested without root or libpcap.
 */
import type { RingSource } from '../../src/ring/reader.js';
import { BUCKET_NS, INDEX_SLOTS, RECORD_HEADER, FLAG_PADDING } from '../../src/ring/layout.js';
import { flowHashOfPacket } from '../../src/ring/flow-hash.js';

export class MemoryRing implements RingSource {
  readonly ring: ArrayBuffer;
  readonly index: ArrayBuffer;
  head = 0;
  tail = 0;
  newestNs = 0;
  overwrites = 0;
  #dv: DataView;
  #idx: BigUint64Array;
  #lastBucket = 0;
  #n = 0;

  constructor(readonly size: number) {
    this.ring = new ArrayBuffer(size);
    this.index = new ArrayBuffer(INDEX_SLOTS * 16);
    this.#dv = new DataView(this.ring);
    this.#idx = new BigUint64Array(this.index);
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
    dv.setUint32(off + 12, this.#hash(data, linkType), true);
    dv.setUint32(off + 16, tsSec, true);
    dv.setUint32(off + 20, tsNsec, true);
    dv.setUint32(off + 24, this.#n++ >>> 0, true);
    dv.setUint16(off + 28, linkType, true);
    dv.setUint16(off + 30, 0, true);
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
