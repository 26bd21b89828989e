/**
 * Analysis stage entry (a PacketSink): decode → flow table → handshake tracker → record.
 *
 * 1. Decode each packet into the shared DecodedPacket; malformed or non-TCP packets are counted.
 * 2. Look the flow up by canonical 5-tuple. A new entry is made only for a SYN, a SYN-ACK, or a
 *    segment whose payload starts a ClientHello/ServerHello record; anything else is untracked.
 * 3. A flow that has shown no payload yet (a SYN, SYN-ACK, ACK, RST …) is PRE_TLS: its TCP state
 *    is a 72-byte row of fixed-size arrays (pre-tls.ts), and its kept packets (--out) wait in one
 *    fixed area shared by all such flows, so a flood of packets without payload allocates no
 *    object per flow or packet. The first payload allocates the HandshakeTracker, which takes the
 *    row (and the kept packets still there) over and gets the packet.
 * 4. TRACKING flows feed their HandshakeTracker. Non-TLS flows and finished handshakes become
 *    PASSIVE: their later packets cost one lookup. FIN/RST or idleness removes them, so memory
 *    follows the number of concurrent handshakes, not the file size.
 * 5. At most `maxFlows` flows are tracked at once (every state counts). A new flow beyond that
 *    evicts the oldest one (counted in `flowsEvicted`); an evicted handshake still gets its
 *    record, marked incomplete with a note, so nothing is lost silently.
 * 6. A record is emitted when the handshake is done (after a short tail of packets when per-flow
 *    pcaps are wanted), when the flow closes or idles out first, when it is evicted, or at the
 *    end of input.
 * 7. Every record has an order key (`keyPos`, `keySub`, set while `onRecord` runs): records of a
 *    packet's own flow come at that packet's place; records a sweep or the end of input emits
 *    come in the order their flows got a tracker. So the records of a run split by flow hash
 *    (analyze --threads) merge back into exactly the single run's order (issue 13).
 */
import { decodePacket } from '../decode/dispatch.js';
import { Status, copyBytes } from '../decode/reader.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet.js';
import { FlowTable, SLOT_PASSIVE, SLOT_PASSIVE_FIN_A, SLOT_PASSIVE_FIN_B, SLOT_PRE_TLS, SLOT_TRACKING } from '../flow/flow-table.js';
import { Anomaly, AnomalyCounters } from '../telemetry/anomalies.js';
import { formatEndpoint } from './addr.js';
import { PRE_CLOSE, PRE_OK, PRE_PROMOTE, PRE_STALE, PRE_KEPT_AREA_BYTES, PreTlsKept, PreTlsTable } from './pre-tls.js';
import { buildRecord, type FlowRecord } from './record.js';
import { HandshakeTracker, TLS_NO } from './tracker.js';
import { T } from './timeline.js';

const SWEEP_EVERY_SEC = 5;
/** A flow with no packet for this long (capture time) is finished or forgotten. */
const IDLE_SEC = 60;
/** After `done`, packets kept for the per-flow pcap: this many, or this long, or until FIN/RST. */
const TAIL_PACKETS = 10;
const TAIL_US = 1_000_000;
/**
 * Default bound on flows tracked at once. A flow costs ~153 bytes of fixed arrays (flow table
 * 81, pre-payload row 72) until it shows payload: 2^19 flows are ~77 MiB, and half as much again
 * while the arrays double. Measured with scripts/bench-synflood (2M SYNs from distinct sources,
 * each answered by a SYN-ACK, 2000 real handshakes): 181 MiB peak RSS, 182 MiB with each flood
 * client also sending an ACK with a random number (--ack-flood); 2^20 would pass 200 MiB, and the
 * code before this bound was killed at 5.5 GiB. An edge needs one entry per connection that
 * is in its handshake or open and active in the last minute (finished flows stay as passive
 * entries until FIN/RST or 60 s of silence).
 */
export const DEFAULT_MAX_FLOWS = 1 << 19;
/**
 * The default bound when packets are kept (analyze --out, --flow): a flow costs 11 bytes more,
 * and the packets of flows without payload wait in one area of PRE_KEPT_AREA_BYTES (pre-tls.ts
 * PreTlsKept). Measured like DEFAULT_MAX_FLOWS with --out: 176 MiB peak RSS at 2^18 flows,
 * 236 MiB at 2^19 (--ack-flood); --flow --ladder at 2^19: 203 MiB. Under a 100k SYN/s flood, 2^18
 * flows still reach 2.6 s back.
 */
export const DEFAULT_MAX_FLOWS_KEPT = 1 << 18;

/**
 * Recent IPv4 addresses as 4-byte arrays, direct-mapped by the address: trackers of the same
 * server (or client) share one array instead of a copy each (issue 13: a small Uint8Array is
 * ~200 bytes, two per handshake). Tracker addresses are read-only.
 */
const INTERN_SIZE = 1024;
const internWord = new Float64Array(INTERN_SIZE).fill(-1);
const internAddr: Uint8Array[] = new Array<Uint8Array>(INTERN_SIZE).fill(new Uint8Array(4));

function internV4(buf: Uint8Array, off: number): Uint8Array {
  const w = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
  const i = Math.imul(w, 0x9e3779b1) >>> 22; // top 10 bits
  if (internWord[i] === w) return internAddr[i]!;
  const a = copyBytes(buf, off, off + 4);
  internWord[i] = w;
  internAddr[i] = a;
  return a;
}

export interface AnalyzerOptions {
  slowMs: number;
  /** Keep every tracked flow's packets (for --out). */
  keepPackets: boolean;
  /** Keep packets only of flows with this endpoint ("ip:port", either side), for --ladder. */
  flowFilter: string | null;
  onRecord: (rec: FlowRecord, t: HandshakeTracker) => void;
  /** A flow whose first payload is not TLS: it makes no record (live: the kernel filter lets it go). */
  onNotTls?: (t: HandshakeTracker) => void;
  /**
   * Flows tracked at once at most (handshakes, connections before their first payload, and
   * finished flows remembered until they close); beyond it the oldest is evicted and counted.
   * Default DEFAULT_MAX_FLOWS, or DEFAULT_MAX_FLOWS_KEPT when packets are kept (`keepPackets` or `flowFilter`).
   */
  maxFlows?: number;
  /**
   * Bytes of the area shared by the kept packets of flows without payload, reused oldest first
   * (default PRE_KEPT_AREA_BYTES; only allocated when packets are kept).
   */
  keptAreaBytes?: number;
  /**
   * One of the analyzers of analyze --threads, each given the packets of its share of the flows
   * (cli/analyze-share.ts; `skipPacket` gets every other one, so the clock and the packet/byte
   * counts are the single run's, and `keptAreaBytes` is its part of the area): the first time a
   * new flow finds this many flows of the share already tracked,
   * `unsafeAt` records the packet's index. Until then the sum over the shares stayed below
   * `maxFlows`, so no single run would have evicted a flow. (The kept-packet area is shared the
   * same way: see keptAreaWrapped.)
   */
  shareFlowLimit?: number;
}

export interface AnalyzerStats {
  packets: number;
  bytes: number;
  tcpPackets: number;
  untrackedSegments: number;
  flowsTracked: number;
  tlsFlows: number;
  nonTlsFlows: number;
  idleEvicted: number;
  records: number;
  /** Flows evicted (oldest first) because `maxFlows` flows were tracked when a new one came. */
  flowsEvicted: number;
  /** Of those, handshakes in progress: each still produced its record, marked incomplete. */
  evictedHandshakes: number;
  /** Handshake trackers allocated: flows that showed payload (SYN-only flows never get one). */
  trackers: number;
  /** Records whose flow reached the kept-packet limit (MAX_KEPT_PACKETS), and packets not kept. */
  keptCapFlows: number;
  keptPacketsDropped: number;
  /**
   * Records missing packets from before their flow's first payload in their kept packets (the
   * area shared by flows without payload was reused by newer flows), and how many packets.
   */
  keptLostEarlyFlows: number;
  keptPacketsLostEarly: number;
}

interface Entry {
  t: HandshakeTracker;
  /** Index of the packet that made the tracker (orders records emitted by sweeps and the end). */
  seq: number;
  clientIsA: boolean;
  emitted: boolean;
  tailLeft: number;
}

export class Analyzer {
  readonly anomalies = new AnomalyCounters();
  readonly table: FlowTable<Entry>;
  readonly stats: AnalyzerStats = {
    packets: 0, bytes: 0, tcpPackets: 0, untrackedSegments: 0, flowsTracked: 0, tlsFlows: 0, nonTlsFlows: 0, idleEvicted: 0, records: 0,
    flowsEvicted: 0, evictedHandshakes: 0, trackers: 0, keptCapFlows: 0, keptPacketsDropped: 0, keptLostEarlyFlows: 0, keptPacketsLostEarly: 0,
  };
  readonly maxFlows: number;
  #nextSweep = 0;
  #nowSec = 0;
  /** Pre-payload rows, by slot (allocated with the first such flow, grown with the table). */
  #pre: PreTlsTable | null = null;
  /** Kept packets of pre-payload flows, by slot; only when packets are kept at all. */
  #preKept: PreTlsKept | null = null;
  readonly #keeping: boolean;
  readonly #keptAreaBytes: number;
  /**
   * Order key of the record being emitted (see 7. above): 2 × packet index + 1 for the packet's
   * own flow (keySub 0); 2 × packet index for a sweep before that packet, or 2 × packets at the
   * end, with keySub the flow's tracker seq.
   */
  keyPos = 0;
  keySub = 0;
  /** Index of the packet that found `shareFlowLimit` flows tracked, or -1. */
  unsafeAt = -1;

  /**
   * With `shareFlowLimit`: whether this share's part of the kept-packet area has been reused.
   * Until then the single run's whole area would not have been either.
   */
  get keptAreaWrapped(): boolean {
    return this.#preKept !== null && this.#preKept.written > this.#preKept.areaBytes;
  }
  readonly #shareLimit: number;
  /** A sweep (or the end) is emitting: keyPos is its position, keySub each flow's seq. */
  #sweeping = false;
  #sweepPos = 0;
  /** Trackers a sweep or the end finishes, put in seq order first. */
  readonly #due: Entry[] = [];

  constructor(readonly opts: AnalyzerOptions) {
    this.#keeping = opts.keepPackets || opts.flowFilter !== null;
    const max = opts.maxFlows ?? (this.#keeping ? DEFAULT_MAX_FLOWS_KEPT : DEFAULT_MAX_FLOWS);
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`analyzer: maxFlows must be a positive integer, got ${max}`);
    this.maxFlows = max;
    this.table = new FlowTable<Entry>(1 << 14, max, this.anomalies);
    this.#keptAreaBytes = opts.keptAreaBytes ?? PRE_KEPT_AREA_BYTES;
    this.#shareLimit = opts.shareFlowLimit ?? Infinity;
  }

  onPacket(p: DecodedPacket): void {
    const st = this.stats;
    st.packets++;
    st.bytes += p.origLen;
    if (p.tsSec > this.#nowSec) {
      this.#nowSec = p.tsSec;
      if (p.tsSec >= this.#nextSweep) this.#sweep(p.tsSec, 2 * st.packets - 2);
    }
    if (decodePacket(p, this.anomalies) !== Status.OK) return;
    st.tcpPackets++;
    const table = this.table;
    let slot = table.lookup(p);
    if (slot >= 0) {
      const state = table.state[slot]!;
      if (state >= SLOT_PASSIVE) {
        table.lastSeen[slot] = p.tsSec;
        if ((p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
          table.remove(slot); // a new connection reuses the 4-tuple
          slot = -1;
        } else {
          if (p.flags & (TCP_FIN | TCP_RST)) this.#closing(slot, p.flags);
          return;
        }
      } else if (state === SLOT_PRE_TLS) {
        table.lastSeen[slot] = p.tsSec;
        return this.#preTls(slot, p);
      }
    }
    if (slot < 0) {
      slot = this.#create(p);
      if (slot < 0) return;
      if (table.state[slot] === SLOT_PRE_TLS) return this.#preTls(slot, p);
    }
    const e = table.values[slot]!;
    table.lastSeen[slot] = p.tsSec;
    const t = e.t;
    const fromClient = table.fromA === e.clientIsA;
    if (fromClient && (p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && t.cli.isn >= 0 && p.seq !== t.cli.isn && t.packets > 2) {
      // New ISN on a tracked tuple: the old connection is over.
      this.#finish(e);
      table.remove(slot);
      slot = this.#create(p);
      if (slot < 0) return;
      return this.onPacket2(slot, p);
    }
    t.onPacket(p, fromClient);
    this.#after(slot, e, p);
  }

  /** A packet of another share (see AnalyzerOptions.shareFlowLimit): it only counts and moves the clock, as in onPacket. */
  skipPacket(tsSec: number, origLen: number): void {
    const st = this.stats;
    st.packets++;
    st.bytes += origLen;
    if (tsSec > this.#nowSec) {
      this.#nowSec = tsSec;
      if (tsSec >= this.#nextSweep) this.#sweep(tsSec, 2 * st.packets - 2);
    }
  }

  /** Second half of onPacket for a freshly re-created slot (kept separate so the hot path has no loop). */
  private onPacket2(slot: number, p: DecodedPacket): void {
    if (this.table.state[slot] === SLOT_PRE_TLS) return this.#preTls(slot, p);
    const e = this.table.values[slot]!;
    e.t.onPacket(p, this.table.fromA === e.clientIsA);
    this.#after(slot, e, p);
  }

  /** A packet of a flow that has shown no payload yet (see pre-tls.ts). */
  #preTls(slot: number, p: DecodedPacket): void {
    const pre = this.#pre!;
    const table = this.table;
    const clientIsA = pre.clientIsA(slot);
    const fromClient = table.fromA === clientIsA;
    const r = pre.onPacket(slot, p, fromClient);
    if (r === PRE_OK) {
      const kept = this.#preKept;
      if (kept !== null && kept.keeps(slot)) kept.add(slot, p, fromClient);
      return;
    }
    if (r === PRE_CLOSE) return this.#toPassive(slot, p);
    if (r !== PRE_PROMOTE) {
      // PRE_RESTART: a new ISN on the tuple; PRE_STALE: a packet the row cannot time. The old
      // connection never showed TLS and makes no record; the packet may start a new flow.
      if (r === PRE_STALE) this.anomalies.bump(Anomaly.PRE_TLS_TIME_JUMP);
      table.remove(slot);
      const s = this.#create(p);
      if (s >= 0) this.onPacket2(s, p);
      return;
    }
    // PRE_PROMOTE: the tracker takes the row over, then sees this packet itself.
    const t = this.#tracker(p, fromClient);
    pre.resume(slot, t);
    if (t.kept !== null) this.#preKept!.moveTo(slot, t);
    const e: Entry = { t, seq: this.stats.packets - 1, clientIsA, emitted: false, tailLeft: -1 };
    table.state[slot] = SLOT_TRACKING;
    table.values[slot] = e;
    t.onPacket(p, fromClient);
    this.#after(slot, e, p);
  }

  /** A tracker for the flow of `p`, oriented by whether `p` came from the client. */
  #tracker(p: DecodedPacket, srcIsClient: boolean): HandshakeTracker {
    this.stats.trackers++;
    const alen = p.ipVersion === 6 ? 16 : 4;
    const src = alen === 4 ? internV4(p.buf, p.srcAddrOff) : copyBytes(p.buf, p.srcAddrOff, p.srcAddrOff + alen);
    const dst = alen === 4 ? internV4(p.buf, p.dstAddrOff) : copyBytes(p.buf, p.dstAddrOff, p.dstAddrOff + alen);
    const t = srcIsClient
      ? new HandshakeTracker(p.ipVersion, src, dst, p.srcPort, p.dstPort, this.anomalies)
      : new HandshakeTracker(p.ipVersion, dst, src, p.dstPort, p.srcPort, this.anomalies);
    if (this.#keeps(t.clientAddr, t.clientPort, t.serverAddr, t.serverPort)) t.kept = [];
    return t;
  }

  /** Whether the packets of this flow are kept (all of them for --out; one endpoint's for --flow). */
  #keeps(clientAddr: Uint8Array, clientPort: number, serverAddr: Uint8Array, serverPort: number): boolean {
    if (this.opts.keepPackets) return true;
    const ff = this.opts.flowFilter;
    return ff !== null && (formatEndpoint(clientAddr, clientPort) === ff || formatEndpoint(serverAddr, serverPort) === ff);
  }

  #after(slot: number, e: Entry, p: DecodedPacket): void {
    const t = e.t;
    if (t.tls === TLS_NO) {
      this.stats.nonTlsFlows++;
      this.opts.onNotTls?.(t);
      this.#toPassive(slot, p);
      return;
    }
    if (t.done) {
      if (e.tailLeft < 0) e.tailLeft = t.kept !== null ? TAIL_PACKETS : 0;
      else e.tailLeft--;
      if (e.tailLeft <= 0 || p.flags & (TCP_FIN | TCP_RST) || p.tsUs - t.timeline[T.DONE]! > TAIL_US) {
        this.#finish(e);
        this.#toPassive(slot, p);
      }
    } else if (t.closed) {
      this.#finish(e);
      this.#toPassive(slot, p);
    }
  }

  #toPassive(slot: number, p: DecodedPacket): void {
    const table = this.table;
    table.state[slot] = SLOT_PASSIVE;
    table.values[slot] = null;
    if (p.flags & (TCP_FIN | TCP_RST)) this.#closing(slot, p.flags);
  }

  /** FIN/RST on a passive flow: RST or the second side's FIN removes it; a first FIN is remembered. */
  #closing(slot: number, flags: number): void {
    const table = this.table;
    if (flags & TCP_RST) return table.remove(slot);
    const fin = table.fromA ? SLOT_PASSIVE_FIN_A : SLOT_PASSIVE_FIN_B;
    const state = table.state[slot];
    if (state === SLOT_PASSIVE) table.state[slot] = fin;
    else if (state !== fin) table.remove(slot);
  }

  #create(p: DecodedPacket): number {
    const f = p.flags;
    const table = this.table;
    let srcIsClient: boolean;
    if (f & TCP_SYN) srcIsClient = !(f & TCP_ACK);
    else if (p.payloadLen > 0) {
      const b = p.buf, o = p.payloadOff;
      if (p.payloadAvail >= 6 && b[o] === 22 && b[o + 1] === 3 && (b[o + 5] === 1 || b[o + 5] === 2)) srcIsClient = b[o + 5] === 1;
      else {
        // Mid-stream data that does not start a TLS hello: remember the flow as passive.
        this.stats.nonTlsFlows++;
        if (table.size >= this.#shareLimit && this.unsafeAt < 0) this.unsafeAt = this.stats.packets - 1;
        if (table.full) this.#evictOldest();
        table.insert(SLOT_PASSIVE, null, p.tsSec);
        return -1;
      }
    } else {
      this.stats.untrackedSegments++;
      return -1;
    }
    if (table.size >= this.#shareLimit && this.unsafeAt < 0) this.unsafeAt = this.stats.packets - 1;
    if (table.full) this.#evictOldest();
    const clientIsA = table.fromA === srcIsClient;
    if (p.payloadLen === 0) {
      // A SYN or SYN-ACK: a pre-payload row, no tracker (the caller feeds it the packet).
      const slot = table.insert(SLOT_PRE_TLS, null, p.tsSec);
      if (slot < 0) return -1;
      this.stats.flowsTracked++;
      let pre = this.#pre;
      if (pre === null) pre = this.#pre = new PreTlsTable(table.capacity);
      else if (slot >= pre.capacity) pre.grow(table.capacity);
      pre.start(slot, p.tsUs, clientIsA);
      if (this.#keeping) {
        let kept = this.#preKept;
        if (kept === null) kept = this.#preKept = new PreTlsKept(table.capacity, this.#keptAreaBytes);
        else if (slot >= kept.capacity) kept.grow(table.capacity);
        kept.start(slot, this.#keepsPre(p, srcIsClient));
      }
      return slot;
    }
    const t = this.#tracker(p, srcIsClient);
    // A flow first seen mid-connection after evictions may have lost its start to one.
    if (!(f & TCP_SYN) && this.stats.flowsEvicted > 0) t.startMayBeEvicted = true;
    const e: Entry = { t, seq: this.stats.packets - 1, clientIsA, emitted: false, tailLeft: -1 };
    const slot = table.insert(SLOT_TRACKING, e, p.tsSec);
    if (slot >= 0) this.stats.flowsTracked++;
    return slot;
  }

  /** #keeps for a flow without a tracker yet, from its first packet. */
  #keepsPre(p: DecodedPacket, srcIsClient: boolean): boolean {
    if (this.opts.keepPackets) return true;
    const alen = p.ipVersion === 6 ? 16 : 4;
    const src = p.buf.subarray(p.srcAddrOff, p.srcAddrOff + alen), dst = p.buf.subarray(p.dstAddrOff, p.dstAddrOff + alen);
    return srcIsClient ? this.#keeps(src, p.srcPort, dst, p.dstPort) : this.#keeps(dst, p.dstPort, src, p.srcPort);
  }

  /**
   * Makes room for one flow: the oldest is removed. A handshake in progress gets its record now,
   * noted as evicted; a flow without payload or a passive one only needs the count.
   */
  #evictOldest(): void {
    const table = this.table;
    const s = table.oldest;
    if (s < 0) return;
    this.stats.flowsEvicted++;
    const state = table.state[s];
    if (state === SLOT_TRACKING) {
      const e = table.values[s]!;
      if (!e.emitted) e.t.evictedAt = this.maxFlows;
      if (this.#finish(e)) this.stats.evictedHandshakes++;
    }
    table.remove(s);
  }

  /** Emits the flow's record unless it has one or never showed TLS; true when one was emitted. */
  #finish(e: Entry): boolean {
    if (e.emitted) return false;
    e.emitted = true;
    const t = e.t;
    if (t.tls === TLS_NO || (t.timeline[T.CLIENT_HELLO]! < 0 && t.timeline[T.SERVER_HELLO]! < 0)) {
      // Never showed a TLS hello (e.g. only a SYN was seen): not a TLS flow.
      t.release();
      return false;
    }
    const st = this.stats;
    st.tlsFlows++;
    st.records++;
    if (t.keptDropped > 0) {
      st.keptCapFlows++;
      st.keptPacketsDropped += t.keptDropped;
    }
    if (t.keptLostEarly > 0) {
      st.keptLostEarlyFlows++;
      st.keptPacketsLostEarly += t.keptLostEarly;
    }
    const rec = buildRecord(t, this.opts.slowMs);
    t.release();
    if (this.#sweeping) { this.keyPos = this.#sweepPos; this.keySub = e.seq; }
    else { this.keyPos = 2 * this.stats.packets - 1; this.keySub = 0; }
    this.opts.onRecord(rec, t);
    return true;
  }

  /** `pos`: the records' order key (2 × the index of the packet the sweep comes before). */
  #sweep(nowSec: number, pos: number): void {
    this.#nextSweep = nowSec + SWEEP_EVERY_SEC;
    const table = this.table;
    const cap = table.capacity;
    const due = this.#due;
    for (let s = 0; s < cap; s++) {
      const state = table.state[s];
      if (state === 0) continue;
      const idle = nowSec - table.lastSeen[s]!;
      if (state !== SLOT_TRACKING) { // passive, or without payload yet: nothing to emit
        if (idle > IDLE_SEC) { table.remove(s); this.stats.idleEvicted++; }
        continue;
      }
      const e = table.values[s]!;
      if (idle > IDLE_SEC) {
        due.push(e);
        table.remove(s);
        this.stats.idleEvicted++;
      } else if (e.t.done && (nowSec * 1e6 - e.t.timeline[T.DONE]!) > TAIL_US) {
        due.push(e);
        table.state[s] = SLOT_PASSIVE;
        table.values[s] = null;
      }
    }
    this.#finishDue(pos);
  }

  /** Emits the records of `#due` in tracker order (slot order depends on the table's history). */
  #finishDue(pos: number): void {
    const due = this.#due;
    if (due.length === 0) return;
    if (due.length > 1) due.sort((a, b) => a.seq - b.seq);
    this.#sweeping = true;
    this.#sweepPos = pos;
    try {
      for (const e of due) this.#finish(e);
    } finally {
      this.#sweeping = false;
      due.length = 0;
    }
  }

  /**
   * Wall-clock tick for a live engine (seconds since the epoch): a quiet capture brings no packets
   * to move the analyzer's clock, so a finished handshake waiting for its tail, or an idle flow,
   * would wait for the next packet to end. The clock only moves forward; packet times stay
   * authoritative while traffic flows.
   */
  tick(nowSec: number): void {
    if (nowSec <= this.#nowSec) return;
    this.#nowSec = nowSec;
    if (nowSec >= this.#nextSweep) this.#sweep(nowSec, 2 * this.stats.packets);
  }

  /** End of input: every handshake still open gets its (possibly incomplete) record. */
  finish(): void {
    const table = this.table;
    for (let s = 0; s < table.capacity; s++) {
      if (table.state[s] !== SLOT_TRACKING) continue;
      this.#due.push(table.values[s]!);
      table.state[s] = SLOT_PASSIVE;
      table.values[s] = null;
    }
    this.#finishDue(2 * this.stats.packets);
  }
}
