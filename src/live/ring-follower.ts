/**
 * Ring follower (design.md "Live engine"): walks the records the capture thread writes, in the
 * order it writes them, as they arrive, decoding each where it lies in the ring into one reused
 * DecodedPacket and handing it to a sink (the Analyzer). No copy and no allocation per packet.
 *
 * 1. `poll()` reads [head, tail]. The follower keeps its own position; when that fell below tail
 *    (the writer lapped it) the records in between are gone: counted as an overrun (laps and
 *    bytes), and following resumes at the oldest record that is still safe to read, found through
 *    the writer's time index (its entries are record starts).
 * 2. Safe to read: the writer moves tail past what it will overwrite before it writes there, so a
 *    record at position p is intact as long as the writer's head stays below p + ring size. The
 *    follower only reads records at least `margin` bytes (a quarter of the ring by default) ahead
 *    of the writer's overwrite front as seen when the poll starts; records behind that front are
 *    skipped and counted with the overrun. At most `maxPerPoll` records are read per poll, so one
 *    poll never runs long and the writer cannot cover the margin meanwhile at any rate it reaches.
 * 3. After the walk tail is read again. Were the records read in this poll overwritten during it
 *    after all (tail passed the poll's first position), they are counted as `suspect`: decoders are
 *    bounds-checked, so a torn record can only be analysed wrongly, never crash, and the count says
 *    so. None was seen in the tests; a non-zero count means the margin is too small for the rate.
 * 4. Headers are checked for plausibility (length a multiple of 8, within the ring); a header that
 *    fails is counted as corrupt and the follower resynchronises at the next record the time index
 *    names (its entries are record starts).
 */
import { DecodedPacket } from '../decode/packet.js';
import { FLAG_PADDING, H_CAPLEN, H_FLAGS, H_LINK, H_NSEC, H_ORIGLEN, H_SEC, RECORD_HEADER } from '../ring/layout.js';
import type { RingSource } from '../ring/reader.js';

export interface PacketSink {
  onPacket(p: DecodedPacket): void;
}

export interface FollowerStats {
  /** Records handed to the sink, and their captured bytes. */
  records: number;
  bytes: number;
  /** Times the writer lapped the follower (or came within the margin), and the bytes skipped. */
  overruns: number;
  overrunBytes: number;
  /** Records read in a poll during which the writer reached them anyway (see 3 above). */
  suspect: number;
  /** Implausible headers (resynchronised at tail). */
  corrupt: number;
  polls: number;
}

export interface FollowerOptions {
  /** Records per poll at most (default 65536). */
  maxPerPoll?: number;
  /** Bytes kept between the follower and the writer's overwrite front (default ring size / 4). */
  margin?: number;
  /** Start at the oldest record the ring holds instead of at the head (what arrives from now). */
  fromOldest?: boolean;
}

export class RingFollower {
  readonly stats: FollowerStats = { records: 0, bytes: 0, overruns: 0, overrunBytes: 0, suspect: 0, corrupt: 0, polls: 0 };
  readonly #src: RingSource;
  readonly #u32: Uint32Array;
  readonly #u16: Uint16Array;
  readonly #u8: Uint8Array;
  readonly #index: BigUint64Array;
  readonly #size: number;
  readonly #margin: number;
  readonly #max: number;
  readonly #posBuf = new Float64Array(3);
  readonly #pkt = new DecodedPacket();
  #pos = -1;

  constructor(src: RingSource, readonly sink: PacketSink, opts: FollowerOptions = {}) {
    this.#src = src;
    this.#u32 = new Uint32Array(src.ring);
    this.#u16 = new Uint16Array(src.ring);
    this.#u8 = new Uint8Array(src.ring);
    this.#index = new BigUint64Array(src.index);
    this.#size = src.ring.byteLength;
    this.#margin = Math.min(opts.margin ?? Math.floor(this.#size / 4), this.#size - RECORD_HEADER);
    this.#max = opts.maxPerPoll ?? 65536;
    src.positions(this.#posBuf);
    this.#pos = opts.fromOldest ? this.#posBuf[1]! : this.#posBuf[0]!;
  }

  /** Where the follower is (absolute ring position). */
  get position(): number {
    return this.#pos;
  }

  /** Hands the records written since the last poll to the sink; returns how many. */
  poll(): number {
    const st = this.stats;
    st.polls++;
    this.#src.positions(this.#posBuf);
    const head = this.#posBuf[0]!;
    const tail = this.#posBuf[1]!;
    // The oldest position that is safe to read in place during this poll.
    const front = head - this.#size + this.#margin;
    if (this.#pos < tail || this.#pos < front) {
      const resume = this.#resume(Math.max(tail, front), head);
      if (resume < 0) return 0;
      st.overruns++;
      st.overrunBytes += resume - this.#pos;
      this.#pos = resume;
    }
    const size = this.#size, u32 = this.#u32, u16 = this.#u16, pkt = this.#pkt;
    const first = this.#pos;
    let p = this.#pos;
    let off = p % size;
    let n = 0;
    pkt.buf = this.#u8;
    while (p < head && n < this.#max) {
      if (size - off < RECORD_HEADER) { p += size - off; off = 0; continue; }
      const w = off >>> 2;
      const len = u32[w]!;
      if (len < RECORD_HEADER || len > size || (len & 7) !== 0 || p + len > head) {
        st.corrupt++; // cannot happen with an intact writer: resynchronise on the next indexed record
        const r = this.#resume(p + 8, head);
        if (r < 0) break;
        p = r;
        off = p % size;
        continue;
      }
      if (!(u16[(off + H_FLAGS) >>> 1]! & FLAG_PADDING)) {
        const caplen = Math.min(u32[(off + H_CAPLEN) >>> 2]!, len - RECORD_HEADER);
        const sec = u32[(off + H_SEC) >>> 2]!, nsec = u32[(off + H_NSEC) >>> 2]!;
        pkt.off = off + RECORD_HEADER;
        pkt.caplen = caplen;
        pkt.origLen = u32[(off + H_ORIGLEN) >>> 2]!;
        pkt.linkType = u16[(off + H_LINK) >>> 1]!;
        pkt.tsSec = sec;
        pkt.tsNsec = nsec;
        pkt.tsUs = sec * 1e6 + Math.floor(nsec / 1000);
        this.sink.onPacket(pkt);
        st.records++;
        st.bytes += caplen;
        n++;
      }
      p += len;
      off += len;
      if (off >= size) off -= size;
    }
    this.#pos = p;
    this.#src.positions(this.#posBuf);
    if (this.#posBuf[1]! > first) st.suspect += n; // the writer reached what this poll read (3.)
    return n;
  }

  /**
   * A record boundary at or after `target` (≤ head) to resume at, from the writer's time index:
   * each slot holds the position of the first record of a 100 ms bucket, always a record start.
   * The smallest indexed position ≥ target is taken; when none is (everything from target on lies
   * in the newest bucket), the newest indexed position below it, walked forward header by header
   * and kept only if tail did not pass it meanwhile. -1 when nothing usable is found (the next
   * poll tries again).
   */
  #resume(target: number, head: number): number {
    const idx = this.#index;
    let above = Infinity, below = -1;
    for (let s = 0; s < idx.length; s += 2) {
      const bucket = idx[s]!;
      if (bucket === 0n) continue;
      const pos = Number(idx[s + 1]!);
      if (idx[s] !== bucket) continue; // rewritten while read
      if (pos >= target && pos <= head && pos < above) above = pos;
      else if (pos < target && pos > below) below = pos;
    }
    if (above !== Infinity) return above;
    this.#src.positions(this.#posBuf);
    if (below < this.#posBuf[1]!) return -1; // the newest bucket began before tail: wait for the next one
    const size = this.#size, u32 = this.#u32;
    let p = below;
    while (p < target && p < head) {
      const off = p % size;
      if (size - off < RECORD_HEADER) { p += size - off; continue; }
      const len = u32[off >>> 2]!;
      if (len < RECORD_HEADER || len > size || (len & 7) !== 0) { this.stats.corrupt++; return -1; }
      p += len;
    }
    // The walk read headers from `below` on: they were intact only if the writer had not moved
    // tail past `below` by the time it ended. Else try again on the next poll (a newer bucket).
    this.#src.positions(this.#posBuf);
    return this.#posBuf[1]! <= below ? p : -1;
  }
}
