/**
 * `slowshake analyze FILE…`: every TLS handshake in existing captures, broken into phases.
 *
 * 1. Options are validated up front (one-line errors naming the option).
 * 2. Journal events (--events) are loaded before the packets so records can carry them as they
 *    stream out.
 * 3. Files are read in order through one analyzer (rotated captures continue flows).
 * 4. Records go to stdout as ndjson while reading, or are collected for table/json; slow flows
 *    get a pcap in --out; --ladder draws the chosen flow.
 * 5. Client attribution (src/enrich): every record gets `client_info` (--ranges, --asn-db;
 *    reverse DNS only with --rdns) before it is written or printed; the pcap write does not wait
 *    for it. The summary ends with "Top slow networks".
 * 6. A write that fails (--out or --records on a full disk) loses nothing else, as in capture
 *    (sinks/lost-results.ts): the record goes on with `reason` naming what, the error and the
 *    path, the summary counts failures by cause, and the exit status is EXIT_RESULTS_LOST.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeStdout, writeStdoutBytes } from './stdout.js';
import { parseArgs } from 'node:util';
import { DecodedPacket } from '../decode/packet.js';
import { Analyzer, DEFAULT_MAX_FLOWS, DEFAULT_MAX_FLOWS_KEPT } from '../handshake/analyzer.js';
import type { FlowRecord } from '../handshake/record.js';
import { JsonOut, writeRecordJson } from '../handshake/record-json.js';
import { MAX_KEPT_PACKETS, type KeptPacket } from '../handshake/tracker.js';
import { readCaptureFile, type ReadResult } from '../sources/capture-file.js';
import { CaptureFileError } from '../sources/capture-error.js';
import { EventMatcher } from '../correlate/event-matcher.js';
import { parseJournalEntry, parseEndpoint, type SlowEvent } from '../correlate/journal-event.js';
import { buildPcap, ensurePrivateDir, flowFileName, writeFileAtomic } from '../sinks/pcap-writer.js';
import { LostResults } from '../sinks/lost-results.js';
import { renderTable, TABLE_LEGEND, verdictTotals } from '../sinks/report.js';
import { renderLadder } from '../sinks/ladder.js';
import { milliseconds, outputFormat, proxyClock } from './options.js';
import type { ProxyClock } from '../correlate/proxy-lag.js';
import { EXIT_BAD_INPUT, EXIT_OK, EXIT_RESULTS_LOST, UsageError } from './errors.js';
import { ANALYZE_RDNS, DEFAULT_SLOW_MS, DEFAULTS } from '../config/defaults.js';
import { ENRICH_FLAGS, FLAG_OPTIONS, enrichFlagGiven } from '../config/flag-table.js';
import type { Config } from '../config/schema.js';
import { EnrichInputError, enrichCounters, openEnricher, renderTopNetworks, SAMPLE_ROW, TopNetworks, type Enricher, type EnrichSettings } from '../enrich/index.js';
import { log } from '../telemetry/log.js';
import { analyzeThreaded, chooseThreads, type MergedAnalysis } from './analyze-threads.js';

const HELP = `usage: slowshake analyze [options] FILE... (pcap, pcapng, optionally gzipped; - for stdin)

  --format table|json|ndjson  output format (default: table on a terminal, else ndjson)  [SLOWSHAKE_FORMAT]
  --slow MS                   slow threshold for the total handshake time (default ${DEFAULT_SLOW_MS})  [SLOWSHAKE_SLOW]
  --all                       table: include fast flows too (json/ndjson always carry every TLS flow)
  --out DIR                   write a pcap per slow flow into DIR (0700 dir, 0600 files)  [SLOWSHAKE_OUT]
  --events FILE               journal entries (journalctl -o json) to attach to flows  [SLOWSHAKE_EVENTS]
  --records FILE              also append every record to FILE (length-delimited protobuf, 0600;
                              read it back with slowshake records)  [SLOWSHAKE_RECORDS]
  --event-margin MS           time slack when matching events to flows (default 2000)
  --proxy-clock accept|syn    where the proxy's handshake clock starts, for proxy_lag_ms (default accept)
  --max-flows N               flows tracked at once at most (default ${DEFAULT_MAX_FLOWS}, ${DEFAULT_MAX_FLOWS_KEPT} with --out or --flow);
                              beyond it the oldest is evicted, counted, and an evicted handshake's record
                              says so  [SLOWSHAKE_MAX_FLOWS]
  --flow IP:PORT              select one flow by an endpoint ([v6]:port for IPv6); with --ladder
  --ladder                    draw the selected flow as a packet ladder
  --no-progress               never draw a progress bar
  --threads N                 threads, flows split between them by hash (each reads the file and
                              analyses its share); the output is the same for any N (default 1;
                              always 1 for stdin, pipes and gzip)  [SLOWSHAKE_THREADS]

client attribution (client_info on every record, "Top slow networks" in the summary):
  --ranges FILE               cloud IP-range file: AWS ip-ranges.json, Google cloud.json/goog.json
                              (repeatable)  [SLOWSHAKE_RANGES, comma-separated]
  --asn-db FILE               MaxMind-format ASN database (.mmdb, e.g. GeoLite2-ASN)  [SLOWSHAKE_ASN_DB]
  --rdns / --no-rdns          reverse DNS of client addresses (default off for analyze)
  --dns-server ADDR[:PORT]    DNS server for --rdns (default: the system's resolvers)  [SLOWSHAKE_DNS_SERVER]
  --rdns-timeout MS           PTR query timeout (default ${DEFAULTS.enrich.rdnsTimeoutMs})  [SLOWSHAKE_RDNS_TIMEOUT]`;

interface Opts {
  format: 'table' | 'json' | 'ndjson';
  slowMs: number;
  all: boolean;
  out: string | null;
  events: string | null;
  records: string | null;
  eventMarginMs: number;
  proxyClock: ProxyClock;
  /** null: the analyzer's default (lower with --out or --flow). */
  maxFlows: number | null;
  flow: string | null;
  ladder: boolean;
  progress: boolean;
  /** null: chosen by chooseThreads (defaultThreads). */
  threads: number | null;
  files: string[];
  /** The defaults until run() has checked the enrich flags (`enrichFlags`) against the schema. */
  enrich: EnrichSettings;
  /** The parsed values when an enrich flag or its SLOWSHAKE_* twin is set, else null. */
  enrichFlags: { values: Record<string, string | boolean | string[] | undefined>; env: NodeJS.ProcessEnv } | null;
}

const ENRICH_OPTIONS = Object.fromEntries(ENRICH_FLAGS.map((f) => [f, FLAG_OPTIONS[f]!]));

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Opts | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        format: { type: 'string' }, slow: { type: 'string' }, all: { type: 'boolean' }, out: { type: 'string' },
        events: { type: 'string' }, records: { type: 'string' }, 'event-margin': { type: 'string' }, flow: { type: 'string' },
        'max-flows': { type: 'string' }, threads: { type: 'string' },
        ladder: { type: 'boolean' }, 'no-progress': { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
        'proxy-clock': { type: 'string' },
        ...ENRICH_OPTIONS,
      },
    });
  } catch (err) {
    throw new UsageError(`analyze: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  if (v.help) return null;
  const format = outputFormat(v.format, env);
  const slowText = v.slow ?? env.SLOWSHAKE_SLOW;
  let flow: string | null = null;
  if (v.flow !== undefined) {
    const ep = parseEndpoint(v.flow);
    if (ep === null) throw new UsageError(`--flow: expected IP:PORT or [IPv6]:PORT, got "${v.flow}"`);
    flow = ep.ep;
  }
  if (v.ladder && flow === null) throw new UsageError('--ladder needs --flow IP:PORT to choose the flow');
  if (parsed.positionals.length === 0) throw new UsageError('analyze: no capture file given (use - for stdin)');
  const values = v as Record<string, string | boolean | string[] | undefined>;
  const enrich: EnrichSettings = { ...DEFAULTS.enrich, rdns: ANALYZE_RDNS, ranges: [...DEFAULTS.enrich.ranges] };
  return {
    format,
    slowMs: slowText !== undefined ? milliseconds('--slow', slowText) : DEFAULT_SLOW_MS,
    all: v.all ?? false,
    out: v.out ?? env.SLOWSHAKE_OUT ?? null,
    events: v.events ?? env.SLOWSHAKE_EVENTS ?? null,
    records: v.records ?? env.SLOWSHAKE_RECORDS ?? null,
    eventMarginMs: v['event-margin'] !== undefined ? milliseconds('--event-margin', v['event-margin']) : 2000,
    proxyClock: proxyClock(v['proxy-clock'] ?? env.SLOWSHAKE_PROXY_CLOCK),
    maxFlows: maxFlows(v['max-flows'] ?? env.SLOWSHAKE_MAX_FLOWS),
    flow,
    ladder: v.ladder ?? false,
    progress: !v['no-progress'],
    threads: threadCount(v.threads ?? env.SLOWSHAKE_THREADS),
    files: parsed.positionals,
    enrich,
    enrichFlags: enrichFlagGiven(values, env, ENRICH_FLAGS) ? { values, env } : null,
  };
}

/**
 * The enrich flags checked against the config schema. The schema (zod) is loaded only when one
 * is given: it costs ~0.1 s of start-up, a quarter of a 500k-packet analyze (issue 13).
 */
async function resolveEnrich(opts: Opts): Promise<void> {
  if (opts.enrichFlags === null) return;
  const { layerFromFlags } = await import('../config/flags.js');
  const layer = layerFromFlags(opts.enrichFlags.values, opts.enrichFlags.env, DEFAULTS, ENRICH_FLAGS).enrich ?? {};
  opts.enrich = { ...opts.enrich, ...(layer as Partial<Config['enrich']>) };
}

/** The enricher for the options; a bad file is a usage error naming its option and the file. */
function enricherFor(s: EnrichSettings): Enricher {
  try {
    return openEnricher(s);
  } catch (err) {
    if (!(err instanceof EnrichInputError)) throw err;
    throw new UsageError(`${err.file === s.asnDb ? '--asn-db' : '--ranges'} ${err.message}`);
  }
}

/** --threads: a whole number from 1 to 64. */
function threadCount(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!/^\s*[0-9]+\s*$/.test(text) || n < 1 || n > 64) throw new UsageError(`--threads: expected a whole number of threads from 1 to 64, got "${text}"`);
  return n;
}

/** --max-flows: a whole number of flows, at least 1 (at most 2^26: the flow table's arrays are sized by it). */
function maxFlows(text: string | undefined): number | null {
  if (text === undefined) return null;
  const n = Number(text);
  if (!/^\s*[0-9]+\s*$/.test(text) || n < 1 || n > 1 << 26) throw new UsageError(`--max-flows: expected a whole number of flows from 1 to ${1 << 26}, got "${text}"`);
  return n;
}

interface EventLoad { events: SlowEvent[]; malformed: number; skipped: number; firstProblems: string[] }

export function loadEvents(path: string): EventLoad {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`${path}: cannot read events: ${code === 'ENOENT' ? 'no such file' : code}`);
  }
  const out: EventLoad = { events: [], malformed: 0, skipped: 0, firstProblems: [] };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    if (line === '') continue;
    let entry: unknown;
    try {
      entry = JSON.parse(line);
    } catch {
      out.malformed++;
      if (out.firstProblems.length < 3) out.firstProblems.push(`${path}: line ${i + 1}: not a JSON object`);
      continue;
    }
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      out.malformed++;
      if (out.firstProblems.length < 3) out.firstProblems.push(`${path}: line ${i + 1}: not a JSON object`);
      continue;
    }
    const r = parseJournalEntry(entry as Record<string, unknown>, i + 1);
    if ('event' in r) out.events.push(r.event);
    else out.skipped++;
  }
  return out;
}

const writeOut = writeStdout;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts === null) {
    writeOut(`${HELP}\n\n${TABLE_LEGEND}\n`);
    return EXIT_OK;
  }
  await resolveEnrich(opts);
  const ev = opts.events !== null ? loadEvents(opts.events) : null;
  const matcher = ev ? new EventMatcher(ev.events, opts.eventMarginMs, opts.proxyClock) : null;
  if (opts.out !== null) {
    try {
      ensurePrivateDir(opts.out);
    } catch (err) {
      throw new UsageError(`--out: ${(err as Error).message}`);
    }
  }
  const enricher = enricherFor(opts.enrich);
  const top = new TopNetworks();
  const lost = new LostResults();
  // loaded only when asked for: protobufjs adds ~35 ms to startup. An existing file is checked
  // (and an unusable path refused, exit 2) at start.
  let recordSink = null;
  if (opts.records !== null) {
    const [{ RecordStreamWriter }, { RecordSink }] = await Promise.all([import('../sinks/protobuf-records.js'), import('../sinks/record-sink.js')]);
    recordSink = new RecordSink(opts.records, RecordStreamWriter.open(opts.records), lost);
  }
  const records: FlowRecord[] = [];
  const ladders: { rec: FlowRecord; kept: KeptPacket[] }[] = [];
  let pcapsWritten = 0;
  const problems: string[] = [];
  /** ndjson not written yet (records are serialised straight into it), flushed every 64 KiB. */
  const nd = new JsonOut(1 << 17);
  const flushNd = (): void => { writeStdoutBytes(nd.buf.subarray(0, nd.pos)); nd.pos = 0; };
  /** A record's way from the analyzer (here or in a worker): events, pcap, ladder, then attribution. */
  const onRecord = (rec: FlowRecord, start: number, firstTs: number, lastTs: number, kept: KeptPacket[] | null): void => {
    matcher?.attach(rec, start, lastTs);
    if (opts.out !== null && rec.slow && kept !== null && kept.length > 0) {
      const { bytes } = buildPcap(kept, kept[0]!.linkType);
      const name = flowFileName(firstTs, rec.client, rec.server);
      const out = opts.out;
      const path = lost.attempt(rec, 'flow', 'pcap not written', join(out, name), () => writeFileAtomic(out, name, bytes));
      if (path !== undefined) { rec.pcap = path; pcapsWritten++; }
    }
    if (opts.flow !== null && kept !== null && (rec.client === opts.flow || rec.server === opts.flow)) ladders.push({ rec, kept });
    enricher.submit(rec, emit);
  };
  /** Records already written by a threaded run that stopped (see analyze-threads.ts 4.): the re-run skips them. */
  let skip = 0;
  const analyzer: Analyzer = new Analyzer({
    slowMs: opts.slowMs,
    keepPackets: opts.out !== null,
    flowFilter: opts.flow,
    maxFlows: opts.maxFlows ?? undefined,
    onRecord: (rec, t) => {
      if (skip > 0) { skip--; return; }
      onRecord(rec, t.timeline[0]! >= 0 ? t.timeline[0]! : t.firstTs, t.firstTs, t.lastTs, t.kept);
    },
  });
  /** The rest of a record's way, once client_info is complete. */
  const emit = (rec: FlowRecord): void => {
    recordSink?.append(rec);
    if (rec.slow) top.add(rec);
    if (opts.ladder) return;
    if (opts.format === 'ndjson') {
      writeRecordJson(rec, nd);
      nd.room(1);
      nd.buf[nd.pos++] = 10;
      if (nd.pos > 65536) flushNd();
    } else if (opts.flow === null || rec.client === opts.flow || rec.server === opts.flow) {
      records.push(rec);
    }
  };
  const reads: (ReadResult & { file: string })[] = [];
  const progress = opts.progress && process.stderr.isTTY ? makeProgress() : undefined;
  let analysis: MergedAnalysis = analyzer;
  let single = true;
  const threads = chooseThreads(opts.files, opts.threads);
  if (threads > 1) {
    // Text mode: the worker threads attribute and serialise each ndjson line themselves (share 0, on this thread, goes through onRecord).
    const text = opts.format === 'ndjson' && !opts.ladder && matcher === null && opts.out === null && recordSink === null && opts.flow === null && !opts.enrich.rdns;
    const r = await analyzeThreaded({
      files: opts.files, threads, slowMs: opts.slowMs, keepPackets: opts.out !== null, flowFilter: opts.flow, maxFlows: analyzer.maxFlows,
      text: text ? opts.enrich : null, keptForSlow: opts.out !== null, onProgress: progress,
      onLine: (text, start, end, slow, at) => {
        if (slow !== null) top.addParts(slow.keys[at]!, slow.kinds[at] ?? 'prefix', slow.verdicts[at]!, slow.rdns[at]!, slow.rows, at * SAMPLE_ROW);
        nd.room(end - start);
        nd.buf.set(text.subarray(start, end), nd.pos);
        nd.pos += end - start;
        if (nd.pos > 65536) flushNd();
      },
      onItem: (it) => onRecord(it.rec, it.start, it.firstTs, it.lastTs, it.kept),
    });
    if (r.unsafe) {
      skip = r.released;
      log.debug({ threads, released: r.released }, 'Flows near --max-flows: analysing again in one thread.');
    } else {
      single = false;
      analysis = r.analysis;
      reads.push(...r.reads);
      problems.push(...r.problems);
      if (r.enrich !== null) {
        enricher.absorb(r.enrich);
        if (enricher.asn !== null) enricher.asn.errors += r.enrich.asn_errors;
      }
    }
  }
  const pkt = new DecodedPacket();
  for (const file of single ? opts.files : []) {
    try {
      const started = performance.now();
      const r = await readCaptureFile(file, pkt, analyzer, { onProgress: progress });
      reads.push({ ...r, file });
      log.debug({ file, format: r.format, gzip: r.gzip, packets: r.packets, bytes: r.bytes, ms: Math.round(performance.now() - started) }, 'Capture file read.');
      problems.push(...r.warnings);
    } catch (err) {
      if (!(err instanceof CaptureFileError)) throw err;
      problems.push(err.message);
      reads.push({ file, format: 'pcap', gzip: false, bytes: err.offset, packets: 0, warnings: [err.message] });
    }
  }
  if (progress) process.stderr.write('\r\x1b[K');
  if (single) analyzer.finish();
  await enricher.drain();
  enricher.close();
  recordSink?.close();
  const fatal = reads.filter((r) => r.warnings.some((w) => !/truncated last record|gzip stream ends early/.test(w)));
  if (analysis.stats.packets === 0 && fatal.length > 0) {
    for (const p of problems) process.stderr.write(`slowshake: ${p}\n`);
    return EXIT_BAD_INPUT;
  }
  const summary = { ...buildSummary(analysis, reads, records, ev, matcher, pcapsWritten, lost), ...enrichSummary(enricher, top, opts.enrich.topNetworks) };
  if (opts.ladder) {
    if (ladders.length === 0) problems.push(`--flow ${opts.flow}: no TLS handshake with that endpoint in the capture`);
    for (const l of ladders) writeOut(renderLadder(l.rec, l.kept) + '\n');
  } else if (opts.format === 'ndjson') {
    if (nd.pos > 0) flushNd();
    process.stderr.write(summaryText(summary, lost) + '\n');
  } else if (opts.format === 'json') {
    writeOut(JSON.stringify({ flows: records, summary }, null, 2) + '\n');
  } else {
    const network = opts.enrich.ranges.length > 0 || opts.enrich.asnDb !== null || opts.enrich.rdns;
    writeOut(renderTable(records, opts.slowMs, opts.all, { pcap: opts.out !== null, event: matcher !== null, network }));
    writeOut(summaryText(summary, lost) + '\n');
  }
  for (const p of ev?.firstProblems ?? []) process.stderr.write(`slowshake: warning: ${p}\n`);
  if (matcher) {
    for (const u of matcher.unmatched()) {
      process.stderr.write(`slowshake: event with no flow: line ${u.line}: client ${u.client}${u.serverPort !== null ? ` server port ${u.serverPort}` : ''} at ${new Date(u.endUs / 1000).toISOString()}${u.elapsedMs !== null ? ` elapsed ${u.elapsedMs} ms` : ''}\n`);
    }
  }
  for (const p of problems) process.stderr.write(`slowshake: ${fatal.length > 0 ? '' : 'warning: '}${p}\n`);
  if (fatal.length > 0) return EXIT_BAD_INPUT;
  if (!lost.empty) {
    process.stderr.write(`slowshake: ${lost.headline()}\n`);
    return EXIT_RESULTS_LOST;
  }
  return EXIT_OK;
}

function makeProgress(): (done: number, total: number) => void {
  let last = 0;
  return (done, total) => {
    if (total < 32 * 1024 * 1024) return;
    const now = Date.now();
    if (now - last < 200 && done < total) return;
    last = now;
    const frac = Math.min(1, done / total);
    const bar = '#'.repeat(Math.round(frac * 30)).padEnd(30, '.');
    process.stderr.write(`\r[${bar}] ${(frac * 100).toFixed(0)}% ${(done / 1048576).toFixed(0)}/${(total / 1048576).toFixed(0)} MiB`);
  };
}

function buildSummary(a: MergedAnalysis, reads: (ReadResult & { file: string })[], records: FlowRecord[], ev: EventLoad | null, m: EventMatcher | null, pcaps: number, lost: LostResults) {
  const s = a.stats;
  return {
    files: reads.map((r) => ({ file: r.file, format: r.format, gzip: r.gzip, packets: r.packets, bytes: r.bytes, warnings: r.warnings })),
    packets: s.packets,
    bytes: s.bytes,
    tcp_packets: s.tcpPackets,
    tls_flows: s.tlsFlows,
    slow_flows: records.length > 0 ? records.filter((r) => r.slow).length : undefined,
    non_tls_flows: s.nonTlsFlows,
    untracked_segments: s.untrackedSegments,
    malformed_packets: a.anomalies.malformedTotal(),
    anomalies: a.anomalies.toObject(),
    idle_evicted_flows: s.idleEvicted,
    max_flows: a.maxFlows,
    flows_evicted: s.flowsEvicted,
    evicted_handshakes: s.evictedHandshakes,
    kept_packet_cap_flows: s.keptCapFlows,
    kept_packets_dropped: s.keptPacketsDropped,
    kept_lost_early_flows: s.keptLostEarlyFlows,
    kept_packets_lost_early: s.keptPacketsLostEarly,
    verdicts: records.length > 0 ? verdictTotals(records) : undefined,
    pcaps_written: pcaps,
    write_failures: lost.empty ? undefined : lost.toObject(),
    events: ev && m ? {
      events: ev.events.length, matched: ev.events.length - m.unmatched().length, unmatched: m.unmatched().length,
      duplicates: m.duplicates, not_events: ev.skipped, malformed_lines: ev.malformed,
    } : undefined,
  };
}

function enrichSummary(e: Enricher, top: TopNetworks, n: number) {
  return {
    ranges: e.ranges?.files.map((f) => ({ ...f })),
    asn_db: e.asn ? { file: e.asn.file, database_type: e.asn.databaseType } : undefined,
    enrich: enrichCounters(e),
    top_slow_networks: top.top(n),
    top_slow_networks_unattributed: top.unattributed,
  };
}

function enrichText(s: ReturnType<typeof enrichSummary>): string {
  let out = '';
  const c = s.enrich;
  if (c.rdns_lookups !== undefined) {
    out += `\nReverse DNS: ${c.rdns_lookups} queries, ${c.rdns_cache_hits} cache hits, ${c.rdns_answered} answered, ${c.rdns_not_found} no name, ` +
      `${c.rdns_timeouts} timeouts, ${c.rdns_failures} failures, ${c.rdns_rate_limited} waited for the rate limit, ${c.rdns_waited_for_slot} for a slot, ` +
      `${c.rdns_dropped} dropped (queue full); records emitted without waiting for it: ${c.rdns_wait_expired} (wait expired), ${c.rdns_wait_overflow} (too many waiting), ${c.rdns_wait_closed} (stopped)`;
  }
  if (c.asn_errors) out += `\nASN database: ${c.asn_errors} records could not be decoded (asn null)`;
  const t = renderTopNetworks(s.top_slow_networks, { unattributed: s.top_slow_networks_unattributed });
  if (t) out += `\n${t}`;
  return out;
}

function summaryText(s: ReturnType<typeof buildSummary> & ReturnType<typeof enrichSummary>, lost: LostResults): string {
  const parts = [`${s.packets} packets`, `${s.tls_flows} TLS flows`];
  if (s.slow_flows !== undefined) parts.push(`${s.slow_flows} slow`);
  parts.push(`${s.non_tls_flows} other TCP flows`, `${s.malformed_packets} malformed packets`);
  const an = Object.entries(s.anomalies).map(([k, v]) => `${k} ${v}`).join(', ');
  let out = `Summary: ${parts.join(', ')}`;
  if (an) out += `\nSkipped/anomalies: ${an}`;
  if (s.flows_evicted) {
    out += `\nFlow limit: ${s.flows_evicted} flows evicted (oldest first) to stay within --max-flows ${s.max_flows}; ` +
      `${s.evicted_handshakes} of them handshakes whose records were emitted at eviction (noted in each record)`;
  }
  if (s.kept_packet_cap_flows) out += `\nKept-packet limit: ${s.kept_packets_dropped} packets of ${s.kept_packet_cap_flows} flows not in their per-flow pcaps (${MAX_KEPT_PACKETS} per flow)`;
  if (s.kept_lost_early_flows) {
    out += `\nKept packets reused: ${s.kept_packets_lost_early} packets from before the first payload of ${s.kept_lost_early_flows} flows not in their ` +
      'per-flow pcaps (the area shared by flows without payload was reused by newer flows)';
  }
  if (s.pcaps_written) out += `\nPer-flow pcaps written: ${s.pcaps_written}`;
  if (s.events) out += `\nEvents: ${s.events.events} parsed, ${s.events.matched} matched, ${s.events.unmatched} with no flow, ${s.events.duplicates} duplicates, ${s.events.not_events} entries not events, ${s.events.malformed_lines} malformed lines`;
  for (const l of lost.summary()) out += `\n${l}`;
  return out + enrichText(s);
}
