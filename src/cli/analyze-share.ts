/**
 * Which worker of `analyze --threads N` owns a packet (analyze-worker.ts), found from its headers
 * alone: every worker walks every packet of the file and fully decodes only its own.
 *
 * 1. The owner must be the same for every packet of a flow as the analyzer's flow table sees it
 *    (the TCP 5-tuple its decoders find, both directions alike), and the same in every worker
 *    (a pure function of the packet bytes). A packet the decoders would reject may go to any
 *    worker: that one decodes it and counts its anomaly, the others only move their clock.
 * 2. Fast path: Ethernet without VLAN tags, IPv4, TCP, not a later fragment, the ports captured:
 *    the flow hash from the header words (flowHashV4, as the flow table's key). Anything else
 *    takes the decoders' own link and IP walk (src/decode, anomalies into a scratch counter).
 * 3. The owner comes from the hash's top 16 bits: the flow table buckets by its low bits, so a
 *    share of `hash % N` would leave part of every share's buckets empty.
 * 4. ShareAnalysis: one share's Analyzer behind the sink the file reader feeds, and the batches
 *    of records (with their order keys and the frontier) it hands the merge every CHECKPOINT
 *    packets. The main thread runs share 0 itself, each worker thread one other share.
 */
import type { DecodedPacket } from '../decode/packet.js';
import { decodeLink, link, ETHERTYPE_IPV4, LINKTYPE_ETHERNET } from '../decode/link.js';
import { decodeIpv4, decodeIpv6, ip, IPPROTO_TCP } from '../decode/ip.js';
import { Analyzer } from '../handshake/analyzer.js';
import { PRE_KEPT_AREA_BYTES } from '../handshake/pre-tls.js';
import type { FlowRecord } from '../handshake/record.js';
import { JsonOut, writeRecordJson } from '../handshake/record-json.js';
import type { HandshakeTracker, KeptPacket } from '../handshake/tracker.js';
import { flowHashAt, flowHashV4 } from '../ring/flow-hash.js';
import type { PacketSink } from '../sources/capture-error.js';
import type { Enricher } from '../enrich/index.js';
import { groupOf, sampleRow, SAMPLE_ROW, type GroupKind } from '../enrich/top-networks.js';
import type { Verdict } from '../handshake/verdict.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';

const scratch = new AnomalyCounters();

/**
 * The flow hash of the TCP packet buf[off, off + caplen) of `linkType` as the analyzer's flow
 * table computes it once decoded, or 0 when it has no TCP ports to hash (not IP/TCP, a later
 * fragment, cut short).
 */
export function shareHash(buf: Uint8Array, off: number, caplen: number, linkType: number): number {
  const end = off + caplen;
  if (linkType === LINKTYPE_ETHERNET && off + 38 <= end && buf[off + 12] === 0x08 && buf[off + 13] === 0x00) {
    const n = off + 14;
    const vihl = buf[n]!;
    const l4 = n + (vihl & 0x0f) * 4;
    if (vihl >> 4 === 4 && l4 >= n + 20 && buf[n + 9] === IPPROTO_TCP && ((buf[n + 6]! & 0x1f) | buf[n + 7]!) === 0 && l4 + 4 <= end) {
      const sw = (buf[n + 12]! << 24) | (buf[n + 13]! << 16) | (buf[n + 14]! << 8) | buf[n + 15]!;
      const dw = (buf[n + 16]! << 24) | (buf[n + 17]! << 16) | (buf[n + 18]! << 8) | buf[n + 19]!;
      return flowHashV4(sw, (buf[l4]! << 8) | buf[l4 + 1]!, dw, (buf[l4 + 2]! << 8) | buf[l4 + 3]!);
    }
  }
  return slowHash(buf, off, end, linkType);
}

/** shareHash through the decoders' link and IP walk (VLAN tags, other link types, IPv6, oddities). */
function slowHash(buf: Uint8Array, off: number, end: number, linkType: number): number {
  decodeLink(buf, off, end, linkType, scratch);
  if (link.ethertype === 0) return 0;
  if (link.ethertype === ETHERTYPE_IPV4) decodeIpv4(buf, link.netOff, end, scratch);
  else decodeIpv6(buf, link.netOff, end, scratch);
  if (ip.proto !== IPPROTO_TCP || ip.l4Off + 4 > ip.capEnd) return 0;
  const sp = (buf[ip.l4Off]! << 8) | buf[ip.l4Off + 1]!;
  const dp = (buf[ip.l4Off + 2]! << 8) | buf[ip.l4Off + 3]!;
  return flowHashAt(buf, ip.srcOff, ip.dstOff, ip.version === 6 ? 16 : 4, sp, dp);
}

/** The worker (0 … count-1) that owns a packet of hash `h` (see 3. above). */
export function shareOf(h: number, count: number): number {
  return ((h >>> 16) * count) >>> 16;
}

/** Packets between a worker's checkpoints (batch, frontier, flow control). */
export const CHECKPOINT = 16384;
/** Checkpoints a worker may be ahead of what the main thread has merged. */
export const WINDOW = 8;
/**
 * The control words (Int32Array over a SharedArrayBuffer): [MERGED] checkpoints the main thread
 * has merged from every share still running (the minimum); [POSTED + w] checkpoints worker w has
 * posted (the main thread waits on it when it is ahead).
 */
export const MERGED = 0;
export const POSTED = 1;
export const controlWords = (shares: number): number => POSTED + shares;

/**
 * The slow records of a text-mode batch as TopNetworks.addParts takes them, one entry each in
 * record order: the group (null key: unattributed), verdict, rDNS name, and SAMPLE_ROW sample
 * values apiece in `rows`. Sending these instead of the records (a structured clone of ~80
 * values each, most of a batch's cost to send and receive) saved 0.3-0.7 CPU-s a run of
 * --threads 2 on a 4 GB capture with 36% slow handshakes (issue 13).
 */
export interface SlowParts {
  keys: (string | null)[];
  kinds: (GroupKind | null)[];
  verdicts: Verdict[];
  rdns: (string | null)[];
  rows: Float64Array;
}

/** A record in object mode: what analyze.ts's onRecord reads from the tracker. */
export interface RecordItem { rec: FlowRecord; start: number; firstTs: number; lastTs: number; kept: KeptPacket[] | null }

export interface Batch {
  kind: 'batch';
  /** keyPos, keySub per record. */
  keys: number[];
  /** Object mode: the records. Text mode: 1 for a slow record (its parts are in `slow`), else 0. */
  items: (RecordItem | 0 | 1)[];
  /** Text mode: what the summary's top networks take from each slow record (TopNetworks.addParts). */
  slow: SlowParts | null;
  /** Text mode: the ndjson lines, one after another (a buffer of their own, transferable), and where each ends. */
  text: Uint8Array | null;
  ends: number[];
  /** No later record of this share has keyPos below this. */
  frontier: number;
}

export interface ShareOptions {
  index: number;
  count: number;
  slowMs: number;
  keepPackets: boolean;
  flowFilter: string | null;
  maxFlows: number | undefined;
  shareFlowLimit: number;
  /** Which records need their kept packets where they are written. */
  keptForSlow: boolean;
}

/** One share of the flows (4. above). */
export class ShareAnalysis implements PacketSink {
  readonly analyzer: Analyzer;
  #keys: number[] = [];
  #items: Batch['items'] = [];
  #ends: number[] = [];
  /** Text mode: the lines since the last batch, and the parts of its slow records (rows: #nSlow filled). */
  readonly #text: JsonOut | null;
  #slow: SlowParts = { keys: [], kinds: [], verdicts: [], rdns: [], rows: new Float64Array(64 * SAMPLE_ROW) };
  #nSlow = 0;
  #left = CHECKPOINT;
  readonly #me: number;
  readonly #count: number;

  /**
   * `enricher`: text mode (the share attributes and serialises its records). `onCheckpoint` runs
   * every CHECKPOINT packets, inside the read.
   */
  constructor(o: ShareOptions, readonly enricher: Enricher | null, readonly onCheckpoint: () => void) {
    this.#me = o.index;
    this.#count = o.count;
    this.#text = enricher !== null ? new JsonOut(1 << 20) : null;
    const flowFilter = o.flowFilter, keptForSlow = o.keptForSlow;
    this.analyzer = new Analyzer({
      slowMs: o.slowMs,
      keepPackets: o.keepPackets,
      flowFilter,
      maxFlows: o.maxFlows,
      // no `share`: this analyzer decodes only its own packets, so it counts their decode anomalies itself
      keptAreaBytes: Math.max(1024, Math.floor(PRE_KEPT_AREA_BYTES / o.count / 8) * 8),
      shareFlowLimit: o.shareFlowLimit,
      onRecord: (rec: FlowRecord, t: HandshakeTracker) => {
        this.#keys.push(this.analyzer.keyPos, this.analyzer.keySub);
        const text = this.#text;
        if (text !== null) {
          enricher!.attribute(rec);
          writeRecordJson(rec, text);
          text.room(1);
          text.buf[text.pos++] = 10;
          this.#ends.push(text.pos);
          if (rec.slow) this.#addSlow(rec);
          this.#items.push(rec.slow ? 1 : 0);
          return;
        }
        const needKept = t.kept !== null && ((keptForSlow && rec.slow) || (flowFilter !== null && (rec.client === flowFilter || rec.server === flowFilter)));
        this.#items.push({ rec, start: t.timeline[0]! >= 0 ? t.timeline[0]! : t.firstTs, firstTs: t.firstTs, lastTs: t.lastTs, kept: needKept ? t.kept : null });
      },
    });
  }

  onPacket(p: DecodedPacket): void {
    if (shareOf(shareHash(p.buf, p.off, p.caplen, p.linkType), this.#count) === this.#me) this.analyzer.onPacket(p);
    else this.analyzer.skipPacket(p.tsSec, p.origLen);
    if (--this.#left === 0) {
      this.#left = CHECKPOINT;
      this.onCheckpoint();
    }
  }

  #addSlow(rec: FlowRecord): void {
    const sl = this.#slow;
    const g = groupOf(rec);
    sl.keys.push(g === null ? null : g.key);
    sl.kinds.push(g === null ? null : g.kind);
    sl.verdicts.push(rec.verdict);
    sl.rdns.push(rec.client_info?.rdns ?? null);
    if ((this.#nSlow + 1) * SAMPLE_ROW > sl.rows.length) {
      const bigger = new Float64Array(sl.rows.length * 2);
      bigger.set(sl.rows);
      sl.rows = bigger;
    }
    sampleRow(rec, sl.rows, this.#nSlow * SAMPLE_ROW);
    this.#nSlow++;
  }

  /** Whether the single run might have evicted a flow or reused kept packets by now (the threaded run must stop). */
  get unsafe(): boolean {
    return this.analyzer.unsafeAt >= 0 || this.analyzer.keptAreaWrapped;
  }

  /** The records since the last batch, and the frontier (Infinity: the share is done). */
  take(done = false): Batch {
    const t = this.#text;
    let text: Uint8Array | null = null;
    let slow: SlowParts | null = null;
    if (t !== null) {
      text = new Uint8Array(t.pos);
      text.set(t.buf.subarray(0, t.pos));
      t.pos = 0;
      const sl = this.#slow;
      slow = { keys: sl.keys, kinds: sl.kinds, verdicts: sl.verdicts, rdns: sl.rdns, rows: sl.rows.slice(0, this.#nSlow * SAMPLE_ROW) };
      this.#slow = { keys: [], kinds: [], verdicts: [], rdns: [], rows: sl.rows };
      this.#nSlow = 0;
    }
    const b: Batch = { kind: 'batch', keys: this.#keys, items: this.#items, text, slow, ends: this.#ends, frontier: done ? Infinity : 2 * this.analyzer.stats.packets };
    this.#keys = [];
    this.#items = [];
    this.#ends = [];
    return b;
  }
}
