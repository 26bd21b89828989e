/**
 * One direction of a TCP connection during the handshake (RFC 9293 §3.4 sequence space).
 *
 * Sequence numbers are kept relative to the first byte of the stream (ISN + 1 when the SYN was
 * seen, else the first data segment), so 32-bit wrap only matters in the subtraction.
 * Per data segment, `classify` decides:
 *   NEW        bytes beyond everything seen so far (a jump ahead opens a hole, revealed now);
 *   FILL       bytes inside a hole: lost before the capture point, or reordered;
 *   RETRANSMIT bytes already seen: lost after the capture point, or spurious.
 * FILL and RETRANSMIT add a repair interval (design.md loss rule) to the owner's list: from the
 * original transmission (or the segment that revealed the hole) to now. `deliver` then hands
 * in-order bytes to the TLS parser, holding a few out-of-order segments (copied, capped) until the
 * gap fills.
 */
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';
import { copyBytes } from '../decode/reader.js';

export const SEG_NEW = 1;
export const SEG_FILL = 2;
export const SEG_RETRANSMIT = 3;

export const MAX_HOLES = 16;
/** Segments remembered for finding an original transmission: a handshake has a few dozen. */
const MAX_SEGS = 256;
const MAX_OOO_SEGMENTS = 64;
const MAX_OOO_BYTES = 256 * 1024;
/** Bytes of one direction handed to the TLS parser at most: a handshake needs far fewer. */
export const HANDSHAKE_BYTE_BUDGET = 512 * 1024;

/** Initial size of a stream's segment ring: 8 segments of [relStart, relEnd, ts]. */
const SEGS_INITIAL = 8 * 3;
/**
 * Released streams' segment rings, reused by new streams (issue 13: allocating a Float64Array per
 * stream, two per handshake, was 4% of analyze time on the bulk benchmark, plus GC of their
 * off-heap buffers). A ring of any size serves (its length gives its capacity). Bounded: at most
 * POOL_MAX rings of at most POOL_RING_MAX entries (768 KiB in all) wait here.
 */
const segPool: Float64Array[] = [];
const POOL_MAX = 1024;
const POOL_RING_MAX = 32 * 3;
/** A released stream's ring: empty, so a stray use after release writes nowhere. */
const RELEASED = new Float64Array(0);

export interface InOrderSink {
  push(buf: Uint8Array, off: number, end: number, ts: number): void;
  stop(): void;
  readonly failed: boolean;
}

/** Signed distance a - b in 32-bit sequence space. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

export class TcpStream {
  /** Sequence number of relative offset 0, once known. */
  base = 0;
  baseKnown = false;
  /** ISN from the SYN (or SYN-ACK), -1 when not seen. */
  isn = -1;
  /** Highest relative end of data seen. */
  maxRel = 0;
  /** Relative offset up to which bytes were delivered in order. */
  nextRel = 0;
  retransmits = 0;
  /** Sequence holes not timed because MAX_HOLES were open at once (their repair is not in `loss`). */
  untimedHoles = 0;
  /** Payload bytes were missing from the capture (snaplen): content parsing stopped. */
  contentLost = false;
  // Grown on demand: most flows need a handful of entries, and a per-flow allocation of the
  // maximum (6 KB) cost 22% of analyze time in garbage collection on a 25k-handshake file.
  #holes: Float64Array | null = null; // [start, end, revealTs] …
  #holeCount = 0;
  #segs = segPool.pop() ?? new Float64Array(SEGS_INITIAL); // ring of [relStart, relEnd, ts], grows to MAX_SEGS
  #segCount = 0;
  #ooo: { rel: number; data: Uint8Array; ts: number }[] = [];
  #oooBytes = 0;
  #delivered = 0;

  constructor(readonly an: AnomalyCounters) {}

  /** Sets the stream origin from a SYN's sequence number. */
  setIsn(seq: number): void {
    this.isn = seq;
    this.base = (seq + 1) >>> 0;
    this.baseKnown = true;
  }

  /** Relative offset of `seq`; the first data segment fixes the origin when no SYN was seen. */
  rel(seq: number): number {
    if (!this.baseKnown) {
      this.base = seq;
      this.baseKnown = true;
    }
    return seqDiff(seq, this.base);
  }

  /** Relative position an ACK number from the peer acknowledges in this stream. */
  ackRel(ack: number): number {
    return this.baseKnown ? seqDiff(ack, this.base) : -1;
  }

  /**
   * Classifies a data segment [rel, rel+len) seen at `ts`; repair intervals go to `loss`
   * (pairs of µs timestamps). Returns SEG_NEW, SEG_FILL or SEG_RETRANSMIT.
   */
  classify(rel: number, len: number, ts: number, loss: number[]): number {
    const end = rel + len;
    if (rel >= this.maxRel) {
      if (rel > this.maxRel) this.#addHole(this.maxRel, rel, ts);
      this.maxRel = end;
      this.#remember(rel, end, ts);
      return SEG_NEW;
    }
    // Overlaps bytes below maxRel: a hole fill, a retransmission, or both.
    let filled = false;
    const holes = this.#holes;
    for (let i = 0; holes !== null && i < this.#holeCount; ) {
      const h = i * 3;
      const hs = holes[h]!, he = holes[h + 1]!;
      if (rel < he && end > hs) {
        filled = true;
        loss.push(holes[h + 2]!, ts);
        if (rel <= hs && end >= he) { this.#removeHole(i); continue; }
        if (rel <= hs) holes[h] = end;
        else if (end >= he) holes[h + 1] = rel;
        else { // segment splits the hole in two
          holes[h + 1] = rel;
          this.#addHole(end, he, holes[h + 2]!);
        }
      }
      i++;
    }
    if (end > this.maxRel) {
      this.maxRel = end;
      this.#remember(rel, end, ts);
    }
    this.retransmits++;
    if (filled) return SEG_FILL;
    const orig = this.#originalTs(rel);
    if (orig >= 0) loss.push(orig, ts);
    return SEG_RETRANSMIT;
  }

  /** Counts a retransmitted SYN or SYN-ACK (same ISN) with its repair interval. */
  synRetransmit(firstTs: number, ts: number, loss: number[]): void {
    this.retransmits++;
    loss.push(firstTs, ts);
  }

  #remember(rel: number, end: number, ts: number): void {
    const cap = this.#segs.length / 3;
    if (this.#segCount === cap && cap < MAX_SEGS) {
      const grown = new Float64Array(Math.min(MAX_SEGS, cap * 4) * 3);
      grown.set(this.#segs);
      this.#segs = grown;
    }
    const i = (this.#segCount % (this.#segs.length / 3)) * 3;
    this.#segs[i] = rel;
    this.#segs[i + 1] = end;
    this.#segs[i + 2] = ts;
    this.#segCount++;
  }

  /** Capture time of the first transmission covering `rel`, or -1. */
  #originalTs(rel: number): number {
    const n = Math.min(this.#segCount, this.#segs.length / 3);
    let best = -1;
    for (let k = 0; k < n; k++) {
      const i = k * 3;
      if (rel >= this.#segs[i]! && rel < this.#segs[i + 1]!) {
        const t = this.#segs[i + 2]!;
        if (best < 0 || t < best) best = t;
      }
    }
    return best;
  }

  #addHole(start: number, end: number, ts: number): void {
    if (this.#holeCount === MAX_HOLES) { // a pathological flow: further holes are not timed, but counted
      this.untimedHoles++;
      this.an.bump(Anomaly.TOO_MANY_SEQUENCE_HOLES);
      return;
    }
    if (this.#holes === null) this.#holes = new Float64Array(MAX_HOLES * 3);
    const h = this.#holeCount++ * 3;
    this.#holes[h] = start;
    this.#holes[h + 1] = end;
    this.#holes[h + 2] = ts;
  }

  #removeHole(i: number): void {
    const last = --this.#holeCount;
    if (i !== last) this.#holes!.copyWithin(i * 3, last * 3, last * 3 + 3);
  }

  /**
   * Hands the captured bytes of segment [rel, rel+len) to `sink` in stream order. `avail` is how
   * many of the segment's bytes were captured (snaplen may cut them).
   */
  deliver(rel: number, len: number, buf: Uint8Array, off: number, avail: number, ts: number, sink: InOrderSink): void {
    if (sink.failed || this.contentLost) return;
    const end = rel + len;
    if (end <= this.nextRel) return; // nothing new for the parser
    if (rel > this.nextRel) {
      this.#hold(rel, buf, off, Math.min(avail, len), ts);
      return;
    }
    if (avail < len) {
      this.contentLost = true;
      sink.stop();
      return;
    }
    const skip = this.nextRel - rel;
    this.#push(sink, buf, off + skip, off + len, ts);
    this.nextRel = end;
    // Drain held segments that are now in order; they count as arriving with this packet.
    while (this.#ooo.length > 0 && !sink.failed) {
      let progressed = false;
      for (let i = 0; i < this.#ooo.length; i++) {
        const s = this.#ooo[i]!;
        const sEnd = s.rel + s.data.length;
        if (s.rel > this.nextRel) continue;
        this.#ooo.splice(i, 1);
        this.#oooBytes -= s.data.length;
        if (sEnd > this.nextRel) {
          this.#push(sink, s.data, this.nextRel - s.rel, s.data.length, ts);
          this.nextRel = sEnd;
        }
        progressed = true;
        break;
      }
      if (!progressed) break;
    }
  }

  #push(sink: InOrderSink, buf: Uint8Array, off: number, end: number, ts: number): void {
    this.#delivered += end - off;
    if (this.#delivered > HANDSHAKE_BYTE_BUDGET) {
      this.an.bump(Anomaly.REASSEMBLY_BUDGET_EXCEEDED);
      sink.stop();
      return;
    }
    sink.push(buf, off, end, ts);
  }

  #hold(rel: number, buf: Uint8Array, off: number, n: number, ts: number): void {
    if (this.#ooo.length >= MAX_OOO_SEGMENTS || this.#oooBytes + n > MAX_OOO_BYTES) {
      this.an.bump(Anomaly.OUT_OF_ORDER_BUFFER_FULL);
      return;
    }
    this.#ooo.push({ rel, data: copyBytes(buf, off, off + n), ts });
    this.#oooBytes += n;
  }

  /** Frees buffers once the handshake is over (the stream is not fed again). */
  release(): void {
    this.#ooo = [];
    this.#oooBytes = 0;
    const segs = this.#segs;
    if (segs === RELEASED) return;
    if (segs.length <= POOL_RING_MAX && segPool.length < POOL_MAX) segPool.push(segs); // entries past segCount are never read
    this.#segs = RELEASED;
    this.#segCount = 0;
  }
}
