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
 */
const MAX_GAP = 8;

export class IpIdSequence {
  #last = -1;
  #step = 1;
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
      this.#set(id, step, ts);
      return 0;
    }
    const diff = (id - ((this.#last + this.#step) & 0xffff)) & 0xffff;
    let gap = 0;
    if (diff === 0) this.#sequential++;
    else if (diff >= 0x10000 - MAX_GAP * 4) return 0; // a duplicate or reordered packet: ignore it
    else if (diff <= MAX_GAP && this.#sequential >= 1) gap = diff;
    else {
      this.#broken = true; // not a per-socket counter: never infer anything for this direction
      return 0;
    }
    this.#set(id, step, ts);
    return gap;
  }

  #set(id: number, step: number, ts: number): void {
    this.#last = id;
    this.#step = step;
    this.prevTs = this.#lastTs;
    this.#lastTs = ts;
  }
}
