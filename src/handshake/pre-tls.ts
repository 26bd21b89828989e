/**
 * Per-flow state of a connection that has shown no payload yet, in fixed-size typed arrays
 * indexed by flow-table slot (issue 8: bounded memory under a SYN flood).
 *
 * A SYN flood of distinct sources creates one flow per SYN, and almost none of them ever sends a
 * byte. Until a segment carries payload (the ClientHello, or the ServerHello of a capture that
 * starts mid-handshake) the HandshakeTracker would only record what this 64-byte row holds, so no
 * object is allocated for such a flow: a flood costs 64 bytes here plus the flow-table entry.
 *
 * 1. `start` opens a row for a flow's first packet (a SYN or SYN-ACK without payload); rows are
 *    never cleared, a reused slot is simply started again.
 * 2. `onPacket` applies a payload-free packet exactly as the tracker would (tracker.ts
 *    #clientPacket / #serverPacket for pure TCP segments), or says that it cannot: the packet
 *    carries payload, or something rare happens that the row does not model (an ACK of server
 *    bytes never seen, a time offset beyond ±35 min). Then the analyzer allocates the tracker,
 *    `resume` hands the row over, and the tracker gets the packet itself; the record is the same
 *    as if the tracker had seen every packet (verified against captures/ and the golden tests).
 *
 * Row layout (host byte order, 64 bytes a flow; the fields of the RFC 9293 §3.5 handshake):
 *
 *   bytes  0..7   f64  firstTs          capture time of the flow's first packet, µs
 *          8..35  i32  syn, syn_ack, ack, client/server SYN-retransmit latest,
 *                      client/server last IPv4 ID time   (µs after firstTs)
 *         36..43  u32  client ISN, server ISN
 *         44..59  u16  packets, flags, client/server retransmits, client/server MSS,
 *                      client/server last IPv4 ID
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
import { MAX_HANDSHAKE_PACKETS, type HandshakeTracker, type KeptPacket } from './tracker.js';

/** onPacket results. */
export const PRE_OK = 0;
/** Allocate the tracker, `resume` it from the row, and give it this packet. */
export const PRE_PROMOTE = 1;
/** The flow ended (FIN/RST, or too many packets) before showing any TLS: make it passive. */
export const PRE_CLOSE = 2;
/** A SYN with a new ISN on a tuple past its handshake start: a new connection reuses the tuple. */
export const PRE_RESTART = 3;

/** Bytes of one row. */
export const PRE_TLS_ROW_BYTES = 64;
const F64_ROW = PRE_TLS_ROW_BYTES / 8;
const I32_ROW = PRE_TLS_ROW_BYTES / 4;
const U16_ROW = PRE_TLS_ROW_BYTES / 2;

// i32 / u32 fields
const I_SYN = 2, I_SYN_ACK = 3, I_ACK = 4, I_CLI_RETX_TS = 5, I_SRV_RETX_TS = 6, I_CLI_ID_TS = 7, I_SRV_ID_TS = 8;
const I_CLI_ISN = 9, I_SRV_ISN = 10;
// u16 fields
const H_PACKETS = 22, H_FLAGS = 23, H_CLI_RETX = 24, H_SRV_RETX = 25, H_CLI_MSS = 26, H_SRV_MSS = 27, H_CLI_ID = 28, H_SRV_ID = 29;
// flag bits
const F_CLIENT_IS_A = 1 << 0;
const F_SYN = 1 << 1; // also: the client ISN is known
const F_SYN_ACK = 1 << 2; // also: the server ISN is known
const F_ACK = 1 << 3;
// per direction: client bits, server bits = client bits << 1
const F_CLI_ID = 1 << 4, F_CLI_ID_SEQ = 1 << 6, F_CLI_ID_BROKEN = 1 << 8;

/** Offsets beyond this (µs, ±35 min) do not fit the row: the tracker takes over. */
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
    const i = slot * I32_ROW, h = slot * U16_ROW;
    const u16 = this.#u16, i32 = this.#i32;
    const d = p.tsUs - this.#f64[slot * F64_ROW]!;
    if (p.payloadLen > 0 || d > MAX_OFFSET || d < -MAX_OFFSET) return PRE_PROMOTE;
    let fl = u16[h + H_FLAGS]!;
    const flags = p.flags;
    const packets = u16[h + H_PACKETS]!;
    if (fromClient) {
      // Analyzer rule: a new ISN on a tuple that is past its handshake start is a new connection.
      if ((flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && fl & F_SYN && p.seq !== this.#u32[i + I_CLI_ISN] && packets > 2) return PRE_RESTART;
      // An ACK of server bytes beyond the SYN-ACK: the tracker keeps the acknowledged position.
      if (!(flags & TCP_SYN) && flags & TCP_ACK && fl & F_SYN_ACK && seqDiff(p.ack, (this.#u32[i + I_SRV_ISN]! + 1) >>> 0) > 0) return PRE_PROMOTE;
    }
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
      } else if (flags & TCP_ACK && fl & F_SYN_ACK && !(fl & F_ACK)) {
        fl |= F_ACK;
        i32[i + I_ACK] = d;
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
    t.restoreMss(u16[h + H_CLI_MSS]!, u16[h + H_SRV_MSS]!);
    t.cliIds.restore(fl & F_CLI_ID ? u16[h + H_CLI_ID]! : -1, first + i32[i + I_CLI_ID_TS]!, (fl & F_CLI_ID_SEQ) !== 0, (fl & F_CLI_ID_BROKEN) !== 0);
    t.srvIds.restore(fl & (F_CLI_ID << 1) ? u16[h + H_SRV_ID]! : -1, first + i32[i + I_SRV_ID_TS]!, (fl & (F_CLI_ID_SEQ << 1)) !== 0,
      (fl & (F_CLI_ID_BROKEN << 1)) !== 0);
  }
}

/** Bytes per flow for packets kept before its first payload (per-flow pcaps and ladders). */
export const PRE_KEPT_BYTES = 512;
const KEPT_HEADER = 40;
// meta (u16 per slot x 4): bytes used, packets kept, keep flag, unused
const M_USED = 0, M_COUNT = 1, M_KEEP = 2;

/**
 * Kept packets (analyze --out, --ladder) of flows that have shown no payload yet, in one fixed
 * area per flow: a flood of SYNs allocates no object per packet here either (a KeptPacket and a
 * typed array per SYN made a 2M-SYN flood cost 1.5 GiB with --out). A SYN, SYN-ACK, a
 * retransmission and the ACK fit; a packet that does not makes the analyzer allocate the flow's
 * tracker first (as for payload), which keeps it. When the tracker takes over, the packets are
 * copied into its list.
 *
 *   entry = f64 tsUs | u32 tsSec | u32 tsNsec | u32 origLen | u32 seq | u32 ack | u16 caplen |
 *           u16 linkType | u8 flags | u8 fromClient | pad to 40 | packet bytes | pad to 8
 */
export class PreTlsKept {
  #buf: Uint8Array;
  #f64: Float64Array;
  #u32: Uint32Array;
  #u16: Uint16Array;
  #meta: Uint16Array;
  #cap: number;

  constructor(capacity: number) {
    this.#cap = 0;
    this.#buf = new Uint8Array(0);
    this.#f64 = new Float64Array(0);
    this.#u32 = new Uint32Array(0);
    this.#u16 = new Uint16Array(0);
    this.#meta = new Uint16Array(0);
    this.grow(capacity);
  }

  get capacity(): number {
    return this.#cap;
  }

  grow(capacity: number): void {
    if (capacity <= this.#cap) return;
    const buf = new Uint8Array(capacity * PRE_KEPT_BYTES);
    buf.set(this.#buf);
    const meta = new Uint16Array(capacity * 4);
    meta.set(this.#meta);
    this.#buf = buf;
    this.#f64 = new Float64Array(buf.buffer);
    this.#u32 = new Uint32Array(buf.buffer);
    this.#u16 = new Uint16Array(buf.buffer);
    this.#meta = meta;
    this.#cap = capacity;
  }

  /** Opens the area of a new flow; `keep` false: this flow's packets are not wanted. */
  start(slot: number, keep: boolean): void {
    const m = slot * 4;
    this.#meta[m + M_USED] = 0;
    this.#meta[m + M_COUNT] = 0;
    this.#meta[m + M_KEEP] = keep ? 1 : 0;
  }

  keeps(slot: number): boolean {
    return this.#meta[slot * 4 + M_KEEP] === 1;
  }

  /** Whether `p` fits the flow's area. */
  fits(slot: number, p: DecodedPacket): boolean {
    return this.#meta[slot * 4 + M_USED]! + KEPT_HEADER + ((p.caplen + 7) & ~7) <= PRE_KEPT_BYTES;
  }

  /** Copies `p` into the flow's area (the caller checked `fits`). */
  add(slot: number, p: DecodedPacket, fromClient: boolean): void {
    const m = slot * 4, meta = this.#meta;
    const used = meta[m + M_USED]!;
    const size = KEPT_HEADER + ((p.caplen + 7) & ~7);
    const o = slot * PRE_KEPT_BYTES + used;
    this.#f64[o >>> 3] = p.tsUs;
    const w = o >>> 2;
    const u32 = this.#u32;
    u32[w + 2] = p.tsSec;
    u32[w + 3] = p.tsNsec;
    u32[w + 4] = p.origLen;
    u32[w + 5] = p.seq;
    u32[w + 6] = p.ack;
    this.#u16[(o >>> 1) + 14] = p.caplen;
    this.#u16[(o >>> 1) + 15] = p.linkType;
    this.#buf[o + 32] = p.flags;
    this.#buf[o + 33] = fromClient ? 1 : 0;
    this.#buf.set(p.buf.subarray(p.off, p.off + p.caplen), o + KEPT_HEADER);
    meta[m + M_USED] = used + size;
    meta[m + M_COUNT]!++;
  }

  /** The flow's kept packets, oldest first, appended to `out`. */
  moveTo(slot: number, out: KeptPacket[]): void {
    const m = slot * 4, meta = this.#meta;
    let o = slot * PRE_KEPT_BYTES;
    for (let i = 0; i < meta[m + M_COUNT]!; i++) {
      const w = o >>> 2;
      const caplen = this.#u16[(o >>> 1) + 14]!;
      out.push({
        tsSec: this.#u32[w + 2]!, tsNsec: this.#u32[w + 3]!, tsUs: this.#f64[o >>> 3]!, origLen: this.#u32[w + 4]!,
        linkType: this.#u16[(o >>> 1) + 15]!, fromClient: this.#buf[o + 33] === 1,
        data: this.#buf.slice(o + KEPT_HEADER, o + KEPT_HEADER + caplen),
        flags: this.#buf[o + 32]!, seq: this.#u32[w + 5]!, ack: this.#u32[w + 6]!, payloadLen: 0,
      });
      o += KEPT_HEADER + ((caplen + 7) & ~7);
    }
    meta[m + M_COUNT] = 0;
    meta[m + M_USED] = 0;
  }
}
