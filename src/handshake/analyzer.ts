/**
 * Analysis stage entry (a PacketSink): decode → flow table → handshake tracker → record.
 *
 * 1. Decode each packet into the shared DecodedPacket; malformed or non-TCP packets are counted.
 * 2. Look the flow up by canonical 5-tuple. A new entry is made only for a SYN, a SYN-ACK, or a
 *    segment whose payload starts a ClientHello/ServerHello record; anything else is untracked.
 * 3. TRACKING flows feed their HandshakeTracker. Non-TLS flows and finished handshakes become
 *    PASSIVE: their later packets cost one lookup. FIN/RST or idleness removes them, so memory
 *    follows the number of concurrent handshakes, not the file size.
 * 4. A record is emitted when the handshake is done (after a short tail of packets when per-flow
 *    pcaps are wanted), when the flow closes or idles out first, or at the end of input.
 */
import { decodePacket } from '../decode/dispatch.js';
import { Status, copyBytes } from '../decode/reader.js';
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet.js';
import { FlowTable, SLOT_PASSIVE, SLOT_PASSIVE_FIN_A, SLOT_PASSIVE_FIN_B, SLOT_TRACKING } from '../flow/flow-table.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import { formatEndpoint } from './addr.js';
import { buildRecord, type FlowRecord } from './record.js';
import { HandshakeTracker, TLS_NO } from './tracker.js';

const SWEEP_EVERY_SEC = 5;
/** A flow with no packet for this long (capture time) is finished or forgotten. */
const IDLE_SEC = 60;
/** After `done`, packets kept for the per-flow pcap: this many, or this long, or until FIN/RST. */
const TAIL_PACKETS = 10;
const TAIL_US = 1_000_000;

export interface AnalyzerOptions {
  slowMs: number;
  /** Keep every tracked flow's packets (for --out). */
  keepPackets: boolean;
  /** Keep packets only of flows with this endpoint ("ip:port", either side), for --ladder. */
  flowFilter: string | null;
  onRecord: (rec: FlowRecord, t: HandshakeTracker) => void;
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
}

interface Entry {
  t: HandshakeTracker;
  clientIsA: boolean;
  emitted: boolean;
  tailLeft: number;
}

export class Analyzer {
  readonly anomalies = new AnomalyCounters();
  readonly table: FlowTable<Entry>;
  readonly stats: AnalyzerStats = {
    packets: 0, bytes: 0, tcpPackets: 0, untrackedSegments: 0, flowsTracked: 0, tlsFlows: 0, nonTlsFlows: 0, idleEvicted: 0, records: 0,
  };
  #nextSweep = 0;
  #nowSec = 0;

  constructor(readonly opts: AnalyzerOptions) {
    this.table = new FlowTable<Entry>(1 << 14, 1 << 22, this.anomalies);
  }

  onPacket(p: DecodedPacket): void {
    const st = this.stats;
    st.packets++;
    st.bytes += p.origLen;
    if (p.tsSec > this.#nowSec) {
      this.#nowSec = p.tsSec;
      if (p.tsSec >= this.#nextSweep) this.#sweep(p.tsSec);
    }
    if (decodePacket(p, this.anomalies) !== Status.OK) return;
    st.tcpPackets++;
    const table = this.table;
    let slot = table.lookup(p);
    if (slot >= 0 && table.state[slot]! >= SLOT_PASSIVE) {
      table.lastSeen[slot] = p.tsSec;
      if ((p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN) {
        table.remove(slot); // a new connection reuses the 4-tuple
        slot = -1;
      } else {
        if (p.flags & (TCP_FIN | TCP_RST)) this.#closing(slot, p.flags);
        return;
      }
    }
    if (slot < 0) {
      slot = this.#create(p);
      if (slot < 0) return;
    }
    const e = table.values[slot]!;
    table.lastSeen[slot] = p.tsSec;
    const t = e.t;
    const fromClient = table.fromA === e.clientIsA;
    if (fromClient && (p.flags & (TCP_SYN | TCP_ACK)) === TCP_SYN && t.cli.isn >= 0 && p.seq !== t.cli.isn && t.packets > 2) {
      // New ISN on a tracked tuple: the old connection is over.
      this.#finish(slot, e);
      table.remove(slot);
      slot = this.#create(p);
      if (slot < 0) return;
      return this.onPacket2(slot, p);
    }
    t.onPacket(p, fromClient);
    this.#after(slot, e, p);
  }

  /** Second half of onPacket for a freshly re-created slot (kept separate so the hot path has no loop). */
  private onPacket2(slot: number, p: DecodedPacket): void {
    const e = this.table.values[slot]!;
    e.t.onPacket(p, this.table.fromA === e.clientIsA);
    this.#after(slot, e, p);
  }

  #after(slot: number, e: Entry, p: DecodedPacket): void {
    const t = e.t;
    if (t.tls === TLS_NO) {
      this.stats.nonTlsFlows++;
      this.#toPassive(slot, p);
      return;
    }
    if (t.done) {
      if (e.tailLeft < 0) e.tailLeft = t.kept !== null ? TAIL_PACKETS : 0;
      else e.tailLeft--;
      if (e.tailLeft <= 0 || p.flags & (TCP_FIN | TCP_RST) || p.tsUs - t.timeline[12]! > TAIL_US) {
        this.#finish(slot, e);
        this.#toPassive(slot, p);
      }
    } else if (t.closed) {
      this.#finish(slot, e);
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
    let srcIsClient: boolean;
    if (f & TCP_SYN) srcIsClient = !(f & TCP_ACK);
    else if (p.payloadLen > 0) {
      const b = p.buf, o = p.payloadOff;
      if (p.payloadAvail >= 6 && b[o] === 22 && b[o + 1] === 3 && (b[o + 5] === 1 || b[o + 5] === 2)) srcIsClient = b[o + 5] === 1;
      else {
        // Mid-stream data that does not start a TLS hello: remember the flow as passive.
        this.stats.nonTlsFlows++;
        this.table.insert(SLOT_PASSIVE, null, p.tsSec);
        return -1;
      }
    } else {
      this.stats.untrackedSegments++;
      return -1;
    }
    const alen = p.ipVersion === 6 ? 16 : 4;
    const src = copyBytes(p.buf, p.srcAddrOff, p.srcAddrOff + alen);
    const dst = copyBytes(p.buf, p.dstAddrOff, p.dstAddrOff + alen);
    const t = srcIsClient
      ? new HandshakeTracker(p.ipVersion, src, dst, p.srcPort, p.dstPort, this.anomalies)
      : new HandshakeTracker(p.ipVersion, dst, src, p.dstPort, p.srcPort, this.anomalies);
    if (this.opts.keepPackets) t.kept = [];
    else if (this.opts.flowFilter !== null) {
      const ff = this.opts.flowFilter;
      if (formatEndpoint(t.clientAddr, t.clientPort) === ff || formatEndpoint(t.serverAddr, t.serverPort) === ff) t.kept = [];
    }
    const e: Entry = { t, clientIsA: this.table.fromA === srcIsClient, emitted: false, tailLeft: -1 };
    const slot = this.table.insert(SLOT_TRACKING, e, p.tsSec);
    if (slot >= 0) this.stats.flowsTracked++;
    return slot;
  }

  #finish(slot: number, e: Entry): void {
    if (e.emitted) return;
    e.emitted = true;
    const t = e.t;
    if (t.tls === TLS_NO || (t.timeline[3]! < 0 && t.timeline[8]! < 0)) {
      // Never showed a TLS hello (e.g. only a SYN was seen): not a TLS flow.
      t.release();
      return;
    }
    this.stats.tlsFlows++;
    this.stats.records++;
    const rec = buildRecord(t, this.opts.slowMs);
    t.release();
    this.opts.onRecord(rec, t);
    void slot;
  }

  #sweep(nowSec: number): void {
    this.#nextSweep = nowSec + SWEEP_EVERY_SEC;
    const table = this.table;
    const cap = table.capacity;
    for (let s = 0; s < cap; s++) {
      const state = table.state[s];
      if (state === 0) continue;
      const idle = nowSec - table.lastSeen[s]!;
      if (state! >= SLOT_PASSIVE) {
        if (idle > IDLE_SEC) { table.remove(s); this.stats.idleEvicted++; }
        continue;
      }
      const e = table.values[s]!;
      if (idle > IDLE_SEC) {
        this.#finish(s, e);
        table.remove(s);
        this.stats.idleEvicted++;
      } else if (e.t.done && (nowSec * 1e6 - e.t.timeline[12]!) > TAIL_US) {
        this.#finish(s, e);
        table.state[s] = SLOT_PASSIVE;
        table.values[s] = null;
      }
    }
  }

  /** End of input: every handshake still open gets its (possibly incomplete) record. */
  finish(): void {
    const table = this.table;
    for (let s = 0; s < table.capacity; s++) {
      if (table.state[s] !== SLOT_TRACKING) continue;
      this.#finish(s, table.values[s]!);
      table.state[s] = SLOT_PASSIVE;
      table.values[s] = null;
    }
  }
}
