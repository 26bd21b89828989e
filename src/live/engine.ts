/**
 * The live engine (design.md "Live engine"): what `capture` and `watch` both run.
 *
 * 1. A RingFollower walks the records the capture thread writes and feeds the Analyzer as they
 *    arrive (decoded in place, no copy). Every handshake is analysed once, as it happens; the
 *    analyzer's clock also ticks on wall time, so idle flows end in a quiet daemon.
 * 2. Each record marks its flow done in the kernel filter (as does a flow that turns out not to
 *    be TLS; a record the classic fallback could not see exactly is marked `estimated`), goes to
 *    `onHandshake` (metrics) and, when a
 *    journal is followed, into a bounded store of recent records: a journal event is matched
 *    against it, and the ring is read again only for the packets of the event's pcap. An event
 *    without a measured record (the flow started before the engine, or was evicted) is analysed
 *    from the ring as before.
 * 3. With `evidence: 'slow'` (watch) every slow record gets its pcap and JSON, logged by the
 *    proxy or not; with `'events'` (capture) only the journal's events do.
 * 4. One clock (20 ms) polls the follower, ticks the analyzer and the correlator, and samples the
 *    capture's drop counters; `stats()` is the one telemetry shape the commands print and export.
 *
 * The engine opens nothing: the command opens the capture (and drops privileges), the journal
 * follower and the output directory, and hands them in.
 */
import { networkInterfaces } from 'node:os';
import { Analyzer, type AnalyzerStats } from '../handshake/analyzer.js';
import type { FlowRecord } from '../handshake/record.js';
import { recordToJson } from '../handshake/record-json.js';
import type { HandshakeTracker } from '../handshake/tracker.js';
import { Correlator, type CorrelatorOptions, type CorrelatorStats, type MeasuredFlow } from '../correlate/correlator.js';
import { parseAddress, type SlowEvent } from '../correlate/journal-event.js';
import { RingReader, type Reach } from '../ring/reader.js';
import type { LiveCapture, NativeStats } from '../sources/live-capture.js';
import type { Enricher } from '../enrich/index.js';
import { LostResults } from '../sinks/lost-results.js';
import type { OutputDir } from '../sinks/pcap-writer.js';
import { RingFollower, type FollowerStats } from './ring-follower.js';

export interface EngineOptions {
  slowMs: number;
  holdMs: number;
  marginMs: number;
  out: OutputDir;
  pcapFormat: 'pcapng' | 'pcap';
  maxQueue: number;
  maxWritesPerSec: number;
  proxyClock: CorrelatorOptions['proxyClock'];
  /** Which handshakes get evidence: every slow one (watch) or those the journal names (capture). */
  evidence: 'slow' | 'events';
  /** Keep records for matching journal events (when a journal is followed). */
  matchEvents: boolean;
  /** Every record the analyzer builds, once, right after it is built. */
  onHandshake?: (rec: FlowRecord, flow: MeasuredFlow) => void;
  /** Client attribution: records get client_info before their files are written, and their output waits (bounded) for reverse DNS. */
  enricher?: Enricher;
  /** Every record that is an output: an event's, or a slow handshake's evidence; after its files. */
  onRecord: (rec: FlowRecord) => void;
  /** The evidence files a record was written to (names in the output directory), right before its onRecord. */
  onFiles?: (names: string[]) => void;
  /** Where failed writes are counted (shared with the command's other sinks). */
  lost?: LostResults;
  /** Flows the analyzer tracks at most (default: the analyzer's). */
  maxFlows?: number;
  /** Records kept for event matching: how long after their end, and how many at most. */
  recentMs?: number;
  maxRecent?: number;
  /** Capture filter in force (named in "not found" reasons). */
  filter?: string;
}

export interface EngineStats {
  capture: NativeStats;
  reach: Reach;
  follower: FollowerStats;
  analyzer: AnalyzerStats;
  correlator: CorrelatorStats;
  /** Records kept for event matching now, and those forgotten early because the store was full. */
  recent: number;
  recentForgotten: number;
}

/** Samples of cumulative capture drops over time, to count drops inside a flow's window. */
export class DropHistory {
  #t: number[] = [];
  #d: number[] = [];
  add(ns: number, drops: number): void {
    this.#t.push(ns);
    this.#d.push(drops);
    if (this.#t.length > 20_000) { this.#t.splice(0, 10_000); this.#d.splice(0, 10_000); }
  }
  between(fromNs: number, toNs: number): number {
    const n = this.#t.length;
    if (n === 0) return 0;
    let before = 0, after = this.#d[n - 1]!;
    for (let i = 0; i < n; i++) {
      if (this.#t[i]! <= fromNs) before = this.#d[i]!;
      if (this.#t[i]! >= toNs) { after = this.#d[i]!; break; }
    }
    return Math.max(0, after - before);
  }
}

/** This host's addresses (candidate servers for events that do not log one). */
export function localAddresses(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      const b = parseAddress(a.address);
      if (b) out.push(b);
    }
  }
  return out;
}

const DEFAULT_RECENT_MS = 30_000;
const DEFAULT_MAX_RECENT = 65_536;

/**
 * One recent record. A slow one is kept as the object the correlator may also hold (its evidence
 * queue: an event that matches it claims that very object). Every other is kept as its JSON text
 * and parsed back only when an event matches it: each live handshake's record stays here for
 * `keepMs` (30 s), long enough to be promoted, and as object graphs (the record, its timeline,
 * phases, lists and strings) they made V8 mark and sweep its old space every ~1.5 s in `capture`
 * at 450 handshakes/s; one string per record is a single object to mark. The match fields are
 * numbers.
 */
class RecentEntry {
  constructor(
    readonly key: string, readonly endMs: number, readonly serverPort: number,
    /** The handshake's first and last timeline point (µs); NaN when the record has none. */
    readonly firstUs: number, readonly lastUs: number,
    readonly clientAddr: Uint8Array, readonly clientPort: number, readonly serverAddr: Uint8Array,
    /** The record itself (slow records), else null. */
    readonly flow: MeasuredFlow | null,
    /** recordToJson of the record (the others), else null. */
    readonly json: string | null,
  ) {}

  /** The flow as measured: the kept object, or a copy of the record parsed from its text. */
  measured(): MeasuredFlow {
    if (this.flow !== null) return this.flow;
    return { rec: JSON.parse(this.json!) as FlowRecord, clientAddr: this.clientAddr, clientPort: this.clientPort, serverAddr: this.serverAddr, serverPort: this.serverPort };
  }
}

/**
 * Recent records by client endpoint, for event matching: the newest per endpoint, expired after
 * `keepMs` past their end, at most `max` (the oldest go first, counted).
 */
export class RecentRecords {
  readonly #byClient = new Map<string, RecentEntry>();
  /** Insertion order = end order (records are built as handshakes end). */
  readonly #order: RecentEntry[] = [];
  #head = 0;
  forgotten = 0;
  constructor(readonly keepMs: number, readonly max: number) {}

  get size(): number { return this.#byClient.size; }

  /** Keeps `flow` as it is now: later changes to a fast record's object are not seen by find. */
  add(flow: MeasuredFlow, endMs: number): void {
    const rec = flow.rec, tl = rec.timeline;
    const firstUs = tl.syn ?? tl.client_hello ?? tl.server_hello;
    const lastUs = tl.done ?? tl.server_flight_end ?? tl.server_hello ?? firstUs;
    const e = new RecentEntry(rec.client, endMs, flow.serverPort, firstUs ?? NaN, lastUs ?? NaN, flow.clientAddr, flow.clientPort,
      flow.serverAddr, rec.slow ? flow : null, rec.slow ? null : recordToJson(rec));
    this.#byClient.set(e.key, e);
    this.#order.push(e);
    while (this.#byClient.size > this.max) { this.#drop(); this.forgotten++; }
  }

  find(ev: SlowEvent, marginMs: number): MeasuredFlow | null {
    const m = this.#byClient.get(ev.client);
    if (m === undefined) return null;
    if (ev.serverPort !== null && m.serverPort !== ev.serverPort) return null;
    if (m.firstUs !== m.firstUs) return null; // no timeline point to match on (NaN)
    const startUs = ev.endUs - (ev.elapsedMs ?? 0) * 1000;
    // The record's span overlaps the event's, give or take the margin (the proxy's clock and
    // the wire differ by its own lag and by when it logs).
    if (m.firstUs > ev.endUs + marginMs * 1000 || m.lastUs < startUs - marginMs * 1000) return null;
    return m.measured();
  }

  expire(nowMs: number): void {
    const o = this.#order;
    while (this.#head < o.length && o[this.#head]!.endMs + this.keepMs < nowMs) this.#drop();
    if (this.#head > 4096 && this.#head * 2 > o.length) { o.splice(0, this.#head); this.#head = 0; }
  }

  #drop(): void {
    const e = this.#order[this.#head++];
    if (e === undefined) return;
    if (this.#byClient.get(e.key) === e) this.#byClient.delete(e.key);
  }
}

export class LiveEngine {
  readonly reader: RingReader;
  readonly follower: RingFollower;
  readonly analyzer: Analyzer;
  readonly correlator: Correlator;
  readonly drops = new DropHistory();
  readonly lost: LostResults;
  readonly #cap: LiveCapture;
  readonly #recent: RecentRecords | null;
  #lastPps = 0;
  #ticks = 0;
  #localAddresses: Uint8Array[] | null = null;

  constructor(cap: LiveCapture, readonly opts: EngineOptions) {
    this.#cap = cap;
    this.lost = opts.lost ?? new LostResults();
    this.reader = new RingReader(cap);
    this.#recent = opts.matchEvents ? new RecentRecords(opts.recentMs ?? Math.max(DEFAULT_RECENT_MS, opts.holdMs + opts.marginMs + 10_000), opts.maxRecent ?? DEFAULT_MAX_RECENT) : null;
    this.analyzer = new Analyzer({
      slowMs: opts.slowMs, keepPackets: false, flowFilter: null, maxFlows: opts.maxFlows,
      onRecord: (rec, t) => this.#onAnalyzed(rec, t),
      // Not TLS: the kernel filter lets the flow go (a no-op without the eBPF filter).
      onNotTls: (t) => cap.markDone(t.clientAddr.length === 16 ? 6 : 4, t.clientAddr, t.clientPort, t.serverAddr, t.serverPort),
    });
    this.follower = new RingFollower(cap, this.analyzer);
    this.correlator = new Correlator(this.reader, {
      marginMs: opts.marginMs, holdMs: opts.holdMs, slowMs: opts.slowMs, outDir: opts.out, pcapFormat: opts.pcapFormat,
      maxQueue: opts.maxQueue, maxWritesPerSec: opts.maxWritesPerSec, proxyClock: opts.proxyClock, lost: this.lost,
      localAddresses: () => (this.#localAddresses ??= localAddresses()),
      dropsBetween: (f, t) => this.drops.between(f, t), filter: opts.filter ?? '',
      pps: () => { const st = cap.stats(), r = this.reader.reach().seconds; return r > 0 ? (st.packets - st.overwrites) / r : this.#lastPps; },
      match: this.#recent !== null ? (ev) => this.#recent!.find(ev, opts.marginMs) : undefined,
      prepare: opts.enricher !== undefined ? (rec) => { opts.enricher!.attribute(rec); } : undefined,
      onRecord: opts.enricher !== undefined ? (rec) => this.#enriched(rec) : (rec) => opts.onRecord(rec),
      onFiles: (names) => opts.onFiles?.(names),
    });
  }

  /** A journal event: resolved after its hold against the analyzer's records (or the ring). */
  onEvent(ev: SlowEvent, nowMs: number): boolean {
    // Prefetched only for an event the queue takes: its answer is in the cache by the end of the hold.
    const queued = this.correlator.onEvent(ev, nowMs);
    if (queued) this.opts.enricher?.prefetch(ev.client);
    return queued;
  }

  /** A reload's live keys: thresholds, holds, the write budget, the file format. */
  reconfigure(c: Pick<EngineOptions, 'slowMs' | 'holdMs' | 'marginMs' | 'maxWritesPerSec' | 'pcapFormat' | 'proxyClock'>): void {
    Object.assign(this.opts, c);
    this.correlator.opts = { ...this.correlator.opts, ...c };
    this.analyzer.opts.slowMs = c.slowMs;
  }

  /**
   * The engine's clock (every 20 ms): new ring records through the analyzer, wall time into the
   * analyzer and the correlator, and every fifth tick a drop sample. Returns the capture's
   * statistics when it sampled them (for the command's own checks), else null.
   */
  tick(nowMs: number): NativeStats | null {
    this.follower.poll();
    this.analyzer.tick(nowMs / 1000);
    this.correlator.tick(nowMs);
    this.opts.enricher?.pump();
    this.#recent?.expire(nowMs);
    if (this.#ticks++ % 5 !== 0) return null;
    const s = this.#cap.stats();
    this.#lastPps = s.pps;
    this.drops.add(nowMs * 1e6, s.kernelDrops + s.ifDrops);
    return s;
  }

  /**
   * After the capture stopped: the rest of the ring through the analyzer, every open handshake
   * ended (incomplete where it is), and every pending event and slow record resolved now, or
   * until the wall clock passes `untilMs` (what is left stays in `correlator.pending`).
   */
  drain(nowMs: number, untilMs = Infinity): void {
    for (let i = 0; i < 1000; i++) {
      const before = this.follower.stats.records;
      this.follower.poll();
      if (this.follower.stats.records === before) break;
    }
    this.analyzer.finish();
    this.correlator.tick(nowMs, true, untilMs);
  }

  stats(): EngineStats {
    return {
      capture: this.#cap.stats(), reach: this.reader.reach(), follower: this.follower.stats, analyzer: this.analyzer.stats,
      correlator: this.correlator.stats, recent: this.#recent?.size ?? 0, recentForgotten: this.#recent?.forgotten ?? 0,
    };
  }

  /**
   * A record on its way out, attributed: it waits (bounded) for its reverse DNS, except a record a
   * bound refused (the event or evidence queue was full: a storm), which goes out at once with what
   * the cache knows, so a storm cannot fill the resolver's queue and the waiting records.
   */
  #enriched(rec: FlowRecord): void {
    const e = this.opts.enricher!;
    if (rec.reason !== undefined && /^(event|evidence) queue full/.test(rec.reason)) {
      e.attribute(rec, false);
      this.opts.onRecord(rec);
      return;
    }
    e.submit(rec, this.opts.onRecord);
  }

  #onAnalyzed(rec: FlowRecord, t: HandshakeTracker): void {
    const flow: MeasuredFlow = { rec, clientAddr: t.clientAddr, clientPort: t.clientPort, serverAddr: t.serverAddr, serverPort: t.serverPort };
    if (this.#cap.kernelFilter.mode === 'classic') rec.estimated = true;
    this.#cap.markDone(t.clientAddr.length === 16 ? 6 : 4, t.clientAddr, t.clientPort, t.serverAddr, t.serverPort);
    this.opts.onHandshake?.(rec, flow);
    const nowMs = Date.now();
    this.#recent?.add(flow, nowMs);
    if (this.opts.evidence === 'slow' && rec.slow) {
      this.opts.enricher?.prefetch(rec.client);
      this.correlator.slowRecord(flow, nowMs);
    }
  }
}
