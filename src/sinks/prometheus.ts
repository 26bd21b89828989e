/**
 * Prometheus metrics of the handshakes a live engine measures (issue 9 §4, style.md §9): one
 * registry, Prometheus' naming (base units, `_total` counters, `_seconds` histograms with buckets
 * for the thing measured — handshakes span 1 ms to 10 s), labels bounded by construction (verdict,
 * TLS version, slow, phase: small fixed sets; never an address or a port).
 *
 * 1. `observe(record)` counts every TLS handshake once, by verdict, TLS version and `slow`, and
 *    adds its total and each phase to the histograms. Called once per record, after the record is
 *    built: nothing here runs per packet.
 * 2. `setCapture` / `setJournal` / `setEvidence` copy the engine's own counters on the status
 *    clock (counters that only grow are exported as counters, levels as gauges).
 * 3. The process's own CPU and memory (node_exporter's process_* names, `slowshake_` prefix), read
 *    at scrape time. prom-client's default collectors are not used: promtool rejects several of
 *    them (gauges named `…_total`, e.g. nodejs_active_handles_total).
 * 4. `MetricsServer` serves `/metrics` over HTTP, on loopback unless told otherwise.
 *
 * 5. Slow handshakes by client network (`networkSlow`): the network is a label only for the
 *    networks live/networks.ts gave one of its N slots; every other is `other`.
 */
import { createServer, type Server } from 'node:http';
import { format } from 'node:util';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { FlowRecord } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';

/** Seconds; a handshake takes from about a millisecond to many seconds. */
export const HANDSHAKE_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2.5, 5, 10];
/** Phases are shorter: down to tens of microseconds on a LAN. */
export const PHASE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2.5, 5, 10];

const PHASE_LABELS = [...PHASES, 'loss', 'cwnd_stall'] as const;
const TLS_VERSIONS = new Set(['1.0', '1.1', '1.2', '1.3']);
/** The handshake counter's label sets as keys, made once: verdict → TLS version → [not slow, slow]. */
const HANDSHAKE_KEYS = new Map(['client', 'network', 'server', 'loss', 'incomplete'].map((v) => [v,
  new Map([...TLS_VERSIONS, 'unknown'].map((t) => [t, [`${v}\u0000${t}\u0000false`, `${v}\u0000${t}\u0000true`] as const]))]));

/** A counter that mirrors an engine total (a number that only grows) without double counting. */
class Mirror {
  #last = 0;
  constructor(readonly counter: Counter) {}
  set(total: number): void {
    if (total > this.#last) this.counter.inc(total - this.#last);
    this.#last = Math.max(this.#last, total);
  }
}

export interface CaptureTotals {
  packets: number;
  bytes: number;
  kernelDrops: number;
  ifDrops: number;
  ringOverwrites: number;
  ringReachSeconds: number;
}

type CaptureCounter = Exclude<keyof CaptureTotals, 'ringReachSeconds'>;

export interface JournalTotals { entries: number; events: number; lagSeconds: number | null; matched?: number }
export interface EvidenceTotals {
  pcapsWritten: number;
  writeFailures: number;
  /** Bytes of evidence on disk now, files deleted by retention and their bytes (watch). */
  bytesOnDisk?: number;
  deletedFiles?: number;
  deletedBytes?: number;
  /** Failed writes by cause (ENOSPC, EACCES, …): a small set. */
  failuresByCause?: Record<string, number>;
  /** 1 while writes fail for a full disk. */
  diskFull?: boolean;
  /** Slow handshakes or events that got no pcap because a bound (queue, budget) refused them. */
  refused?: number;
}

/** The kernel filter and the follower (watch). */
export interface FilterTotals {
  mode: 'ebpf' | 'classic' | 'off';
  passed: number;
  dropped: number;
  flowsStarted: number;
  flowsInMap: number | null;
  /** Flows the LRU map evicted at its bound (a lower bound), null without eBPF. */
  evictions?: number | null;
  followerOverruns: number;
  analyzerFlowsEvicted: number;
}

/** prom-client's per-series state of a histogram (15.x: `hashMap[hash]`, what its exposition reads). */
interface HistogramEntry { labels: object; bucketValues: Record<string, number>; sum: number; count: number }

/**
 * One series of a prom-client histogram, observed without prom-client's per-call work: its
 * observe() builds a closure and a label object and hashes the labels on every call, which for
 * ~17 observations per handshake was a fifth of watch's allocation and a tenth of its main
 * thread (profiled under scripts/bench-watch). Counts, sum and count are kept here exactly as
 * prom-client keeps them (sum += value in arrival order) and copied into its series when it is
 * collected (scraped), so the exposition is the same. Where prom-client's series state does not
 * look as expected (another version), every observation goes through its own API instead.
 */
class HistogramSeries {
  readonly #counts: Float64Array;
  #sum = 0;
  #count = 0;
  readonly #fast: boolean;

  constructor(readonly hist: Histogram<string>, readonly labels: Record<string, string>, readonly bounds: readonly number[]) {
    hist.zero(labels);
    this.#counts = new Float64Array(bounds.length);
    this.#fast = this.#entry() !== null;
  }

  /** prom-client's state of this series, when it has the shape this class writes; else null. */
  #entry(): HistogramEntry | null {
    const map = (this.hist as unknown as { hashMap?: Record<string, HistogramEntry> }).hashMap;
    if (map === null || typeof map !== 'object') return null;
    for (const e of Object.values(map)) {
      if (e === null || typeof e !== 'object' || e.labels !== this.labels) continue;
      if (typeof e.sum !== 'number' || typeof e.count !== 'number' || e.bucketValues === null || typeof e.bucketValues !== 'object') return null;
      for (const b of this.bounds) if (!Object.prototype.hasOwnProperty.call(e.bucketValues, b)) return null;
      return e;
    }
    return null;
  }

  observe(v: number): void {
    if (!this.#fast) { this.hist.observe(this.labels, v); return; }
    if (!Number.isFinite(v)) throw new TypeError(`Value is not a valid number: ${format(v)}`); // as prom-client
    const b = this.bounds;
    for (let i = 0; i < b.length; i++) {
      if (v <= b[i]!) { this.#counts[i]!++; break; }
    }
    this.#sum += v;
    this.#count++;
  }

  /** Into prom-client's series (at collection); a series reset meanwhile is made again. */
  publish(): void {
    if (!this.#fast) return;
    let e = this.#entry();
    if (e === null) { this.hist.zero(this.labels); e = this.#entry(); }
    if (e === null) return;
    for (let i = 0; i < this.bounds.length; i++) e.bucketValues[this.bounds[i]!] = this.#counts[i]!;
    e.sum = this.#sum;
    e.count = this.#count;
  }
}

const FILTER_MODES = ['ebpf', 'classic', 'off'] as const;
/** Verdicts as label values (a fixed set). */
const VERDICTS = ['client', 'network', 'server', 'loss', 'incomplete'] as const;

export class HandshakeMetrics {
  readonly registry = new Registry();
  readonly #handshakes: Counter<'verdict' | 'tls_version' | 'slow'>;
  /** Handshakes counted since the last collection, by label set (first seen first: series order). */
  readonly #handshakesPending = new Map<string, { labels: { verdict: string; tls_version: string; slow: string }; n: number }>();
  readonly #duration: Histogram<'verdict'>;
  readonly #durationBy = new Map<string, HistogramSeries>();
  readonly #phase: Histogram<'phase'>;
  readonly #phaseSeries: HistogramSeries[] = [];
  readonly #capture: Record<CaptureCounter, Mirror>;
  readonly #reach: Gauge;
  readonly #journalEntries: Mirror;
  readonly #journalEvents: Mirror;
  readonly #journalLag: Gauge;
  readonly #pcaps: Mirror;
  readonly #writeFailures: Mirror;
  readonly #journalMatched: Mirror;
  readonly #bytesOnDisk: Gauge;
  readonly #deletedFiles: Mirror;
  readonly #deletedBytes: Mirror;
  readonly #failuresByCause: Counter<'cause'>;
  readonly #causeLast = new Map<string, number>();
  readonly #diskFull: Gauge;
  readonly #refused: Mirror;
  readonly #filterMode: Gauge<'mode'>;
  readonly #filterPassed: Mirror;
  readonly #filterDropped: Mirror;
  readonly #filterFlows: Mirror;
  readonly #filterMapFlows: Gauge;
  readonly #filterEvictions: Mirror;
  readonly #overruns: Mirror;
  readonly #evicted: Mirror;
  readonly #network: Counter<'network' | 'verdict'>;

  constructor(opts: { processMetrics?: boolean } = {}) {
    const r = this.registry;
    const pending = this.#handshakesPending;
    this.#handshakes = new Counter({
      name: 'slowshake_handshakes_total', help: 'TLS handshakes measured, each counted once when its record is built.',
      labelNames: ['verdict', 'tls_version', 'slow'], registers: [r],
      collect(this: Counter<'verdict' | 'tls_version' | 'slow'>) {
        for (const p of pending.values()) if (p.n > 0) { this.inc(p.labels, p.n); p.n = 0; }
      },
    });
    const durationBy = this.#durationBy, phaseSeries = this.#phaseSeries;
    this.#duration = new Histogram({
      name: 'slowshake_handshake_duration_seconds', help: 'Handshake time on the wire, SYN (or first packet) to done.',
      labelNames: ['verdict'], buckets: HANDSHAKE_BUCKETS, registers: [r],
      collect() { for (const s of durationBy.values()) s.publish(); },
    });
    this.#phase = new Histogram({
      name: 'slowshake_handshake_phase_seconds', help: 'Time of each handshake phase (design.md phase model; loss and cwnd_stall included).',
      labelNames: ['phase'], buckets: PHASE_BUCKETS, registers: [r],
      collect() { for (const s of phaseSeries) s.publish(); },
    });
    const counter = (name: string, help: string): Mirror => new Mirror(new Counter({ name, help, registers: [r] }));
    this.#capture = {
      packets: counter('slowshake_capture_packets_total', 'Packets the capture thread wrote into the ring.'),
      bytes: counter('slowshake_capture_bytes_total', 'Captured bytes written into the ring.'),
      kernelDrops: counter('slowshake_capture_kernel_drops_total', 'Packets the kernel dropped before the capture saw them.'),
      ifDrops: counter('slowshake_capture_interface_drops_total', 'Packets the interface dropped.'),
      ringOverwrites: counter('slowshake_ring_overwrites_total', 'Ring records overwritten by newer packets.'),
    };
    this.#reach = new Gauge({ name: 'slowshake_ring_reach_seconds', help: 'How far back the ring reaches now.', registers: [r] });
    this.#journalEntries = counter('slowshake_journal_entries_total', 'Journal entries read.');
    this.#journalEvents = counter('slowshake_journal_events_total', 'Journal entries that were slow-handshake events.');
    this.#journalLag = new Gauge({ name: 'slowshake_journal_lag_seconds', help: 'Age of the newest journal entry when it was read.', registers: [r] });
    this.#pcaps = counter('slowshake_evidence_pcaps_written_total', 'Per-flow pcaps written.');
    this.#writeFailures = counter('slowshake_evidence_write_failures_total', 'Evidence writes that failed (the record carries the reason).');
    this.#journalMatched = counter('slowshake_journal_events_matched_total', 'Journal events matched to a handshake the live analyzer measured.');
    this.#bytesOnDisk = new Gauge({ name: 'slowshake_evidence_bytes', help: 'Bytes of evidence in the output directory now.', registers: [r] });
    this.#deletedFiles = counter('slowshake_evidence_deleted_files_total', 'Evidence files deleted by retention (age or total size).');
    this.#deletedBytes = counter('slowshake_evidence_deleted_bytes_total', 'Bytes of evidence deleted by retention.');
    this.#failuresByCause = new Counter({ name: 'slowshake_evidence_write_failures_by_cause_total', help: 'Failed evidence writes by cause (errno name).', labelNames: ['cause'], registers: [r] });
    this.#diskFull = new Gauge({ name: 'slowshake_evidence_disk_full', help: '1 while evidence writes fail for lack of space.', registers: [r] });
    this.#refused = counter('slowshake_evidence_refused_total', 'Slow handshakes and events that got no pcap because the evidence queue was full.');
    this.#filterMode = new Gauge({ name: 'slowshake_kernel_filter_mode', help: 'The kernel filter in use (1 for the mode in force).', labelNames: ['mode'], registers: [r] });
    this.#filterPassed = counter('slowshake_kernel_filter_passed_packets_total', 'Packets the kernel filter passed to the capture.');
    this.#filterDropped = counter('slowshake_kernel_filter_dropped_packets_total', 'Packets the kernel filter kept from user space (finished handshakes, bulk data).');
    this.#filterFlows = counter('slowshake_kernel_filter_flows_total', 'Flows the kernel filter started following (SYNs).');
    this.#filterMapFlows = new Gauge({ name: 'slowshake_kernel_filter_map_flows', help: 'Flows in the kernel filter map (an upper bound: entries stay until the LRU map evicts them at its size).', registers: [r] });
    this.#filterEvictions = counter('slowshake_kernel_filter_evictions_total', 'Flows the kernel filter map evicted at its size (at least this many; a flood of SYNs evicts real flows).');
    this.#overruns = counter('slowshake_follower_overruns_total', 'Times the capture thread lapped the live analyzer in the ring (packets skipped).');
    this.#evicted = counter('slowshake_analyzer_flows_evicted_total', 'Flows the analyzer evicted at its flow bound (a flood).');
    this.#network = new Counter({
      name: 'slowshake_slow_handshakes_by_network_total', help: 'Slow handshakes by client network: provider/region/service or ASN from client attribution, else the /24 or /48 (the top networks by count; the rest are "other").',
      labelNames: ['network', 'verdict'], registers: [r],
    });
    for (const verdict of VERDICTS) this.#network.inc({ network: 'other', verdict }, 0);
    for (const mode of FILTER_MODES) this.#filterMode.set({ mode }, 0);
    if (opts.processMetrics !== false) processMetrics(r);
    // Every label combination of the handshake counter exists from the start, so rate() sees a
    // first increment and dashboards show zeros instead of gaps.
    for (const verdict of ['client', 'network', 'server', 'loss', 'incomplete']) {
      for (const slow of ['true', 'false']) for (const tls_version of ['1.2', '1.3']) this.#handshakes.inc({ verdict, tls_version, slow }, 0);
      this.#durationBy.set(verdict, new HistogramSeries(this.#duration, { verdict }, HANDSHAKE_BUCKETS));
    }
    for (const phase of PHASE_LABELS) this.#phaseSeries.push(new HistogramSeries(this.#phase, { phase }, PHASE_BUCKETS));
  }

  /** Counts one handshake's record (no allocation once its label set was seen). */
  observe(rec: FlowRecord): void {
    const tls = rec.tls_version !== null && TLS_VERSIONS.has(rec.tls_version) ? rec.tls_version : 'unknown';
    const slow = rec.slow ? 'true' : 'false';
    const key = HANDSHAKE_KEYS.get(rec.verdict)?.get(tls)?.[rec.slow ? 1 : 0] ?? `${rec.verdict}\u0000${tls}\u0000${slow}`;
    let p = this.#handshakesPending.get(key);
    if (p === undefined) {
      this.#handshakes.inc({ verdict: rec.verdict, tls_version: tls, slow }, 0); // validates the labels, and the series exists in first-seen order
      p = { labels: { verdict: rec.verdict, tls_version: tls, slow }, n: 0 };
      this.#handshakesPending.set(key, p);
    }
    p.n++;
    if (rec.phases_ms.total !== null) {
      const d = this.#durationBy.get(rec.verdict);
      if (d !== undefined) d.observe(rec.phases_ms.total / 1000);
      else this.#duration.observe({ verdict: rec.verdict }, rec.phases_ms.total / 1000);
    }
    const series = this.#phaseSeries;
    for (let i = 0; i < PHASE_LABELS.length; i++) {
      const v = rec.phases_ms[PHASE_LABELS[i]!];
      if (v !== null) series[i]!.observe(v / 1000);
    }
  }

  setCapture(t: CaptureTotals): void {
    for (const k of Object.keys(this.#capture) as CaptureCounter[]) this.#capture[k].set(t[k]);
    this.#reach.set(t.ringReachSeconds);
  }

  setJournal(t: JournalTotals): void {
    this.#journalEntries.set(t.entries);
    this.#journalEvents.set(t.events);
    if (t.lagSeconds !== null) this.#journalLag.set(t.lagSeconds);
  }

  setEvidence(t: EvidenceTotals): void {
    this.#pcaps.set(t.pcapsWritten);
    this.#writeFailures.set(t.writeFailures);
    if (t.bytesOnDisk !== undefined) this.#bytesOnDisk.set(t.bytesOnDisk);
    if (t.deletedFiles !== undefined) this.#deletedFiles.set(t.deletedFiles);
    if (t.deletedBytes !== undefined) this.#deletedBytes.set(t.deletedBytes);
    if (t.diskFull !== undefined) this.#diskFull.set(t.diskFull ? 1 : 0);
    if (t.refused !== undefined) this.#refused.set(t.refused);
    for (const [cause, n] of Object.entries(t.failuresByCause ?? {})) {
      const last = this.#causeLast.get(cause) ?? 0;
      if (n > last) { this.#failuresByCause.inc({ cause }, n - last); this.#causeLast.set(cause, n); }
    }
  }

  setJournalMatched(n: number): void {
    this.#journalMatched.set(n);
  }

  setFilter(t: FilterTotals): void {
    for (const mode of FILTER_MODES) this.#filterMode.set({ mode }, mode === t.mode ? 1 : 0);
    this.#filterPassed.set(t.passed);
    this.#filterDropped.set(t.dropped);
    this.#filterFlows.set(t.flowsStarted);
    if (t.flowsInMap !== null) this.#filterMapFlows.set(t.flowsInMap);
    if (t.evictions != null) this.#filterEvictions.set(t.evictions);
    this.#overruns.set(t.followerOverruns);
    this.#evicted.set(t.analyzerFlowsEvicted);
  }

  /** One slow handshake of a client network (`network` is a slot's label or "other"). */
  networkSlow(network: string, verdict: string): void {
    this.#network.inc({ network, verdict });
  }

  /** A network lost its slot (no slow handshake for a long time): its series end. */
  networkRemoved(network: string): void {
    for (const verdict of VERDICTS) this.#network.remove({ network, verdict });
  }

  /** A network got a slot: its series start at zero. */
  networkAdded(network: string): void {
    for (const verdict of VERDICTS) this.#network.inc({ network, verdict }, 0);
  }
}

/** CPU seconds (user + system), resident memory, V8 heap and start time of this process. */
function processMetrics(r: Registry): void {
  let cpuLast = 0;
  new Counter({
    name: 'slowshake_process_cpu_seconds_total', help: 'CPU time of this process (every thread), user and system.', registers: [r],
    collect(this: Counter) {
      const u = process.cpuUsage();
      const total = (u.user + u.system) / 1e6;
      if (total > cpuLast) this.inc(total - cpuLast);
      cpuLast = Math.max(cpuLast, total);
    },
  });
  new Gauge({
    name: 'slowshake_process_resident_memory_bytes', help: 'Resident set size of this process.', registers: [r],
    collect(this: Gauge) { this.set(process.memoryUsage.rss()); },
  });
  new Gauge({
    name: 'slowshake_process_heap_bytes', help: 'V8 heap in use.', registers: [r],
    collect(this: Gauge) { this.set(process.memoryUsage().heapUsed); },
  });
  new Gauge({ name: 'slowshake_process_start_time_seconds', help: 'Start time of this process since the Unix epoch.', registers: [r] })
    .set(Math.round(Date.now() / 1000 - process.uptime()));
}

/** `/metrics` over HTTP (GET only; anything else is 404/405). Listens on loopback by default. */
export class MetricsServer {
  readonly #server: Server;
  scrapes = 0;

  constructor(readonly metrics: HandshakeMetrics) {
    this.#server = createServer((req, res) => {
      if (req.url !== '/metrics' && !req.url?.startsWith('/metrics?')) { res.writeHead(404).end('not found: try /metrics\n'); return; }
      if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return; }
      this.scrapes++;
      metrics.registry.metrics().then(
        (text) => { res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(req.method === 'HEAD' ? undefined : text); },
        (err: Error) => { res.writeHead(500).end(`${err.message}\n`); },
      );
    });
  }

  /** Starts listening; resolves with the bound address (port 0 picks a free one). */
  listen(host = '127.0.0.1', port = 9464): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => {
        this.#server.off('error', reject);
        const a = this.#server.address();
        resolve(typeof a === 'object' && a !== null ? { host: a.address, port: a.port } : { host, port });
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
