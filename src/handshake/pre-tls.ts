/**
 * Per-flow state of a connection that has shown no payload yet, in fixed-size typed arrays
 * indexed by flow-table slot (issue 8: bounded memory under a SYN flood).
 *
 * A SYN flood of distinct sources creates one flow per SYN, and almost none of them ever sends a
 * byte. Until a segment carries payload (the ClientHello, or the ServerHello of a capture that
 * starts mid-handshake) the HandshakeTracker would only record what this 72-byte row holds, so no
 * object is allocated for such a flow: a flood costs 72 bytes here plus the flow-table entry.
 *
 * 1. `start` opens a row for a flow's first packet (a SYN or SYN-ACK without payload); rows are
 *    never cleared, a reused slot is simply started again.
 * 2. `onPacket` applies a payload-free packet exactly as the tracker would (tracker.ts
 *    #clientPacket / #serverPacket for pure TCP segments). Only payload makes the analyzer
 *    allocate the tracker: `resume` hands the row over, and the tracker gets the packet itself;
 *    the record is the same as if the tracker had seen every packet (verified against captures/
 *    and the golden tests). Whatever else a sender does without payload stays in the row:
 *    repeated SYNs and SYN-ACKs (retransmissions, or new ISNs: ignored, or a new connection once
 *    the handshake has started), ACKs with any number (the highest one past the SYN-ACK and its
 *    time are kept, as the tracker keeps them for its cwnd-stall test), window probes and ACK
 *    storms (counted up to MAX_HANDSHAKE_PACKETS, then the flow is dropped as the tracker would
 *    abandon it), FIN and RST (the flow closes without a record, as it would with a tracker).
 *    One case does not fit: a packet more than ±35 min from the flow's first (the offsets are
 *    32-bit µs). Only a capture file can do that (merged or clock-stepped captures): the row is
 *    then ended as stale and the packet treated as the start of a new flow (PRE_STALE, counted
 *    as the anomaly pre_tls_time_jump), where a tracker would have kept the old start.
 *
 * Row layout (host byte order, 72 bytes a flow; the fields of the RFC 9293 §3.5 handshake):
 *
 *   bytes  0..7   f64  firstTs          capture time of the flow's first packet, µs
 *          8..39  i32  syn, syn_ack, ack, client/server SYN-retransmit latest,
 *                      client/server last IPv4 ID time, client highest ACK time (µs after firstTs)
 *         40..51  u32  client ISN, server ISN; i32 client highest ACK past the SYN-ACK (relative
 *                      to the server's ISN + 1; 0: none)
 *         52..67  u16  packets, flags, client/server retransmits, client/server MSS,
 *                      client/server last IPv4 ID
 *         68..71       unused
 *
 * A SYN (or SYN-ACK) retransmission adds the repair interval [syn, now] (design.md loss rule);
 * intervals that share their start have the longest one as their union, and the phases only
 * ever use the union (phases.ts mergeIntervals), so the row keeps the latest retransmission
 * time per direction instead of a list.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet.js';
import { IPID_BROKEN, IPID_IGNORE, judgeIpId } from '../flow/ip-id.js';
import { seqDiff } from '../flow/tcp-stream.js';
import { T } from './timeline.js';
import { MAX_HANDSHAKE_PACKETS, MAX_KEPT_PACKETS, type HandshakeTracker } from './tracker.js';

/** onPacket results. */
export const PRE_OK = 0;
/** The packet carries payload: allocate the tracker, `resume` it from the row, and give it this packet. */
export const PRE_PROMOTE = 1;
/** The flow ended (FIN/RST, or too many packets) before showing any TLS: make it passive. */
export const PRE_CLOSE = 2;
/** A SYN with a new ISN on a tuple past its handshake start: a new connection reuses the tuple. */
export const PRE_RESTART = 3;
/** A packet too far in time from the flow's first for the row (see the file comment): end the row, start anew. */
export const PRE_STALE = 4;

/** Bytes of one row. */
export const PRE_TLS_ROW_BYTES = 72;
const F64_ROW = PRE_TLS_ROW_BYTES / 8;
const I32_ROW = PRE_TLS_ROW_BYTES / 4;
const U16_ROW = PRE_TLS_ROW_BYTES / 2;

// i32 / u32 fields
const I_SYN = 2, I_SYN_ACK = 3, I_ACK = 4, I_CLI_RETX_TS = 5, I_SRV_RETX_TS = 6, I_CLI_ID_TS = 7, I_SRV_ID_TS = 8, I_CLI_ACK_TS = 9;
const I_CLI_ISN = 10, I_SRV_ISN = 11, I_CLI_ACK_REL = 12;
// u16 fields
const H_PACKETS = 26, H_FLAGS = 27, H_CLI_RETX = 28, H_SRV_RETX = 29, H_CLI_MSS = 30, H_SRV_MSS = 31, H_CLI_ID = 32, H_SRV_ID = 33;
// flag bits
const F_CLIENT_IS_A = 1 << 0;
const F_SYN = 1 << 1; // also: the client ISN is known
const F_SYN_ACK = 1 << 2; // also: the server ISN is known
const F_ACK = 1 << 3;
// per direction: client bits, server bits = client bits << 1
const F_CLI_ID = 1 << 4, F_CLI_ID_SEQ = 1 << 6, F_CLI_ID_BROKEN = 1 << 8;

/** Offsets beyond this (µs, ±35 min) do not fit the row. */
const MAX_OFFSET = 0x7fffffff;

export class PreTlsTable {
  #f64: Float64Array;
  #i32: Int32Array;
  #u32: Uint32Array;
  #u16: Uint16Array;
  #cap = 0;

  constructor(capacity: number) {
    const buf = new ArrayBuffer(capacity * PRE_TLS_ROW_BYTES);
    this.#f64 = new Float64Array(buf);
    this.#i32 = new Int32Array(buf);
    this.#u32 = new Uint32Array(buf);
    this.#u16 = new Uint16Array(buf);
    this.#cap = capacity;
  }

  get capacity(): number {
    return this.#cap;
  }

  /** Follows the flow table's growth (slot numbers are kept when it grows). */
  grow(capacity: number): void {
    if (capacity <= this.#cap) return;
    const buf = new ArrayBuffer(capacity * PRE_TLS_ROW_BYTES);
    new Uint8Array(buf).set(new Uint8Array(this.#f64.buffer));
    this.#f64 = new Float64Array(buf);
    this.#i32 = new Int32Array(buf);
    this.#u32 = new Uint32Array(buf);
    this.#u16 = new Uint16Array(buf);
    this.#cap = capacity;
  }

  /** Opens the row of a new flow; the caller then feeds the flow's first packet to onPacket. */
  start(slot: number, firstTs: number, clientIsA: boolean): void {
    this.#f64[slot * F64_ROW] = firstTs;
    this.#i32.fill(0, slot * I32_ROW + 2, slot * I32_ROW + I32_ROW);
    this.#u16[slot * U16_ROW + H_FLAGS] = clientIsA ? F_CLIENT_IS_A : 0;
  }

  clientIsA(slot: number): boolean {
    return (this.#u16[slot * U16_ROW + H_FLAGS]! & F_CLIENT_IS_A) !== 0;
  }

  /** Applies one packet of the flow (see the file comment); returns PRE_*. */
  onPacket(slot: number, p: DecodedPacket, fromClient: boolean): number {
    if (p.payloadLen > 0) return PRE_PROMOTE;
    const i = slot * I32_ROW, h = slot * U16_ROW;
    const u16 = this.#u16, i32 = this.#i32;
    const d = p.tsUs - this.#f64[slot * F64_ROW]!;
    if (d > MAX_OFFSET || d < -MAX_OFFSET) return PRE_STALE;
    let fl = u16[h + H_FLAGS]!;
    const flags = p.flags;
    const packets = u16[h + H_PACKETS]!;
    // Analyzer rule: a new ISN on a tuple that is past its handshake start is a new connection.
    if (fromClient && (flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && fl & F_SYN && p.seq !== this.#u32[i + I_CLI_ISN] && packets > 2) return PRE_RESTART;
    u16[h + H_PACKETS] = packets + 1;
    // FIN or RST before any payload: the tracker would close, and a flow that never showed a
    // TLS hello makes no record.
    if (flags & (TCP_FIN | TCP_RST)) return PRE_CLOSE;
    if (fromClient) {
      fl = this.#ipId(i, h, fl, 0, p.ipId, d);
      if (flags & TCP_SYN) {
        if (!(flags & TCP_ACK)) { // a SYN-ACK from the client (simultaneous open) is not modelled
          if (p.mss > 0) u16[h + H_CLI_MSS] = p.mss;
          if (!(fl & F_SYN)) {
            fl |= F_SYN;
            i32[i + I_SYN] = d;
            this.#u32[i + I_CLI_ISN] = p.seq;
          } else if (p.seq === this.#u32[i + I_CLI_ISN]) {
            this.#retransmit(i + I_CLI_RETX_TS, h + H_CLI_RETX, d);
          }
        }
      } else if (flags & TCP_ACK && fl & F_SYN_ACK) {
        if (!(fl & F_ACK)) {
          fl |= F_ACK;
          i32[i + I_ACK] = d;
        }
        // tracker.ts #clientAck: the highest position acknowledged in the server's stream, and
        // when (a pure ACK), whatever the number (an ACK of bytes never sent included).
        const rel = seqDiff(p.ack, (this.#u32[i + I_SRV_ISN]! + 1) >>> 0);
        if (rel > i32[i + I_CLI_ACK_REL]!) {
          i32[i + I_CLI_ACK_REL] = rel;
          i32[i + I_CLI_ACK_TS] = d;
        }
      }
    } else if (flags & TCP_SYN) {
      // The server's SYN-ACK is sent from the request socket (IP ID 0 on Linux): not observed.
      if (flags & TCP_ACK) {
        if (p.mss > 0) u16[h + H_SRV_MSS] = p.mss;
        if (!(fl & F_SYN_ACK)) {
          fl |= F_SYN_ACK;
          i32[i + I_SYN_ACK] = d;
          this.#u32[i + I_SRV_ISN] = p.seq;
        } else if (p.seq === this.#u32[i + I_SRV_ISN]) {
          this.#retransmit(i + I_SRV_RETX_TS, h + H_SRV_RETX, d);
        }
      }
    } else {
      fl = this.#ipId(i, h, fl, 1, p.ipId, d);
    }
    u16[h + H_FLAGS] = fl;
    return packets + 1 > MAX_HANDSHAKE_PACKETS ? PRE_CLOSE : PRE_OK;
  }

  #retransmit(tsField: number, countField: number, d: number): void {
    const n = this.#u16[countField]!;
    if (n === 0 || d > this.#i32[tsField]!) this.#i32[tsField] = d;
    this.#u16[countField] = n + 1;
  }

  /** IpIdSequence.observe for a packet without payload (step 1), side 0 = client, 1 = server. */
  #ipId(i: number, h: number, fl: number, side: number, id: number, d: number): number {
    const seen = F_CLI_ID << side, seq = F_CLI_ID_SEQ << side, broken = F_CLI_ID_BROKEN << side;
    if (id < 0 || fl & broken) return fl;
    if (fl & seen) {
      const diff = (id - ((this.#u16[h + H_CLI_ID + side]! + 1) & 0xffff)) & 0xffff;
      const gap = judgeIpId(diff, (fl & seq) !== 0);
      if (gap === IPID_IGNORE) return fl;
      if (gap === IPID_BROKEN) return fl | broken;
      if (gap === 0) fl |= seq;
    }
    this.#u16[h + H_CLI_ID + side] = id;
    this.#i32[i + I_CLI_ID_TS + side] = d;
    return fl | seen;
  }

  /** Hands the row to a tracker that has seen no packet yet; the caller then feeds it the packet. */
  resume(slot: number, t: HandshakeTracker): void {
    const i = slot * I32_ROW, h = slot * U16_ROW;
    const i32 = this.#i32, u16 = this.#u16;
    const first = this.#f64[slot * F64_ROW]!;
    const fl = u16[h + H_FLAGS]!;
    const tl = t.timeline;
    t.firstTs = first;
    t.packets = u16[h + H_PACKETS]!;
    if (fl & F_SYN) {
      tl[T.SYN] = first + i32[i + I_SYN]!;
      t.cli.setIsn(this.#u32[i + I_CLI_ISN]!);
    }
    if (fl & F_SYN_ACK) {
      tl[T.SYN_ACK] = first + i32[i + I_SYN_ACK]!;
      t.srv.setIsn(this.#u32[i + I_SRV_ISN]!);
    }
    if (fl & F_ACK) tl[T.ACK] = first + i32[i + I_ACK]!;
    const cliRetx = u16[h + H_CLI_RETX]!, srvRetx = u16[h + H_SRV_RETX]!;
    t.cli.retransmits = cliRetx;
    t.srv.retransmits = srvRetx;
    if (cliRetx > 0) t.loss.push(tl[T.SYN]!, first + i32[i + I_CLI_RETX_TS]!);
    if (srvRetx > 0) t.loss.push(tl[T.SYN_ACK]!, first + i32[i + I_SRV_RETX_TS]!);
    const ackRel = i32[i + I_CLI_ACK_REL]!;
    t.restore(u16[h + H_CLI_MSS]!, u16[h + H_SRV_MSS]!, ackRel, ackRel > 0 ? first + i32[i + I_CLI_ACK_TS]! : -1);
    t.cliIds.restore(fl & F_CLI_ID ? u16[h + H_CLI_ID]! : -1, first + i32[i + I_CLI_ID_TS]!, (fl & F_CLI_ID_SEQ) !== 0, (fl & F_CLI_ID_BROKEN) !== 0);
    t.srvIds.restore(fl & (F_CLI_ID << 1) ? u16[h + H_SRV_ID]! : -1, first + i32[i + I_SRV_ID_TS]!, (fl & (F_CLI_ID_SEQ << 1)) !== 0,
      (fl & (F_CLI_ID_BROKEN << 1)) !== 0);
  }
}

/** Default size of the area shared by the kept packets of flows without payload (see PreTlsKept). */
export const PRE_KEPT_AREA_BYTES = 32 * 1024 * 1024;
const KEPT_HEADER = 40;

/**
 * Kept packets (analyze --out, --ladder) of flows that have shown no payload yet, in one area of
 * fixed size shared by all of them, reused oldest first (a byte ring, undici fixed-queue.js
 * shape): a flood of SYNs allocates no object per packet, and its memory does not grow with the
 * flood or the flow bound (a KeptPacket and a typed array per SYN made a 2M-SYN flood cost
 * 1.5 GiB with --out; a 512-byte area per flow, 594 MiB). When the flow's first payload
 * allocates its tracker, `moveTo` copies the flow's packets that are still there into the
 * tracker's list; the ones already reused by newer flows are counted on the record
 * (`keptLostEarly`), never promoted or kept elsewhere. At a 100k SYN/s flood answered by SYN-ACKs
 * (224 bytes a flow) the 32 MiB default holds the last 1.5 s, 1.05 s when each flood client also
 * sends an ACK (320 bytes): a real handshake's SYN, SYN-ACK and ACK are normally taken out by its
 * ClientHello one round trip later; one whose SYN was retransmitted after 1 s may lose its first
 * SYN (scripts/bench-synflood: with 16 MiB, 86 of 2000 real flows lost their two oldest packets
 * to --ack-flood, with 32 MiB none).
 *
 * Each flow's entries are chained newest to oldest (`back`: distance to the flow's previous
 * entry). `#w` is the absolute write position (bytes ever written, wrap padding included): an
 * entry at absolute position P is intact while #w - P <= area size. An entry never straddles the
 * end of the area; the tail left unused before a wrap counts as written (the entries there are
 * the oldest, and are given up a lap early).
 *
 *   entry = u32 back | u32 tsSec | u32 tsNsec | u32 origLen | u32 seq | u32 ack | f64 tsUs |
 *           u16 caplen | u16 linkType | u8 flags | u8 fromClient | pad to 40 | packet bytes | pad to 8
 *
 * Per slot: the absolute position of the flow's newest entry (-1: none), how many packets it
 * kept (u16: at most MAX_HANDSHAKE_PACKETS before the flow is dropped), and whether its packets
 * are wanted at all.
 */
export class PreTlsKept {
  readonly areaBytes: number;
  #area: Uint8Array | null = null;
  #f64: Float64Array = new Float64Array(0);
  #u32: Uint32Array = new Uint32Array(0);
  #u16: Uint16Array = new Uint16Array(0);
  #w = 0;
  #newest: Float64Array;
  #count: Uint16Array;
  #keep: Uint8Array;
  #cap = 0;

  constructor(capacity: number, areaBytes = PRE_KEPT_AREA_BYTES) {
    if (!Number.isInteger(areaBytes) || areaBytes < 1024 || areaBytes % 8 !== 0) throw new RangeError(`pre-payload kept area: a multiple of 8 bytes, at least 1024, got ${areaBytes}`);
    this.areaBytes = areaBytes;
    this.#newest = new Float64Array(0);
    this.#count = new Uint16Array(0);
    this.#keep = new Uint8Array(0);
    this.grow(capacity);
  }

  get capacity(): number {
    return this.#cap;
  }

  /** Bytes ever written (wrap padding included): above areaBytes, the area has been reused. */
  get written(): number {
    return this.#w;
  }

  grow(capacity: number): void {
    if (capacity <= this.#cap) return;
    const newest = new Float64Array(capacity);
    newest.set(this.#newest);
    const count = new Uint16Array(capacity);
    count.set(this.#count);
    const keep = new Uint8Array(capacity);
    keep.set(this.#keep);
    this.#newest = newest;
    this.#count = count;
    this.#keep = keep;
    this.#cap = capacity;
  }

  /** Opens the area of a new flow; `keep` false: this flow's packets are not wanted. */
  start(slot: number, keep: boolean): void {
    this.#newest[slot] = -1;
    this.#count[slot] = 0;
    this.#keep[slot] = keep ? 1 : 0;
  }

  keeps(slot: number): boolean {
    return this.#keep[slot] === 1;
  }

  /** Copies `p` into the area, reusing the oldest entries when it is full. */
  add(slot: number, p: DecodedPacket, fromClient: boolean): void {
    const size = KEPT_HEADER + ((p.caplen + 7) & ~7);
    const n = this.#count[slot]!;
    this.#count[slot] = n + 1;
    const cap = this.areaBytes;
    if (size > cap) return; // never kept: counted as lost when the flow's packets are moved
    let area = this.#area;
    if (area === null) { // allocated on first use: --flow for a flow that is not there never needs it
      const buf = new ArrayBuffer(cap);
      area = this.#area = new Uint8Array(buf);
      this.#f64 = new Float64Array(buf);
      this.#u32 = new Uint32Array(buf);
      this.#u16 = new Uint16Array(buf);
    }
    let w = this.#w;
    let o = w % cap;
    if (o + size > cap) { // wrap: the tail is given up
      w += cap - o;
      o = 0;
    }
    const prev = this.#newest[slot]!;
    const back = prev >= 0 && w - prev < cap ? w - prev : 0;
    const x = o >>> 2, u32 = this.#u32;
    u32[x] = back;
    u32[x + 1] = p.tsSec;
    u32[x + 2] = p.tsNsec;
    u32[x + 3] = p.origLen;
    u32[x + 4] = p.seq;
    u32[x + 5] = p.ack;
    this.#f64[(o >>> 3) + 3] = p.tsUs;
    this.#u16[(o >>> 1) + 16] = p.caplen;
    this.#u16[(o >>> 1) + 17] = p.linkType;
    area[o + 36] = p.flags;
    area[o + 37] = fromClient ? 1 : 0;
    area.set(p.buf.subarray(p.off, p.off + p.caplen), o + KEPT_HEADER);
    this.#newest[slot] = w;
    this.#w = w + size;
  }

  /**
   * Hands the flow's kept packets that are still in the area, oldest first, to the tracker taking
   * the flow over (whose list is empty): up to MAX_KEPT_PACKETS, the rest counted in `keptDropped`
   * as tracker.ts #keep does; the ones reused by newer flows are counted in `keptLostEarly`.
   */
  moveTo(slot: number, t: HandshakeTracker): void {
    const out = t.kept!;
    const n = this.#count[slot]!;
    const cap = this.areaBytes, w = this.#w;
    const at: number[] = [];
    for (let pos = this.#newest[slot]!; pos >= 0 && w - pos <= cap; ) {
      at.push(pos);
      const back = this.#u32[(pos % cap) >>> 2]!;
      pos = back > 0 ? pos - back : -1;
    }
    const area = this.#area;
    let overLimit = 0;
    for (let k = at.length - 1; k >= 0; k--) {
      if (out.length >= MAX_KEPT_PACKETS) { overLimit++; continue; }
      const o = at[k]! % cap, x = o >>> 2;
      const caplen = this.#u16[(o >>> 1) + 16]!;
      out.push({
        tsSec: this.#u32[x + 1]!, tsNsec: this.#u32[x + 2]!, tsUs: this.#f64[(o >>> 3) + 3]!, origLen: this.#u32[x + 3]!,
        linkType: this.#u16[(o >>> 1) + 17]!, fromClient: area![o + 37] === 1,
        data: area!.slice(o + KEPT_HEADER, o + KEPT_HEADER + caplen),
        flags: area![o + 36]!, seq: this.#u32[x + 4]!, ack: this.#u32[x + 5]!, payloadLen: 0,
      });
    }
    this.#newest[slot] = -1;
    this.#count[slot] = 0;
    t.keptDropped += overLimit;
    t.keptLostEarly += n - at.length;
  }
}
