/**
 * Spot-check correlation: journal events ↔ flows in the packet ring.
 *
 * 1. onEvent(): an event names the client endpoint and the server port (the server address is
 *    optional: anycast and NAT make it unreliable); its timestamp is the handshake end and
 *    `elapsed` its start. Duplicates of a pending or recent event for the same flow are counted
 *    and dropped. A full queue (back-pressure, never unbounded) drops the event from the queue,
 *    not from the results: it ends as a record at once, without files, its `reason` saying the
 *    queue was full and what to change, and is counted (`droppedQueueFull`: results lost).
 * 2. tick() (a coarse clock, never a timer per event): an event whose post-event hold has passed
 *    is resolved, subject to a per-second write budget (the rest waits in the bounded queue).
 * 3. resolve: look the flow up in the ring over [start − margin, end + hold] for each candidate
 *    server address (the logged one, else this host's addresses), analyse its packets with the
 *    offline analyzer, write a self-explaining per-flow pcapng (event and breakdown in the section
 *    comment, a packet comment where each phase begins and on retransmissions), the record beside
 *    it as JSON, and hand the record on. A flow not in the ring gets a record with the reason:
 *    ring too short (by how much), possibly filtered out, or no such flow.
 * 3a. In the live engine the analyzer has already measured the flow as it happened: `match`
 *    returns its record, and the ring is read only for the flow's packets (the pcap). Only an
 *    event without such a record is analysed from the ring as in 3.
 * 3b. `slowRecord()` (watch): a slow handshake the analyzer measured gets evidence whether or not
 *    the proxy logged it: queued like an event (its hold, the write budget, the queue bound), and
 *    written unless an event claimed the record first (then the event's resolution wrote it).
 * 4. A file that cannot be written (a full disk, a directory gone) never loses the event: the
 *    record goes on with `reason` naming the error and the path, the failure is counted by its
 *    cause (LostResults, shared with the command's other sinks), and the next event tries again
 *    (writes resume as soon as there is space).
 */
import { formatIp } from '../handshake/addr.js';
import { analyzePackets } from '../handshake/analyze-packets.js';
import { missingFlowRecord, type FlowRecord } from '../handshake/record.js';
import { recordToJson } from '../handshake/record-json.js';
import { PHASES } from '../handshake/phases.js';
import type { RingPacket, RingReader } from '../ring/reader.js';
import { AtomicCaptureWriter, flowFileName, OutputDir, writeFileAtomic } from '../sinks/pcap-writer.js';
import { LostResults } from '../sinks/lost-results.js';
import { decodePacket } from '../decode/dispatch.js';
import { DecodedPacket } from '../decode/packet.js';
import { Status } from '../decode/reader.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import type { SlowEvent } from './journal-event.js';
import { attachEvent, type ProxyClock } from './proxy-lag.js';

export interface CorrelatorOptions {
  /** Slack before the event's start (clock skew, SYN retries the proxy did not see). */
  marginMs: number;
  /** Keep collecting after the event so the pcap shows what followed. */
  holdMs: number;
  slowMs: number;
  /** Where pcaps and records go: a path (created on the first write) or a held directory. */
  outDir: string | OutputDir;
  pcapFormat: 'pcapng' | 'pcap';
  maxQueue: number;
  maxWritesPerSec: number;
  /** Candidate server addresses when an event does not log one (this host's addresses). */
  localAddresses: () => Uint8Array[];
  /** Kernel + interface drops between two times (ns), from sampled capture statistics. */
  dropsBetween: (fromNs: number, toNs: number) => number;
  /** Capture filter in force (named in "not found" reasons). */
  filter: string;
  /** Average packets per second the ring holds (for "ring too short" reasons). */
  pps: () => number;
  onRecord: (rec: FlowRecord) => void;
  /** The files a record's evidence was written to (names inside the output directory), before its onRecord. */
  onFiles?: (names: string[]) => void;
  /** Where the proxy's handshake clock starts (default accept); see proxy-lag.ts. */
  proxyClock?: ProxyClock;
  /** Where failed writes are noted and counted (the command's, shared with its other sinks); default: its own. */
  lost?: LostResults;
  /** Called with each record before its files are written (client attribution). */
  prepare?: (rec: FlowRecord) => void;
  /** The live analyzer's record of the event's flow, when it has one (3a). */
  match?: (ev: SlowEvent) => MeasuredFlow | null;
}

/** A record the live analyzer built, with the flow's endpoints as bytes (for the ring lookup). */
export interface MeasuredFlow {
  rec: FlowRecord;
  clientAddr: Uint8Array;
  clientPort: number;
  serverAddr: Uint8Array;
  serverPort: number;
}

export interface CorrelatorStats {
  events: number;
  duplicates: number;
  /** Events not queued because the queue was full: each became a record without files. */
  droppedQueueFull: number;
  rateLimitedWaits: number;
  /** Events whose pcap and record file were written. */
  written: number;
  /** Per-flow pcaps written (a record without packets in the ring has its .json only). */
  pcaps: number;
  /** Events with at least one file not written (their records say why in `reason`; the files are counted in `lost`). */
  writeFailed: number;
  notFound: number;
  tooOld: number;
  queued: number;
  /** Events matched to a record the live analyzer had built (no second analysis). */
  matched: number;
  /** Slow records queued for evidence (watch), written without an event, and claimed by an event first. */
  slowQueued: number;
  slowWritten: number;
  slowClaimed: number;
  /** Slow records the full queue could not take: each went on without a pcap, saying so. */
  slowQueueFull: number;
}

interface Pending {
  ev: SlowEvent | null;
  /** A slow record waiting for evidence (ev null). */
  flow: MeasuredFlow | null;
  dueMs: number;
  key: string;
}

const DUP_WINDOW_US = 5_000_000;

export class Correlator {
  readonly stats: CorrelatorStats = { events: 0, duplicates: 0, droppedQueueFull: 0, rateLimitedWaits: 0, written: 0, pcaps: 0, writeFailed: 0, notFound: 0, tooOld: 0, queued: 0,
    matched: 0, slowQueued: 0, slowWritten: 0, slowClaimed: 0, slowQueueFull: 0 };
  /** Records an event took (their queued evidence is then not written a second time). */
  readonly #claimed = new WeakSet<FlowRecord>();
  readonly lost: LostResults;
  #queue: Pending[] = [];
  /** Queued events by client endpoint: a slow record of that client waits until they are resolved (3b). */
  readonly #eventsQueued = new Map<string, number>();
  /** Recently seen flow keys → handshake end (µs), for de-duplication; pruned by tick(). */
  #recent = new Map<string, number>();
  #budgetSecond = 0;
  #budgetUsed = 0;
  readonly #pkt = new DecodedPacket();
  readonly #an = new AnomalyCounters();
  readonly #dir: OutputDir;

  constructor(readonly reader: RingReader, public opts: CorrelatorOptions) {
    this.#dir = typeof opts.outDir === 'string' ? new OutputDir(opts.outDir) : opts.outDir;
    this.lost = opts.lost ?? new LostResults();
  }

  /** Queues an event; false when it needs no further work (a duplicate, or the queue was full and it already ended as a record). */
  onEvent(ev: SlowEvent, nowMs: number): boolean {
    this.stats.events++;
    const key = `${ev.client}|${ev.serverPort ?? ''}`;
    const seen = this.#recent.get(key);
    if (seen !== undefined && Math.abs(seen - ev.endUs) < DUP_WINDOW_US) {
      this.stats.duplicates++;
      return false;
    }
    this.#recent.set(key, ev.endUs); // also for dropped events (recorded below): their repeats are duplicates
    if (this.#queue.length >= this.opts.maxQueue) {
      this.stats.droppedQueueFull++;
      this.#queueFull(ev);
      return false;
    }
    const dueMs = Math.max(nowMs, ev.endUs / 1000 + this.opts.holdMs);
    this.#queue.push({ ev, flow: null, dueMs, key });
    this.#eventsQueued.set(ev.client, (this.#eventsQueued.get(ev.client) ?? 0) + 1);
    this.stats.queued = this.#queue.length;
    return true;
  }

  /** Evidence for a slow handshake the live analyzer measured, after the hold (3b). */
  slowRecord(flow: MeasuredFlow, nowMs: number): void {
    this.stats.slowQueued++;
    if (this.#queue.length >= this.opts.maxQueue) {
      this.stats.slowQueueFull++;
      const rec = structuredClone(flow.rec);
      rec.reason = `evidence queue full: ${this.opts.maxQueue} events and slow handshakes were waiting for their hold or the write budget ` +
        `(${this.opts.maxWritesPerSec} per second), so no pcap was made; raise --event-queue or --max-writes-per-sec`;
      rec.notes.push(rec.reason);
      this.opts.onRecord(rec);
      return;
    }
    const doneMs = (flow.rec.timeline.done ?? flow.rec.timeline.client_hello ?? nowMs * 1000) / 1000;
    this.#queue.push({ ev: null, flow, dueMs: Math.max(nowMs, doneMs + this.opts.holdMs), key: flow.rec.client });
    this.stats.queued = this.#queue.length;
  }

  /**
   * Resolves due events within the write budget. `flush` ignores holds and the budget (shutdown),
   * and stops once the wall clock passes `untilMs` (a stop deadline): what is left stays queued
   * (`pending`, `pendingEvents`), in order, so an event never written is one a restart reads again.
   */
  tick(nowMs: number, flush = false, untilMs = Infinity): void {
    const sec = Math.floor(nowMs / 1000);
    if (sec !== this.#budgetSecond) { this.#budgetSecond = sec; this.#budgetUsed = 0; }
    let i = 0;
    while (i < this.#queue.length) {
      if (flush && untilMs !== Infinity && Date.now() > untilMs) { this.stats.queued = this.#queue.length; return; }
      const p = this.#queue[i]!;
      if (!flush && p.dueMs > nowMs) { i++; continue; }
      // A slow record whose client has an event queued waits for it: the event's resolution
      // claims the record and writes its evidence once, with the proxy's figure (its hold ends
      // later than the record's: the proxy logs after the handshake's last packet).
      if (p.ev === null && this.#eventsQueued.has(p.flow!.rec.client) && !this.#claimed.has(p.flow!.rec)) { i++; continue; }
      if (!flush && this.#budgetUsed >= this.opts.maxWritesPerSec) { this.stats.rateLimitedWaits++; break; }
      this.#queue.splice(i, 1);
      if (p.ev !== null) {
        const n = this.#eventsQueued.get(p.ev.client)! - 1;
        if (n > 0) this.#eventsQueued.set(p.ev.client, n);
        else this.#eventsQueued.delete(p.ev.client);
      }
      if (p.ev === null) {
        if (this.#claimed.has(p.flow!.rec)) { this.stats.slowClaimed++; continue; } // written with its event
        this.#budgetUsed++;
        this.stats.slowWritten++;
        this.#resolveMeasured(p.flow!, null);
        continue;
      }
      this.#budgetUsed++;
      this.#resolve(p.ev);
    }
    // Flushing: the slow records that waited for their client's events go now (no event is left).
    if (flush && this.#queue.length > 0 && this.#eventsQueued.size === 0) return this.tick(nowMs, true, untilMs);
    this.stats.queued = this.#queue.length;
    if (this.#recent.size > 4 * this.opts.maxQueue) {
      const cutoff = nowMs * 1000 - 60_000_000;
      for (const [k, t] of this.#recent) if (t < cutoff) this.#recent.delete(k);
    }
  }

  get pending(): number {
    return this.#queue.length;
  }

  /** Journal events still queued (the rest of `pending` are slow records waiting for evidence). */
  get pendingEvents(): number {
    let n = 0;
    for (const c of this.#eventsQueued.values()) n += c;
    return n;
  }

  #resolve(ev: SlowEvent): void {
    const o = this.opts;
    const measured = o.match?.(ev) ?? null;
    if (measured !== null) {
      this.stats.matched++;
      this.#claimed.add(measured.rec);
      return this.#resolveMeasured(measured, ev);
    }
    const startUs = ev.endUs - (ev.elapsedMs ?? 0) * 1000;
    const fromNs = (startUs - o.marginMs * 1000) * 1000;
    const toNs = (ev.endUs + o.holdMs * 1000) * 1000;
    const serverPort = ev.serverPort;
    let best: { packets: RingPacket[]; server: Uint8Array } | null = null;
    let tooOld: { reachSeconds: number; askedSeconds: number; shortBySeconds: number } | null = null;
    if (serverPort !== null) {
      const candidates = ev.serverAddr !== null ? [ev.serverAddr]
        : o.localAddresses().filter((a) => a.length === ev.clientAddr.length);
      for (const server of candidates) {
        const r = this.reader.lookupFlow({ a: ev.clientAddr, aPort: ev.clientPort, b: server, bPort: serverPort }, fromNs, toNs);
        tooOld ??= r.tooOld;
        if (r.packets.length > 0 && (best === null || r.packets.length > best.packets.length)) best = { packets: r.packets, server };
      }
    }
    if (best === null && serverPort === null) {
      // No server port, so no flow hash: search the window for the client endpoint, decoding in
      // place and copying only its packets. (With a port, the candidate addresses were tried;
      // scanning the window for every unmatched event would cost each of them the whole window.)
      const w = this.reader.windowMatching(fromNs, toNs, (pkt) => this.#endpointMatch(pkt, ev.clientAddr, ev.clientPort));
      if (w.packets.length > 0) best = { packets: w.packets, server: new Uint8Array(0) };
      else tooOld ??= this.reader.tooOld(fromNs, toNs);
    }
    const serverText = ev.server ?? (serverPort !== null ? `?:${serverPort}` : '?');
    if (best === null) {
      let reason: string;
      if (tooOld !== null) {
        this.stats.tooOld++;
        const held = this.reader.reach().seconds;
        reason = `ring too short: it holds the last ${held.toFixed(1)} s of packets, the event needs ${tooOld.askedSeconds.toFixed(1)} s ` +
          `(its window starts ${tooOld.shortBySeconds.toFixed(1)} s before the oldest packet still held; ~${Math.round(o.pps())} pkt/s fill the ring); use a larger --ring-size`;
      } else {
        this.stats.notFound++;
        reason = o.filter ? `no packets of this flow in the ring (the capture filter "${o.filter}" may exclude it)` : 'no such flow in the ring';
      }
      return this.#emit(this.#withEvent(missingFlowRecord(ev.client, serverText, ev.sni, reason), ev), null);
    }
    const { records } = analyzePackets(best.packets, o.slowMs);
    // The record of this flow whose handshake ends closest to the event.
    let rec: FlowRecord | null = null;
    let dist = Infinity;
    for (const { rec: r } of records) {
      if (r.client !== ev.client) continue;
      const d = Math.abs((r.timeline.done ?? r.timeline.client_hello ?? 0) - ev.endUs);
      if (d < dist) { rec = r; dist = d; }
    }
    if (rec === null) {
      const reason = 'the flow is in the ring but shows no TLS handshake (capture started mid-connection, or not TLS)';
      rec = missingFlowRecord(ev.client, best.server.length ? bracket(best.server, serverPort) : serverText, ev.sni, reason);
    }
    this.#withEvent(rec, ev);
    if (tooOld !== null && rec.timeline.syn === null) {
      rec.reason = `ring too short: the flow's start is gone (short by ${tooOld.shortBySeconds.toFixed(1)} s)`;
      rec.notes.push(rec.reason);
    }
    const drops = o.dropsBetween(fromNs, toNs);
    rec.capture_complete = drops === 0;
    if (drops > 0) rec.capture_drops = drops;
    this.#emit(rec, best.packets);
  }

  /**
   * Evidence for a record the live analyzer built (3a, 3b): the flow's packets from the ring over
   * [its first packet − margin, done + hold], the event attached when there is one.
   */
  #resolveMeasured(m: MeasuredFlow, ev: SlowEvent | null): void {
    const o = this.opts;
    const tl = m.rec.timeline;
    // A copy: the stored record stays as measured (another event may match it too).
    const rec = structuredClone(m.rec);
    const firstUs = tl.syn ?? tl.client_hello ?? tl.server_hello ?? 0;
    const lastUs = tl.done ?? tl.server_flight_end ?? tl.server_hello ?? firstUs;
    const fromNs = (firstUs - o.marginMs * 1000) * 1000;
    const toNs = (Math.max(lastUs, ev?.endUs ?? 0) + o.holdMs * 1000) * 1000;
    const r = this.reader.lookupFlow({ a: m.clientAddr, aPort: m.clientPort, b: m.serverAddr, bPort: m.serverPort }, fromNs, toNs);
    if (ev !== null) this.#withEvent(rec, ev);
    if (r.packets.length === 0) {
      // The analyzer measured the flow as it happened, but its packets are gone from the ring.
      rec.reason = r.tooOld !== null
        ? `ring too short: it holds the last ${this.reader.reach().seconds.toFixed(1)} s of packets, the event needs ${r.tooOld.askedSeconds.toFixed(1)} s ` +
          `(its window starts ${r.tooOld.shortBySeconds.toFixed(1)} s before the oldest packet still held; ~${Math.round(o.pps())} pkt/s fill the ring); use a larger --ring-size`
        : 'no packets of this flow left in the ring for its pcap';
      rec.notes.push(rec.reason);
      if (r.tooOld !== null) this.stats.tooOld++;
    } else if (r.tooOld !== null && tl.syn !== null && r.packets[0]!.tsSec * 1e6 + Math.floor(r.packets[0]!.tsNsec / 1000) > tl.syn) {
      rec.reason = `ring too short: the pcap misses the flow's start (short by ${r.tooOld.shortBySeconds.toFixed(1)} s)`;
      rec.notes.push(rec.reason);
    }
    const drops = o.dropsBetween(fromNs, toNs);
    rec.capture_complete = drops === 0;
    if (drops > 0) rec.capture_drops = drops;
    this.#emit(rec, r.packets.length > 0 ? r.packets : null);
  }

  /**
   * The record of an event the full queue could not take: no ring lookup, no files (writing is
   * what the queue waits for), so the storm costs a record each and no memory.
   */
  #queueFull(ev: SlowEvent): void {
    const o = this.opts;
    const reason = `event queue full: ${o.maxQueue} events were waiting for their hold or the write budget (${o.maxWritesPerSec} per second), ` +
      `so this flow was not looked up in the ring and no pcap was made; raise --event-queue or --max-writes-per-sec`;
    const server = ev.server ?? (ev.serverPort !== null ? `?:${ev.serverPort}` : '?');
    o.onRecord(this.#withEvent(missingFlowRecord(ev.client, server, ev.sni, reason), ev));
  }

  #withEvent(rec: FlowRecord, ev: SlowEvent): FlowRecord {
    return attachEvent(rec, ev, this.opts.proxyClock ?? 'accept');
  }

  #emit(rec: FlowRecord, packets: RingPacket[] | null): void {
    const o = this.opts;
    o.prepare?.(rec);
    const dir = this.#dir;
    const startUs = rec.timeline.syn ?? rec.timeline.client_hello ?? (rec.event as { timestamp_us: number }).timestamp_us;
    const base = flowFileName(startUs, rec.client, rec.server.replace(/^\?/, 'unknown'), o.pcapFormat);
    const jsonName = base.replace(/\.pcap(ng)?$/, '.json');
    let failed = false;
    const written: string[] = [];
    const fail = (what: string, path: string, err: unknown): void => {
      failed = true;
      this.lost.note(rec, 'flow', `${what} not written`, path, err);
    };
    let dirOk = true;
    try {
      dir.ensure(); // created on the first write only: a quiet spot check leaves nothing
    } catch (err) {
      dirOk = false;
      if (packets !== null && packets.length > 0) fail('pcap', dir.shown(base), err);
      fail('record file', dir.shown(jsonName), err);
    }
    if (dirOk && packets !== null && packets.length > 0) {
      let w: AtomicCaptureWriter | null = null;
      try {
        w = new AtomicCaptureWriter(dir, base, o.pcapFormat, sectionComment(rec));
        const comments = packetComments(rec, packets, this.#pkt, this.#an);
        for (let i = 0; i < packets.length; i++) w.write(packets[i]!, comments[i] ?? '');
        rec.pcap = w.close();
        written.push(base);
        this.stats.pcaps++;
      } catch (err) {
        w?.abort();
        fail('pcap', w?.path ?? dir.shown(base), err);
      }
    }
    if (dirOk) {
      try {
        writeFileAtomic(dir, jsonName, Buffer.from(recordToJson(rec) + '\n'));
        written.push(jsonName);
      } catch (err) {
        fail('record file', dir.shown(jsonName), err);
      }
    }
    if (failed) this.stats.writeFailed++;
    else this.stats.written++;
    if (written.length > 0) o.onFiles?.(written);
    o.onRecord(rec);
  }

  /** The decoded packet (in the ring's memory) is from or to addr:port. */
  #endpointMatch(pkt: DecodedPacket, addr: Uint8Array, port: number): boolean {
    const alen = pkt.ipVersion === 6 ? 16 : 4;
    if (alen !== addr.length) return false;
    return (pkt.srcPort === port && same(pkt.buf, pkt.srcAddrOff, addr)) || (pkt.dstPort === port && same(pkt.buf, pkt.dstAddrOff, addr));
  }
}

function same(b: Uint8Array, off: number, a: Uint8Array): boolean {
  if (off + a.length > b.length) return false;
  for (let i = 0; i < a.length; i++) if (b[off + i] !== a[i]) return false;
  return true;
}

function bracket(a: Uint8Array, port: number | null): string {
  return a.length === 16 ? `[${formatIp(a)}]:${port ?? '?'}` : `${formatIp(a)}:${port ?? '?'}`;
}

/** The section comment: what the proxy said and what the packets say. */
export function sectionComment(rec: FlowRecord): string {
  const ev = rec.event as { cursor?: string | null; message?: string } | undefined;
  const lines = [`slowshake: TLS handshake ${rec.client} -> ${rec.server}${rec.sni ? ` (sni ${rec.sni})` : ''}`];
  if (ev) lines.push(`journal event: ${ev.message ?? ''}`, `journal cursor: ${ev.cursor ?? '-'}`);
  if (rec.phases_ms.total !== null) {
    const parts = [...PHASES, 'loss', 'cwnd_stall'].map((p) => [p, rec.phases_ms[p as keyof typeof rec.phases_ms]] as const)
      .filter(([, v]) => v !== null && v > 0).map(([p, v]) => `${p} ${v} ms`);
    lines.push(`total ${rec.phases_ms.total} ms, verdict ${rec.verdict}: ${parts.join(', ')}`);
  } else {
    lines.push(`verdict ${rec.verdict}`);
  }
  if (rec.event_elapsed_ms != null) lines.push(`proxy measured ${rec.event_elapsed_ms} ms (gap to the wire total: ${rec.proxy_gap_ms ?? '-'} ms; lag over the span it measures: ${rec.proxy_lag_ms ?? '-'} ms)`);
  if (rec.capture_complete === false) lines.push(`capture dropped ${rec.capture_drops} packets inside this flow's time window`);
  for (const n of rec.notes) lines.push(`note: ${n}`);
  return lines.join('\n');
}

const PHASE_STARTS: [keyof FlowRecord['timeline'], string][] = [
  ['syn', 'syn_ack_delay'], ['syn_ack', 'tcp_rtt'], ['ack', 'client_hello_wait'], ['client_hello', 'client_hello_xfer'],
  ['client_hello_end', 'server_hello_delay'], ['hello_retry_request', 'hrr_rtt'], ['client_hello2_end', 'hrr_server_delay'],
  ['server_hello', 'server_flight'], ['server_flight_end', 'flight_rtt'], ['client_ack', 'client_think'], ['client_finished', 'client_flight_xfer'],
  ['client_flight_end', 'server_finish'],
];

/** Per-packet comments: the phase each packet begins ("client_think 412 ms begins") and retransmissions. */
export function packetComments(rec: FlowRecord, packets: readonly RingPacket[], pkt: DecodedPacket, an: AnomalyCounters): string[] {
  const out: string[] = new Array(packets.length).fill('');
  const byUs = new Map<number, string[]>();
  for (const [point, phase] of PHASE_STARTS) {
    const t = rec.timeline[point];
    const ms = rec.phases_ms[phase as keyof FlowRecord['phases_ms']];
    if (t === null || ms === null) continue;
    if (phase === 'server_hello_delay' && rec.hrr && point !== 'client_hello_end') continue;
    const l = byUs.get(t) ?? [];
    l.push(`${phase} ${ms} ms begins`);
    byUs.set(t, l);
  }
  if (rec.timeline.done !== null) byUs.set(rec.timeline.done, [...(byUs.get(rec.timeline.done) ?? []), `handshake done (total ${rec.phases_ms.total} ms, verdict ${rec.verdict})`]);
  const seen = new Set<string>();
  for (let i = 0; i < packets.length; i++) {
    const p = packets[i]!;
    const us = p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000);
    const parts: string[] = [];
    const labels = byUs.get(us);
    if (labels) { parts.push(...labels); byUs.delete(us); }
    pkt.buf = p.data; pkt.off = 0; pkt.caplen = p.data.length; pkt.linkType = p.linkType;
    if (decodePacket(pkt, an) === Status.OK && (pkt.payloadLen > 0 || pkt.flags & 0x03)) {
      const k = `${pkt.srcPort}>${pkt.dstPort}:${pkt.seq}:${pkt.payloadLen}:${pkt.flags & 0x03}`;
      if (seen.has(k)) parts.push('retransmission');
      seen.add(k);
    }
    out[i] = parts.join('; ');
  }
  return out;
}
