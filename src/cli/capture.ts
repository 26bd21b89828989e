/**
 * `slowshake capture -i IFACE`: live capture into the native ring.
 *
 * 1. Validate options (sizes, durations, ranges) and open the device; errors are one line.
 * 2. While capturing: a one-line status on a TTY (packets/s, ring reach, kernel drops,
 *    overwrites); SIGUSR1 writes a whole-ring snapshot into --out while capture goes on.
 * 3. On --duration, SIGINT/SIGTERM, or the interface going away: stop within a second, write
 *    --dump-ring, print the summary with the same figures.
 *
 * Around that (issue 8): every output is checked before the device opens (capture-outputs.ts),
 * and once the capture handle is open root is dropped (privileges.ts). A write that fails later
 * never loses a result silently: the record says why, the summary counts it by cause and names
 * the path, and the exit status is EXIT_RESULTS_LOST.
 */
import { takeEarlyUsr1 } from './early-signals.js';
import { parseArgs } from 'node:util';
import { LiveCapture, CAPTURE_DEFAULTS, CaptureError, type CaptureOptions, type NativeStats } from '../sources/live-capture.js';
import { RingReader } from '../ring/reader.js';
import { AtomicCaptureWriter, describeError, snapshotFileName } from '../sinks/pcap-writer.js';
import { LostResults } from '../sinks/lost-results.js';
import { RecordSink } from '../sinks/record-sink.js';
import { formatBytes, formatDuration, formatSize, parseDuration, parseSize } from '../config/units.js';
import { DEFAULTS } from '../config/defaults.js';
import { EXIT_INTERNAL, EXIT_OK, EXIT_RESULTS_LOST, UsageError } from './errors.js';
import { milliseconds, proxyClock } from './options.js';
import { writeStdout } from './stdout.js';
import { basename, dirname, join, resolve } from 'node:path';
import { JournalFollower, JOURNAL_DEFAULTS, systemJournalProblem } from '../sources/journald.js';
import { DEFAULT_EVENT_FIELDS, DEFAULT_EVENT_PARSER, parseJournalEntry, type EventFieldNames, type EventParserConfig } from '../correlate/journal-event.js';
import { LiveEngine } from '../live/engine.js';
import { EnrichInputError, openEnricher, renderTopNetworks, TopNetworks, type Enricher } from '../enrich/index.js';
import { ENRICH_FLAGS, FLAG_OPTIONS, layerFromFlags } from '../config/flags.js';
import type { Config } from '../config/schema.js';
import { recordToJson } from '../handshake/record-json.js';
import { renderSpotTable, SpotRecords, spotTableLegend } from '../sinks/spot-table.js';
import type { ProxyClock } from '../correlate/proxy-lag.js';
import { checkOutputs, openOutputs, type CaptureOutputs, type DumpTarget } from './capture-outputs.js';
import { asUser, dropPrivileges, journalReadProblem, resolveRunAs } from './privileges.js';
import { reportTargetProblem, writeReport } from '../report/index.js';
import { CaptureFileError } from '../sources/capture-error.js';

const HELP = `usage: slowshake capture -i IFACE [options]

  -i, --interface IFACE    interface to capture on ("any" for all)           [SLOWSHAKE_INTERFACE]
  --filter BPF             capture filter (libpcap syntax)                    [SLOWSHAKE_FILTER]
  --snaplen BYTES          bytes kept per packet (default ${DEFAULTS.capture.snaplen})
  --buffer-size SIZE       kernel packet buffer (default ${formatSize(DEFAULTS.capture.bufferSize)})               [SLOWSHAKE_BUFFER_SIZE]
  --ring-size SIZE         packet ring in memory (default ${formatSize(DEFAULTS.capture.ringSize)}; 512MiB, 1GiB …) [SLOWSHAKE_RING_SIZE]
  --no-promisc             do not put the interface into promiscuous mode
  --handshake-only         the kernel passes only handshakes: watch's per-flow eBPF filter (each flow from its SYN
                           until its handshake is done, then FIN/RST; classic BPF where eBPF cannot load, records
                           then marked estimated). Default: full capture
  --duration TIME          stop after TIME (30s, 10m, 1h); default: until Ctrl-C
  --dump-ring FILE         at the end, write everything the ring holds to FILE (.pcap or .pcapng)
  --out DIR                per-flow pcaps, records and SIGUSR1 snapshots (default ./${DEFAULTS.output.directory})  [SLOWSHAKE_OUT]
  --user NAME              once the interface is open, run as NAME (default slowshake, else nobody; root keeps root)  [SLOWSHAKE_USER]

spot check (journal events -> per-flow pcaps and breakdowns):
  --unit UNIT              journal match _SYSTEMD_UNIT (repeatable)             [SLOWSHAKE_UNIT]
  --identifier ID          journal match SYSLOG_IDENTIFIER (repeatable)          [SLOWSHAKE_IDENTIFIER]
  --journal-dir DIR        follow a journal directory instead of the system journal
  --no-journal             capture only; do not follow the journal
  --event-pattern REGEX    entries whose MESSAGE matches are events (default: handshake, any case)
  --event-regex REGEX      parse MESSAGE with named groups remote, local, sni, elapsed
  --event-field KEY=NAME   read KEY (remote, local, sni, elapsed) from journal field or logfmt key NAME
                           first (repeatable; defaults: REMOTE_ADDR/remote_addr, LOCAL_ADDR/local_addr, …)
  --hold TIME              keep collecting a flow after its event (default ${formatDuration(DEFAULTS.handshake.holdMs)})
  --margin TIME            look back this much before the event's start (default ${formatDuration(DEFAULTS.handshake.marginMs)})
  --slow MS                slow threshold for records (default ${DEFAULTS.handshake.slowMs})
  --format table|ndjson    final table (default), or one record per line on stdout as written
  --wide                   table: every column at full width (default: fitted to the terminal)
  --proxy-clock accept|syn where the proxy's handshake clock starts (default accept): proxy_lag_ms is its
                           figure minus the wire time from accept (the client's ACK) or the SYN to done
  --pcap-format pcapng|pcap  per-flow file format (default pcapng, with comments)
  --max-writes-per-sec N   write budget for per-flow pcaps (default ${DEFAULTS.output.maxWritesPerSec}); the rest waits in the queue
  --event-queue N          pending events at most (default ${DEFAULTS.events.queue}); beyond it events are dropped and counted
  --ranges FILE            client attribution: provider/service/region from AWS ip-ranges.json or Google cloud.json (repeatable)
  --asn-db FILE.mmdb       ASN and organisation from a MaxMind-format ASN database
  --rdns / --no-rdns       reverse DNS of the clients in records (default on; answers waited for at most ${DEFAULTS.enrich.rdnsWaitMs} ms)
  --dns-server ADDR[:PORT] DNS server for --rdns (default: the system's resolvers); --rdns-timeout MS
  --records FILE           append every record to this length-delimited protobuf stream (default OUT/records.pb;
                           read it back with "slowshake records FILE")
  --report FILE            at the end, write the HTML report of OUT's records to FILE (as slowshake report OUT -o FILE)  [SLOWSHAKE_REPORT]

the end table (--format table), one line per event's flow:
${spotTableLegend('  ')}`;

export interface CaptureCliOptions {
  capture: CaptureOptions;
  durationMs: number | null;
  dumpRing: string | null;
  out: string;
  journal: { enabled: boolean; units: string[]; identifiers: string[]; directory: string | null; journalctl: string };
  events: EventParserConfig;
  holdMs: number;
  marginMs: number;
  slowMs: number;
  format: 'table' | 'ndjson';
  pcapFormat: 'pcapng' | 'pcap';
  maxWritesPerSec: number;
  eventQueue: number;
  /** Protobuf record stream; null: OUT/records.pb. */
  records: string | null;
  /** --report: the HTML report written at the end (src/report); null: none. */
  report: string | null;
  wide: boolean;
  proxyClock: ProxyClock;
  /** --out was given (it is then prepared at start even without a journal). */
  outGiven: boolean;
  /** --user; null: the default (slowshake, else nobody). */
  user: string | null;
  /** Client attribution ([enrich] twins: --ranges, --asn-db, --rdns/--no-rdns, --dns-server, --rdns-timeout). */
  enrich: Config['enrich'];
}

const ENRICH_OPTIONS = Object.fromEntries(ENRICH_FLAGS.map((f) => [f, FLAG_OPTIONS[f]!]));

function regexOption(name: string, text: string, flags: string): RegExp {
  try {
    return new RegExp(text, flags);
  } catch (err) {
    throw new UsageError(`${name}: not a valid regular expression: ${(err as Error).message}`);
  }
}

/** `--event-field remote=CLIENT_ADDR`: that name is tried before the defaults for that key. */
function eventFields(specs: string[]): EventFieldNames {
  const f: EventFieldNames = { remote: [...DEFAULT_EVENT_FIELDS.remote], local: [...DEFAULT_EVENT_FIELDS.local], sni: [...DEFAULT_EVENT_FIELDS.sni], elapsed: [...DEFAULT_EVENT_FIELDS.elapsed] };
  for (const spec of specs) {
    const m = /^(remote|local|sni|elapsed)=([A-Za-z_][A-Za-z0-9_.-]*)$/.exec(spec);
    if (!m) throw new UsageError(`--event-field: expected KEY=NAME with KEY one of remote, local, sni, elapsed, got "${spec}"`);
    f[m[1] as keyof EventFieldNames].unshift(m[2]!);
  }
  return f;
}

function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${name}: expected a positive whole number, got "${text}"`);
  return n;
}

export function parseCaptureOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): CaptureCliOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        interface: { type: 'string', short: 'i' }, filter: { type: 'string' }, snaplen: { type: 'string' },
        'buffer-size': { type: 'string' }, 'ring-size': { type: 'string' }, 'no-promisc': { type: 'boolean' },
        duration: { type: 'string' }, 'dump-ring': { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
        unit: { type: 'string', multiple: true }, identifier: { type: 'string', multiple: true }, 'journal-dir': { type: 'string' },
        'no-journal': { type: 'boolean' }, 'event-pattern': { type: 'string' }, 'event-regex': { type: 'string' },
        hold: { type: 'string' }, margin: { type: 'string' }, slow: { type: 'string' }, format: { type: 'string' },
        'pcap-format': { type: 'string' }, 'max-writes-per-sec': { type: 'string' }, 'event-queue': { type: 'string' },
        journalctl: { type: 'string' }, 'event-field': { type: 'string', multiple: true }, records: { type: 'string' },
        report: { type: 'string' },
        wide: { type: 'boolean' }, 'proxy-clock': { type: 'string' },
        user: { type: 'string' },
        'handshake-only': { type: 'boolean' },
        ...ENRICH_OPTIONS,
      },
    });
  } catch (err) {
    throw new UsageError(`capture: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  if (v.help) return null;
  const device = v.interface ?? env.SLOWSHAKE_INTERFACE;
  if (!device) throw new UsageError('capture: -i/--interface IFACE is required');
  const snaplenText = v.snaplen ?? env.SLOWSHAKE_SNAPLEN;
  const bufText = v['buffer-size'] ?? env.SLOWSHAKE_BUFFER_SIZE;
  const ringText = v['ring-size'] ?? env.SLOWSHAKE_RING_SIZE;
  const durText = v.duration ?? env.SLOWSHAKE_DURATION;
  const durationMs = durText !== undefined ? parseDuration('--duration', durText) : null;
  if (durationMs !== null && durationMs <= 0) throw new UsageError(`--duration: must be positive, got "${durText}"`);
  const dump = v['dump-ring'] ?? null;
  if (dump !== null && !/\.pcap(ng)?$/.test(dump)) throw new UsageError(`--dump-ring: file name must end in .pcap or .pcapng, got "${dump}"`);
  const format = v.format ?? env.SLOWSHAKE_FORMAT ?? 'table';
  if (format !== 'table' && format !== 'ndjson') throw new UsageError(`--format: expected table or ndjson, got "${format}"`);
  const pcapFormat = v['pcap-format'] ?? DEFAULTS.output.pcapFormat;
  if (pcapFormat !== 'pcapng' && pcapFormat !== 'pcap') throw new UsageError(`--pcap-format: expected pcapng or pcap, got "${pcapFormat}"`);
  const eventRegex = v['event-regex'] !== undefined ? regexOption('--event-regex', v['event-regex'], '') : null;
  if (eventRegex !== null && !/\(\?<remote>/.test(eventRegex.source)) throw new UsageError('--event-regex: needs a named group (?<remote>…) for the client address');
  const slowText = v.slow ?? env.SLOWSHAKE_SLOW;
  const slowMs = slowText !== undefined ? milliseconds('--slow', slowText) : DEFAULTS.handshake.slowMs;
  const units = v.unit ?? (env.SLOWSHAKE_UNIT ? env.SLOWSHAKE_UNIT.split(',') : []);
  const user = v.user ?? env.SLOWSHAKE_USER ?? null;
  if (user !== null && !/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/.test(user)) throw new UsageError(`--user: not a user name: "${user}"`);
  const identifiers = v.identifier ?? (env.SLOWSHAKE_IDENTIFIER ? env.SLOWSHAKE_IDENTIFIER.split(',') : []);
  return {
    journal: {
      enabled: !v['no-journal'], units, identifiers, directory: v['journal-dir'] ?? null,
      journalctl: v.journalctl ?? env.SLOWSHAKE_JOURNALCTL ?? DEFAULTS.journal.journalctl,
    },
    events: {
      ...DEFAULT_EVENT_PARSER,
      fields: eventFields(v['event-field'] ?? []),
      messagePattern: v['event-pattern'] !== undefined ? regexOption('--event-pattern', v['event-pattern'], 'i') : (eventRegex ? null : new RegExp(DEFAULTS.events.pattern, 'i')),
      regex: eventRegex,
    },
    holdMs: v.hold !== undefined ? parseDuration('--hold', v.hold) : DEFAULTS.handshake.holdMs,
    marginMs: v.margin !== undefined ? parseDuration('--margin', v.margin) : DEFAULTS.handshake.marginMs,
    slowMs,
    format,
    pcapFormat,
    maxWritesPerSec: v['max-writes-per-sec'] !== undefined ? positiveInt('--max-writes-per-sec', v['max-writes-per-sec']) : DEFAULTS.output.maxWritesPerSec,
    eventQueue: v['event-queue'] !== undefined ? positiveInt('--event-queue', v['event-queue']) : DEFAULTS.events.queue,
    records: v.records ?? env.SLOWSHAKE_RECORDS ?? null,
    report: v.report ?? env.SLOWSHAKE_REPORT ?? null,
    wide: v.wide ?? false,
    proxyClock: proxyClock(v['proxy-clock'] ?? env.SLOWSHAKE_PROXY_CLOCK),
    enrich: { ...DEFAULTS.enrich, ranges: [...DEFAULTS.enrich.ranges], ...(layerFromFlags(v as Record<string, string | boolean | string[] | undefined>, env, DEFAULTS, ENRICH_FLAGS).enrich as Partial<Config['enrich']> ?? {}) },
    capture: {
      ...CAPTURE_DEFAULTS,
      device,
      filter: v.filter ?? env.SLOWSHAKE_FILTER ?? '',
      snaplen: snaplenText !== undefined ? parseSize('--snaplen', snaplenText) : CAPTURE_DEFAULTS.snaplen,
      bufferSize: bufText !== undefined ? parseSize('--buffer-size', bufText) : CAPTURE_DEFAULTS.bufferSize,
      ringSize: ringText !== undefined ? parseSize('--ring-size', ringText) : CAPTURE_DEFAULTS.ringSize,
      promisc: !v['no-promisc'],
      ...(v['handshake-only'] ? { kernelFilter: { ...DEFAULTS.kernelFilter, mode: 'auto' as const } } : {}),
    },
    durationMs,
    dumpRing: dump,
    out: v.out ?? env.SLOWSHAKE_OUT ?? DEFAULTS.output.directory,
    outGiven: (v.out ?? env.SLOWSHAKE_OUT) !== undefined,
    user,
  };
}

/**
 * Writes every intact record in the ring to one file: atomically into a directory (created 0700
 * when missing), or in place into a file opened before the privilege drop.
 */
export function dumpRing(reader: RingReader, target: DumpTarget, linkType: number): { path: string; packets: number; torn: number } {
  const name = 'file' in target ? basename(target.file.path) : target.name;
  if ('dir' in target) target.dir.ensure();
  const w = new AtomicCaptureWriter('file' in target ? target.file : target.dir, name, name.endsWith('.pcapng') ? 'pcapng' : 'pcap',
    'slowshake capture: whole-ring snapshot', 262144, linkType);
  try {
    const r = reader.forEach((p) => w.write(p));
    return { path: w.close(), packets: w.packets, torn: r.torn };
  } catch (err) {
    w.abort();
    throw err;
  }
}

function statusLine(s: NativeStats, reachSec: number, ringSize: number, events: number, written: number): string {
  const used = Math.min(1, (s.head - s.tail) / ringSize);
  return `${fmtRate(s.pps)} pkt/s, ring reaches ${reachSec.toFixed(1)} s (${(used * 100).toFixed(0)}% full), ` +
    `kernel drops ${s.kernelDrops}, ring overwrites ${s.overwrites}, events ${events}, flows written ${written}`;
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

/** This host's addresses: server candidates for events that log only a port (anycast, NAT). */
/** The enricher of the options; a bad file is a usage error naming its option and the file. */
function enricherFor(s: Config['enrich']): Enricher {
  try {
    return openEnricher(s);
  } catch (err) {
    if (!(err instanceof EnrichInputError)) throw err;
    throw new UsageError(`${err.file === s.asnDb ? '--asn-db' : '--ranges'} ${err.message}`);
  }
}

export async function run(argv: string[]): Promise<number> {
  const o = parseCaptureOptions(argv);
  if (o === null) {
    process.stdout.write(HELP + '\n');
    return EXIT_OK;
  }
  const reportProblem = o.report !== null ? reportTargetProblem(o.report) : null; // before a long run, not after it
  if (reportProblem !== null) throw new UsageError(`--report ${o.report}: ${reportProblem}`);
  const runAs = resolveRunAs(o.user);
  // Range files and the ASN database are read before anything opens (a bad one: one line, exit 2).
  const enricher = enricherFor(o.enrich);
  const top = new TopNetworks();
  let cap: LiveCapture;
  try {
    cap = LiveCapture.open(o.capture);
  } catch (err) {
    if (err instanceof CaptureError) throw new UsageError(err.message);
    throw err;
  }
  // The capture handle was all root was needed for. Before anything is created: can the user
  // capture continues as write what it must, and read the journal? If not, one line, exit 2.
  // Then create and open what will be written (as tcpdump opens its -w file before -Z), and drop.
  let outputs: CaptureOutputs;
  try {
    const plan = checkOutputs({
      // With a drop, --out is always made and held now: SIGUSR1 may ask for a snapshot in it at
      // any time, and the user capture continues as may not be able to create it later.
      out: resolve(o.out), outNeeded: o.outGiven || o.journal.enabled || runAs !== null,
      records: o.journal.enabled ? resolve(o.records ?? join(o.out, 'records.pb')) : null,
      dumpRing: o.dumpRing !== null ? resolve(o.dumpRing) : null, journalDir: o.journal.directory,
    }, runAs);
    if (runAs !== null && o.journal.enabled) {
      const problem = asUser(runAs, () => journalReadProblem(runAs, o.journal.directory));
      if (problem !== null) throw new UsageError(problem);
    }
    outputs = openOutputs(plan, runAs);
  } catch (err) {
    cap.stop();
    throw err;
  }
  if (runAs !== null) {
    try {
      dropPrivileges(runAs);
    } catch (err) {
      outputs.close();
      cap.stop();
      throw err;
    }
  }
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  const kf = cap.kernelFilter;
  // Faulting a large ring in at start takes noticeable time (about 0.1-0.3 s per GiB): say so.
  const faultText = cap.faultInMs >= 50 ? ` (faulted in: ${(cap.faultInMs / 1000).toFixed(2)} s)` : '';
  const filterText = kf.mode === 'off' ? '' : `, kernel filter ${kf.mode} (handshakes only)${kf.reason ? `: ${kf.reason}` : ''}`;
  process.stderr.write(`Capturing on ${o.capture.device}${o.capture.filter ? ` (filter: ${o.capture.filter})` : ''}${filterText}, ring ${formatBytes(o.capture.ringSize)}${faultText}, kernel buffer ${formatBytes(o.capture.bufferSize)}` +
    `${runAs !== null ? `, as user ${runAs.name} (uid ${runAs.uid}, gid ${runAs.gid}) without capabilities` : ''}\n`);
  for (const r of outputs.staleRemoved) process.stderr.write(`slowshake: removed ${r.names.length} temp file${r.names.length > 1 ? 's' : ''} left in ${r.dir} by killed processes: ${r.names.join(', ')}\n`);
  // The end table's records, bounded (an event storm must not grow memory with every record).
  const records = new SpotRecords();
  // What did not get written (by the correlator, the record stream, snapshots, the ring dump)
  // or was lost otherwise, for the summary and the exit status.
  const lost = new LostResults();
  // Without a privilege drop, the output directory and the record stream are created when the
  // first record is written, so a capture that writes nothing leaves nothing behind.
  const recordSink = outputs.recordsPath !== null ? new RecordSink(outputs.recordsPath, outputs.records, lost) : null;
  // The live engine analyses every handshake as it happens; journal events are matched against
  // its records, and each event's flow gets its pcap from the ring.
  const engine = new LiveEngine(cap, {
    slowMs: o.slowMs, holdMs: o.holdMs, marginMs: o.marginMs, out: outputs.out, pcapFormat: o.pcapFormat,
    maxQueue: o.eventQueue, maxWritesPerSec: o.maxWritesPerSec, proxyClock: o.proxyClock, lost, filter: o.capture.filter,
    evidence: 'events', matchEvents: o.journal.enabled, enricher,
    onRecord: (rec) => {
      // A failed append still sends the record to stdout and the table, saying it is missing from the stream.
      recordSink?.append(rec);
      // Blocking: a slow reader holds capture back (events wait in the journal) instead of
      // queueing every record in memory (an event storm makes one record per event).
      if (o.format === 'ndjson') {
        try {
          writeStdout(recordToJson(rec) + '\n');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'EPIPE') process.exit(EXIT_OK); // the reader went away (| head), as index.ts treats it
          throw err;
        }
      }
      records.add(rec);
      if (rec.slow) top.add(rec);
    },
  });
  const reader = engine.reader, correlator = engine.correlator;
  let entries = 0, notEvents = 0;
  let journalWarnings = 0;
  const follower = o.journal.enabled
    ? new JournalFollower({ ...JOURNAL_DEFAULTS, ...o.journal }, {
      onEntry: (e) => {
        entries++;
        const r = parseJournalEntry(e, entries, o.events);
        if ('event' in r) engine.onEvent(r.event, Date.now());
        else notEvents++;
      },
      onWarning: (w, once) => {
        // rate-limited: the first few pass, the rest are counted in the summary; a once-only state change always passes
        if (once === true || ++journalWarnings <= 5) process.stderr.write(`${tty ? '\r\x1b[K' : ''}slowshake: warning: ${w}\n`);
      },
    })
    : null;
  // A machine where no journald ever ran follows nothing, silently: say so once, at start.
  const journalProblem = follower && o.journal.directory === null ? systemJournalProblem() : null;
  if (journalProblem !== null) process.stderr.write(`slowshake: warning: ${journalProblem}\n`);
  if (follower) await follower.start();
  let snapshots = 0;
  let reason = 'stopped';
  let exitCode = EXIT_OK;
  await new Promise<void>((resolveStop) => {
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      reason = why;
      clearInterval(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGUSR1', onUsr1);
      resolveStop();
    };
    const onInt = (): void => finish('interrupted');
    const onTerm = (): void => finish('terminated');
    const onUsr1 = (): void => {
      const name = snapshotFileName(new Date());
      try {
        const r = dumpRing(reader, { dir: outputs.out, name }, cap.linkType);
        snapshots++;
        process.stderr.write(`${tty ? '\r\x1b[K' : ''}Snapshot: ${r.packets} packets written to ${r.path}\n`);
      } catch (err) {
        lost.add('snapshot', outputs.out.shown(name), err);
        process.stderr.write(`${tty ? '\r\x1b[K' : ''}slowshake: snapshot not written: ${describeError(err)}: ${outputs.out.shown(name)}\n`);
      }
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGUSR1', onUsr1);
    if (takeEarlyUsr1() > 0) onUsr1(); // asked for while capture was starting
    // The engine's 20 ms clock (one timer, never one per event); statistics, status and the
    // duration check run on every fifth tick, when the engine sampled the capture's statistics.
    const timer = setInterval(() => {
      let s: NativeStats | null = null;
      try {
        s = engine.tick(Date.now());
      } catch (err) {
        lost.lose('events not resolved (a bug)', 1, (err as Error).message, true);
        process.stderr.write(`${tty ? '\r\x1b[K' : ''}slowshake: an event could not be resolved: ${(err as Error).message}\n`);
      }
      if (s === null) return;
      if (s.state === 'failed') {
        exitCode = 1;
        finish(`failed (${s.error ?? 'unknown libpcap error'})`);
        return;
      }
      if (o.durationMs !== null && Date.now() - started >= o.durationMs) { finish('duration reached'); return; }
      if (tty) process.stderr.write(`\r\x1b[K${statusLine(s, reader.reach().seconds, o.capture.ringSize, correlator.stats.events, correlator.stats.written)}`);
    }, 20);
  });
  await follower?.stop();
  cap.stop();
  // The rest of the ring through the analyzer; events still waiting for their hold are resolved
  // now, from what the ring holds.
  try {
    engine.drain(Date.now());
  } catch (err) {
    lost.lose('events not resolved (a bug)', 1, (err as Error).message, true);
    process.stderr.write(`slowshake: an event could not be resolved: ${(err as Error).message}\n`);
  }
  await enricher.drain(); // records waiting for reverse DNS (at most --rdns-timeout's wait)
  enricher.close();
  const fsyncFailed = recordSink?.close() ?? null; // counted as "records fsync" when something was appended
  if (tty) process.stderr.write('\r\x1b[K');
  const s = cap.stats();
  const reach = reader.reach();
  const secs = (Date.now() - started) / 1000;
  const lines: string[] = [];
  if (o.format === 'table' && follower) {
    lines.push(renderSpotTable(records, { width: process.stdout.isTTY ? process.stdout.columns ?? null : null, wide: o.wide }));
  }
  lines.push(
    `Capture ${reason} after ${secs.toFixed(1)} s on ${o.capture.device}.`,
    `Packets: ${s.packets} captured (${formatBytes(s.bytes)}; ${fmtRate(Math.round(s.packets / Math.max(secs, 0.001)))} pkt/s average), kernel received ${s.kernelReceived}, kernel drops ${s.kernelDrops}, interface drops ${s.ifDrops}`,
    `Ring: ${formatBytes(o.capture.ringSize)}, reaches ${reach.seconds.toFixed(1)} s, ${s.overwrites} records overwritten, ${s.tooBig} packets too large for the ring`,
  );
  if (follower) {
    const c = correlator.stats;
    if (journalProblem !== null) lines.push(`Journal: ${journalProblem}`);
    lines.push(`Journal: ${entries} entries, ${entries - notEvents} events, ${notEvents} not events, ${follower.stats.malformedLines} malformed lines, ${follower.stats.restarts} journalctl restarts${journalWarnings > 5 ? `, ${journalWarnings - 5} more warnings not shown` : ''}`);
    const notAppended = lost.count('records');
    if (recordSink !== null && (recordSink.opened || notAppended > 0)) {
      lines.push(`Records: ${recordSink.appended} appended to ${recordSink.path}${notAppended ? `, ${notAppended} not appended (${lost.causes('records')})` : ''}` +
        `${fsyncFailed !== null ? `; the final fsync failed (${describeError(fsyncFailed)}): the records appended may not all be on disk` : ''}`);
    }
    lines.push(`Events: ${c.written} flows written to ${resolve(o.out)}, ${c.duplicates} duplicates, ${c.tooOld} older than the ring, ${c.notFound} not found, ${c.droppedQueueFull} dropped (queue full), ${c.rateLimitedWaits} waits for the write budget` +
      `${c.writeFailed ? `, ${c.writeFailed} with files not written` : ''}`);
    lost.lose('events dropped with the event queue full', c.droppedQueueFull,
      `each ended as a record without a pcap, saying so in "reason": raise --event-queue (${o.eventQueue}) or --max-writes-per-sec (${o.maxWritesPerSec})`);
  }
  if (snapshots) lines.push(`Snapshots written: ${snapshots} (in ${resolve(o.out)})`);
  if (outputs.dump !== null) {
    const shown = 'file' in outputs.dump ? outputs.dump.file.path : outputs.dump.dir.shown(outputs.dump.name);
    try {
      const r = dumpRing(reader, outputs.dump, cap.linkType);
      lines.push(`Ring dump: ${r.packets} packets written to ${r.path}${r.torn ? ` (${r.torn} overwritten while copying)` : ''}`);
    } catch (err) {
      lost.add('ring dump', shown, err);
      lines.push(`Ring dump: not written: ${describeError(err)}: ${shown}${'file' in outputs.dump ? ' (what was written before the error is left in place)' : ''}`);
    }
  }
  if (o.report !== null) {
    // OUT holds this run's .json records (and records.pb unless --records put it elsewhere)
    const rp = outputs.recordsPath;
    const inputs = [resolve(o.out), ...(rp !== null && dirname(rp) !== resolve(o.out) ? [rp] : [])];
    try {
      const r = await writeReport(inputs, o.report);
      lines.push(`Report: ${r.records} records (${r.slow} slow) in ${resolve(o.report)}`);
    } catch (err) {
      lost.add('report', o.report, err);
      lines.push(`Report: not written: ${err instanceof CaptureFileError ? err.message : `${describeError(err)}: ${o.report}`}`);
    }
  }
  outputs.close();
  if (top.top(1).length > 0) lines.push(renderTopNetworks(top.top(o.enrich.topNetworks), { unattributed: top.unattributed }).trimEnd());
  lines.push(...lost.summary());
  (o.format === 'ndjson' ? process.stderr : process.stdout).write(lines.join('\n') + '\n');
  if (exitCode !== EXIT_OK) process.stderr.write(`slowshake: capture on ${o.capture.device}: ${reason}\n`);
  else if (!lost.empty) {
    process.stderr.write(`slowshake: ${lost.headline()}\n`);
    exitCode = lost.bug ? EXIT_INTERNAL : EXIT_RESULTS_LOST;
  }
  return exitCode;
}
