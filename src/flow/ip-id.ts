/**
 * Packets lost before the capture point, inferred from IPv4 identification fields.
 *
 * Linux gives each packet of a TCP socket the next IP ID (a per-socket counter; a GSO/TSO
 * super-frame consumes one ID per segment). A segment dropped before it reaches the capture
 * point — the client's ClientHello lost on its way to a server-side capture, say — leaves no
 * sequence-number hole when nothing else was sent after it: the retransmission simply arrives
 * late, and the wait would be charged to the client. Its IP ID is one or more ahead, though.
 *
 * The inference is deliberately narrow: IPv4 only; only once the direction has shown
 * sequential IDs (stacks with random or global counters never qualify, and one irregular step
 * turns it off for the flow); a gap of 1–8 IDs; and only when the packet after the gap carries
 * in-order data (a lost pure ACK needs no repair). The caller then charges the interval from the
 * previous packet of that direction to this one to `loss`.
 *
 * Segmentation offload (TSO/GSO, or GRO at the capture point): a super-segment longer than the
 * peer's MSS is sent as ceil(len / segment size) packets, and the segment size is the MSS minus
 * the TCP options, or less where the path MTU is smaller, which the capture does not show. So the
 * ID after a super-segment may be up to len / 536 (RFC 9293 §3.7.1: the smallest default MSS)
 * ahead of the estimate: anything in that range re-synchronises the counter and is never taken
 * for a loss (a loss right after a super-segment goes uncounted rather than a loss invented).
 */
const MAX_GAP = 8;
/** RFC 9293 §3.7.1 default send MSS (IPv4): no segment of a super-segment carries less. */
const MIN_SEGMENT = 536;

/** judgeIpId results besides a gap (1..MAX_GAP) or 0 (the next ID exactly). */
export const IPID_IGNORE = -1;
export const IPID_BROKEN = -2;

/**
 * The rule for one step: `diff` is how far the new ID is past the expected next one (mod 2^16),
 * `sequential` whether the direction has shown a sequential step before. Shared with the
 * analyzer's pre-payload state (handshake/pre-tls.ts), which follows the same sequence in
 * fixed-size arrays until a tracker takes over.
 */
export function judgeIpId(diff: number, sequential: boolean): number {
  if (diff === 0) return 0;
  if (diff >= 0x10000 - MAX_GAP * 4) return IPID_IGNORE; // a duplicate or reordered packet
  if (diff <= MAX_GAP && sequential) return diff;
  return IPID_BROKEN; // not a per-socket counter: never infer anything for this direction
}

export class IpIdSequence {
  #last = -1;
  #step = 1;
  /** IDs the packet after a super-segment may be beyond `#step` (see the file comment). */
  #slack = 0;
  #sequential = 0;
  #broken = false;
  /** Capture time of the packet before the one just observed. */
  prevTs = -1;
  #lastTs = -1;

  /** Feeds one packet; returns how many IDs are missing before it (0: none or not trusted). */
  observe(id: number, payloadLen: number, mss: number, ts: number): number {
    if (id < 0 || this.#broken) return 0;
    const step = mss > 0 && payloadLen > mss ? Math.ceil(payloadLen / mss) : 1;
    if (this.#last < 0) {
      this.#set(id, step, payloadLen, ts);
      return 0;
    }
    const diff = (id - ((this.#last + this.#step) & 0xffff)) & 0xffff;
    const gap = diff <= this.#slack ? 0 : judgeIpId(diff, this.#sequential >= 1);
    if (gap === IPID_IGNORE) return 0;
    if (gap === IPID_BROKEN) {
      this.#broken = true;
      return 0;
    }
    if (gap === 0) this.#sequential++;
    this.#set(id, step, payloadLen, ts);
    return gap;
  }

  /**
   * Takes over a sequence followed elsewhere (the analyzer's pre-payload arrays): the last ID and
   * its capture time (`last` -1: none yet), whether a sequential step was seen, whether the
   * direction was found not to count per socket. Packets without payload always step by one.
   */
  restore(last: number, lastTs: number, sequential: boolean, broken: boolean): void {
    this.#last = last;
    this.#step = 1;
    this.#slack = 0;
    this.#sequential = sequential ? 1 : 0;
    this.#broken = broken;
    this.#lastTs = last >= 0 ? lastTs : -1;
  }

  #set(id: number, step: number, len: number, ts: number): void {
    this.#last = id;
    this.#step = step;
    this.#slack = step > 1 ? Math.max(0, Math.ceil(len / MIN_SEGMENT) - step) : 0;
    this.prevTs = this.#lastTs;
    this.#lastTs = ts;
  }
}
