/**
 * `slowshake watch`: the always-on daemon (issue 9, design.md "Always-on").
 *
 * 1. Configuration: the defaults, a TOML file (--config), then flags (each key's twin) on top.
 *    SIGHUP reloads the file: a bad file keeps the running config and logs the key; keys marked
 *    live apply at once, the rest are named as needing a restart.
 * 2. Capture with the per-flow kernel filter (kernel_filter.mode), then the privilege drop;
 *    the live engine analyses every handshake once, as it happens.
 * 3. Every record: Prometheus metrics (127.0.0.1:9464/metrics), the kernel filter's done mark.
 *    Every slow one: evidence (pcapng + json in the output directory, whether or not the proxy
 *    logged it), one pino line on stdout, the protobuf record stream. Journal events add the
 *    proxy's figure; the journal cursor is saved in the state directory once an event's work is
 *    done, so a restart resumes after the last event it finished.
 * 4. Retention bounds the output directory by bytes and age; a full disk stops writes (the
 *    records still go out, saying so), sets slowshake_evidence_disk_full, logs once, and writes
 *    resume by themselves.
 * 5. systemd: READY once capturing, WATCHDOG pings at half the interval, STATUS every few seconds,
 *    STOPPING on SIGTERM/SIGINT; pending evidence is flushed and the process exits within 5 s.
 */
import { takeEarlyHup, takeEarlyUsr1 } from './early-signals.js';
import { accessSync, constants, mkdirSync, chownSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { FLAG_OPTIONS, layerFromFlags } from '../config/flags.js';
import { loadConfigLayer } from '../config/load.js';
import { applyReload, mergeConfig, reloadable } from '../config/merge.js';
import type { Config } from '../config/schema.js';
import { formatBytes, parseDuration } from '../config/units.js';
import { ConfigError } from '../config/errors.js';
import { parseJournalEntry } from '../correlate/journal-event.js';
import { recordToJson } from '../handshake/record-json.js';
import { EnrichInputError, groupOf, openEnricher, renderTopNetworks, TopNetworks, type Enricher } from '../enrich/index.js';
import { LiveEngine } from '../live/engine.js';
import { CursorTracker } from '../live/cursor-tracker.js';
import { NetworkSlots, networkOf } from '../live/networks.js';
import { LiveCapture, CaptureError, type CaptureOptions } from '../sources/live-capture.js';
import { JournalCursorStore } from '../sources/journal-cursor.js';
import { JournalFollower, JOURNAL_DEFAULTS, systemJournalProblem } from '../sources/journald.js';
import { LostResults } from '../sinks/lost-results.js';
import { HandshakeMetrics, MetricsServer } from '../sinks/prometheus.js';
import { RecordSink } from '../sinks/record-sink.js';
import { EvidenceRetention } from '../sinks/retention.js';
import { SdNotifier, watchdogIntervalMs } from '../sinks/sd-notify.js';
import { describeError } from '../sinks/pcap-writer.js';
import { InputDeadlineError, writeReport } from '../report/index.js';
import { checkOutputs, openOutputs } from './capture-outputs.js';
import { EXIT_INTERNAL, EXIT_OK, UsageError } from './errors.js';
import { Alerts, type HealthSample, type Widener } from '../alert/index.js';
import { endpointAddress } from '../enrich/ip.js';
import type { FlowRecord } from '../handshake/record.js';
import { asUser, dropPrivileges, journalReadProblem, resolveRunAs, type RunAs } from './privileges.js';

const HELP = `usage: slowshake watch -i IFACE [options]
       slowshake watch --config /etc/slowshake/slowshake.toml [options]

Measures every TLS handshake on an interface, for as long as it runs: Prometheus metrics of every
handshake by phase and verdict, evidence (pcapng + json) for every slow one, one JSON log line per
slow handshake on stdout, and the proxy's journal events matched to their flows. Every option is
also a config key (slowshake config --print-defaults); flags win over the file.

  --config FILE            TOML configuration (slowshake config --check FILE validates it)  [SLOWSHAKE_CONFIG]
  -i, --interface IFACE    interface to capture on ("any" for all)
  --filter EXPR            libpcap filter (default: everything TCP the kernel filter passes)
  --kernel-filter MODE     auto (default: eBPF per-flow filter, classic BPF where eBPF cannot load), ebpf, classic, off
  --ring-size SIZE         packet ring (default ${formatBytes(DEFAULTS.capture.ringSize)}); --buffer-size, --snaplen, --no-promisc
  --user NAME              run as NAME once the interface is open (default slowshake, else nobody)
  --out DIR                evidence directory (default ./${DEFAULTS.output.directory}); --records FILE, --pcap-format
  --report FILE            HTML report of the evidence directory's records, rewritten every output.report_interval
                           (default ${DEFAULTS.output.reportIntervalMs / 60_000} min) and at stop (slowshake report)
  --metrics-listen A:P     Prometheus endpoint (default ${DEFAULTS.metrics.listen})
  --slow TIME              slow threshold (default ${DEFAULTS.handshake.slowMs} ms); --hold, --margin, --proxy-clock
  --unit NAME, --identifier NAME, --journal-dir DIR, --no-journal, --event-pattern RE, --event-regex RE,
  --event-field KEY=NAME, --event-queue N, --max-writes-per-sec N: as for capture
  --alertmanager URL       send alerts to this Alertmanager (v2 API; repeat for an HA pair); the shipped
                           rules run unless the config says otherwise ([alerts], [[alerts.rule]])
  --alert-webhook URL      also POST every alert notification as JSON to URL (repeatable)
  --duration TIME          stop after TIME (default: run until SIGTERM/SIGINT)

signals: SIGHUP reloads --config (live keys apply now; the others are named as needing a restart),
SIGTERM/SIGINT flush pending evidence and stop (within 5 s).`;

interface WatchArgs {
  config: Config;
  file: string | null;
  values: Record<string, string | boolean | string[] | undefined>;
  durationMs: number | null;
  rebalanceMs: number;
  stopReportMs: number;
}

/** Pending evidence is written for at most this long after SIGTERM/SIGINT, so watch exits within 5 s. */
const STOP_FLUSH_MS = 3500;
/**
 * Reports read the evidence directory's records until this long after the stop signal (then the
 * page is built and written: 0.2 s for 50,000 records; about 160,000 can be read by then).
 * Retention allows far more records than can be read in a few seconds: a page not finished by
 * then is left as the last interval wrote it, said and counted, and watch still exits in time.
 */
const STOP_REPORT_MS = 4000;

/** The journal-lag health rule looks at the lag of entries read this recently. */
const JOURNAL_LAG_FRESH_MS = 60_000;

/** Client networks get their metric labels again once a minute (live/networks.ts). */
const NETWORK_REBALANCE_MS = 60_000;

export function parseWatchArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): WatchArgs | null {
  let values: WatchArgs['values'];
  try {
    values = parseArgs({
      args: argv, allowPositionals: false, strict: true,
      options: { ...FLAG_OPTIONS, config: { type: 'string' }, duration: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values as WatchArgs['values'];
  } catch (err) {
    throw new UsageError(`watch: ${(err as Error).message.split('\n')[0]}`);
  }
  if (values.help) return null;
  const file = (values.config as string | undefined) ?? (env.SLOWSHAKE_CONFIG || null); // empty: no file (an EnvironmentFile's blank line)
  const fileLayer = file !== null ? loadConfigLayer(file) : null;
  const below = mergeConfig({ file: fileLayer });
  const config = mergeConfig({ file: fileLayer, flags: layerFromFlags(values, env, below) });
  const durationMs = values.duration !== undefined ? parseDuration('--duration', values.duration as string) : null;
  // How often the top-N client networks are chosen again (tests shorten it; not a config key).
  const rebalanceMs = env.SLOWSHAKE_NETWORK_REBALANCE ? parseDuration('SLOWSHAKE_NETWORK_REBALANCE', env.SLOWSHAKE_NETWORK_REBALANCE) : NETWORK_REBALANCE_MS;
  // How long after the stop signal the report may read records (tests shorten it; not a config key).
  const stopReportMs = env.SLOWSHAKE_STOP_REPORT ? parseDuration('SLOWSHAKE_STOP_REPORT', env.SLOWSHAKE_STOP_REPORT) : STOP_REPORT_MS;
  return { config, file, values, durationMs, rebalanceMs, stopReportMs };
}

/** The enricher of the [enrich] settings; a bad range file or database names its key and the file. */
function enricherFor(cfg: Config): Enricher {
  try {
    return openEnricher(cfg.enrich, { ipv4: cfg.metrics.ipv4Prefix, ipv6: cfg.metrics.ipv6Prefix });
  } catch (err) {
    if (!(err instanceof EnrichInputError)) throw err;
    throw new UsageError(`${err.file === cfg.enrich.asnDb ? 'enrich.asn_db' : 'enrich.ranges'} ${err.message}`);
  }
}

/** "127.0.0.1:9464" / "[::1]:9464" → host and port (validated by the config schema). */
function hostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  return { host: listen.slice(0, i).replace(/^\[(.*)\]$/, '$1'), port: Number(listen.slice(i + 1)) };
}

/** Makes the state directory (0700, owned by the user watch runs as) while still root. */
function prepareStateDir(dir: string, runAs: RunAs | null): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (runAs !== null && statSync(dir).uid !== runAs.uid) chownSync(dir, runAs.uid, runAs.gid);
  } catch (err) {
    throw new UsageError(`state.directory ${dir}: cannot be created or used: ${describeError(err)}`);
  }
  if (runAs === null) return;
  // The cursor is read and saved after the privilege drop: a directory below one the user cannot
  // search (a root-only 0700 parent) would lose the cursor on every save, and events on restart.
  const probe = join(dir, `.probe.${process.pid}.tmp`);
  const problem = asUser(runAs, () => {
    try { writeFileSync(probe, '', { mode: 0o600 }); unlinkSync(probe); return null; } catch (err) { return describeError(err); }
  });
  if (problem !== null) throw new UsageError(`state.directory ${dir}: not usable by user ${runAs.name}, whom watch runs as: ${problem}`);
}

/** The kernel filter's per-network widening (adaptive evidence); a bad network is a refusal, not a throw. */
function widenerOf(cap: LiveCapture): Widener {
  return {
    widen: (cidr, ms, bytes) => {
      try { return cap.widen(cidr, ms, bytes); } catch (err) { return { ok: false, reason: (err as Error).message }; }
    },
    narrow: (cidr) => { try { return cap.narrow(cidr); } catch { return false; } },
    widened: () => cap.widened(),
  };
}

export async function run(argv: string[]): Promise<number> {
  const a = parseWatchArgs(argv);
  if (a === null) {
    process.stdout.write(HELP + '\n');
    return EXIT_OK;
  }
  let cfg = a.config;
  const device = cfg.capture.interface;
  if (device === null) throw new UsageError('watch: no interface: give -i IFACE, or capture.interface in the config file');
  const runAs = resolveRunAs(cfg.capture.user);
  // Range files and the ASN database are read now, before anything opens (a bad one: one line, exit 2).
  const enricher = enricherFor(cfg);
  const top = new TopNetworks();
  const lost = new LostResults();
  const notifier = new SdNotifier();
  // Operational messages: pino on stderr (the journal takes it under systemd). Slow handshakes: pino on stdout.
  const log = pino({ name: 'slowshake', base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  const out = pino({ name: 'slowshake', base: null, messageKey: 'msg' }, pino.destination({ dest: 1, sync: true }));

  const metrics = new HandshakeMetrics();
  const server = new MetricsServer(metrics);
  const { host, port } = hostPort(cfg.metrics.listen);
  let bound: { host: string; port: number };
  try {
    bound = await server.listen(host, port);
  } catch (err) {
    throw new UsageError(`metrics.listen ${cfg.metrics.listen}: cannot listen: ${describeError(err)}`);
  }

  const capOpts: CaptureOptions & { kernelFilter: Config['kernelFilter'] } = {
    device, filter: cfg.capture.filter, snaplen: cfg.capture.snaplen, bufferSize: cfg.capture.bufferSize,
    promisc: cfg.capture.promisc, ringSize: cfg.capture.ringSize, timeoutMs: 50, kernelFilter: cfg.kernelFilter,
  };
  let cap: LiveCapture;
  try {
    cap = LiveCapture.open(capOpts);
  } catch (err) {
    await server.close();
    if (err instanceof CaptureError) throw new UsageError(err.message);
    throw err;
  }
  const outDir = resolve(cfg.output.directory);
  const recordsPath = resolve(cfg.output.records ?? join(outDir, 'records.pb'));
  let outputs;
  try {
    const plan = checkOutputs({ out: outDir, outNeeded: true, records: recordsPath, dumpRing: null, journalDir: cfg.journal.directory }, runAs);
    if (runAs !== null && cfg.journal.enabled) {
      const problem = asUser(runAs, () => journalReadProblem(runAs, cfg.journal.directory));
      if (problem !== null) throw new UsageError(problem);
    }
    prepareStateDir(cfg.state.directory, runAs);
    outputs = openOutputs(plan, runAs);
    if (runAs !== null) dropPrivileges(runAs);
    if (runAs !== null && a.file !== null) {
      // SIGHUP reads the file again as this user: say now that it cannot, not at the first reload.
      try { accessSync(a.file, constants.R_OK); } catch (err) {
        log.warn(`${a.file}: not readable by user ${runAs.name}, whom watch runs as: ${describeError(err)}; SIGHUP cannot reload it (give it mode 0644, or group ${runAs.name})`);
      }
    }
  } catch (err) {
    cap.stop();
    await server.close();
    throw err;
  }
  const kf = cap.kernelFilter;

  const retention = new EvidenceRetention(outputs.out, { maxBytes: cfg.output.retentionBytes, maxAgeMs: cfg.output.retentionAgeMs });
  retention.scan();
  // output.report: the HTML report of the evidence directory's .json records (bounded by
  // retention; records.pb is not read), every report_interval and once more at stop.
  let reportChain: Promise<void> = Promise.resolve();
  // Aborted STOP_REPORT_MS after the stop signal: a report still reading records then (the one
  // at stop, or an interval's still at work) ends, and the page written before stays.
  const reportStop = new AbortController();
  const writeWatchReport = (): Promise<void> => (reportChain = reportChain.then(async () => {
    const file = cfg.output.report;
    if (file === null || reportStop.signal.aborted) return; // aborted: said once, by the report it stopped
    try {
      const r = await writeReport([outDir], file, { dirStreams: false, stop: reportStop.signal });
      log.info({ path: file, records: r.records, slow: r.slow, bytes: r.bytes }, 'Report written.');
    } catch (err) {
      if (err instanceof InputDeadlineError) {
        lost.lose('report not written at stop', 1, `${file}: ${err.message}; the page written before stays`);
        log.warn({ path: file, error: err.message }, 'Report not written at stop: the stop deadline came first; the page written before stays.');
      } else {
        lost.add('report', file, err);
        log.warn({ path: file, error: describeError(err) }, 'Report not written.');
      }
    }
  }));
  const reportTimer = cfg.output.report !== null ? setInterval(() => { void writeWatchReport(); }, cfg.output.reportIntervalMs) : null;
  const recordSink = new RecordSink(outputs.recordsPath ?? recordsPath, outputs.records, lost);
  const networks = new NetworkSlots({
    slots: cfg.metrics.topNetworks, ipv4Prefix: cfg.metrics.ipv4Prefix, ipv6Prefix: cfg.metrics.ipv6Prefix,
    onAdded: (n) => metrics.networkAdded(n), onRemoved: (n) => metrics.networkRemoved(n),
  });
  const cursors = new CursorTracker();
  const alerts = new Alerts(cfg, { registry: metrics.registry, widener: widenerOf(cap), log });
  /**
   * An output record's client network key. (No per-handshake memo: the records that come out are
   * the correlator's copies, never the objects onHandshake saw; a WeakMap entry per handshake was
   * never read.)
   */
  const networkKey = (rec: FlowRecord): string => {
    const known = groupOf(rec)?.key;
    if (known !== undefined) return known;
    const addr = endpointAddress(rec.client);
    return addr !== null ? networkOf(addr, cfg.metrics.ipv4Prefix, cfg.metrics.ipv6Prefix) : rec.client;
  };
  let diskFull = false;
  /** The record about to be handed on had files written (set by onFiles, read by onRecord). */
  let wroteFiles = false;
  let slowLogged = 0;

  const engine = new LiveEngine(cap, {
    slowMs: cfg.handshake.slowMs, holdMs: cfg.handshake.holdMs, marginMs: cfg.handshake.marginMs, out: outputs.out,
    pcapFormat: cfg.output.pcapFormat, maxQueue: cfg.events.queue, maxWritesPerSec: cfg.output.maxWritesPerSec,
    proxyClock: cfg.handshake.proxyClock, lost, filter: cfg.capture.filter, evidence: 'slow', matchEvents: cfg.journal.enabled, enricher,
    onHandshake: (rec, flow) => {
      metrics.observe(rec);
      // The client network: the attribution group (ranges and ASN are synchronous; reverse DNS is
      // not needed for it), else the /24 or /48. Every handshake has one: the baselines learn
      // from all of them, the rate rules and the metric labels count the slow ones.
      enricher.attribute(rec, false);
      const net = groupOf(rec)?.key ?? networkOf(flow.clientAddr, cfg.metrics.ipv4Prefix, cfg.metrics.ipv6Prefix);
      const now = Date.now();
      alerts.observe(rec, net, now);
      if (rec.slow) metrics.networkSlow(networks.countKey(net, now), rec.verdict);
    },
    // Every file written goes on retention's books: also the .json of a record without a pcap
    // (an event whose flow is not in the ring), which was neither counted nor ever deleted.
    onFiles: (names) => { for (const n of names) retention.added(n); wroteFiles = true; },
    onRecord: (rec) => {
      recordSink.append(rec);
      if (rec.slow) { top.add(rec); alerts.example(rec, networkKey(rec), Date.now()); }
      const ev = rec.event as { cursor?: string | null } | undefined;
      if (ev !== undefined) cursors.done(ev.cursor);
      const full = typeof rec.reason === 'string' && /ENOSPC/.test(rec.reason);
      const wrote = wroteFiles;
      wroteFiles = false;
      if (full && !diskFull) { diskFull = true; log.warn({ out: outDir }, 'Output directory is full: evidence is not written until space returns; records still go out with the reason.'); }
      // Space is back once a record's files were written (a pcap, or the .json of an event
      // without one: a workload of such events used to keep the gauge at 1 for ever).
      else if (!full && diskFull && wrote) { diskFull = false; log.info({ out: outDir }, 'Space returned: evidence is written again.'); }
      slowLogged++;
      out.info(JSON.parse(recordToJson(rec)) as object, rec.event !== undefined ? 'slow handshake (proxy event)' : 'slow handshake');
    },
  });

  // The journal, resumed after the saved cursor.
  const cursorStore = new JournalCursorStore(join(cfg.state.directory, 'journal-cursor.json'));
  let follower: JournalFollower | null = null;
  let entries = 0, events = 0, lagSeconds: number | null = null, lastEntryMs = 0;
  // Event parsing follows the running config (its keys apply on reload).
  const parserOf = (c: Config) => ({ messagePattern: c.events.pattern ? new RegExp(c.events.pattern, 'i') : null, fields: c.events.fields, regex: c.events.regex ? new RegExp(c.events.regex) : null });
  let parser = parserOf(cfg);
  if (cfg.journal.enabled) {
    const problem = cfg.journal.directory === null ? systemJournalProblem() : null;
    if (problem !== null) log.warn(`${problem}`);
    let saved: string | null = null;
    try { saved = cursorStore.load(); } catch (err) { log.warn(`${(err as Error).message}`); }
    follower = followerFor(cfg, saved);
    await follower.start();
  }
  /** A follower of `c`'s journal matches, resuming after `cursor` (start, and a reload that changed the matches). */
  function followerFor(c: Config, after: string | null): JournalFollower {
    return new JournalFollower({ ...JOURNAL_DEFAULTS, units: [...c.journal.units], identifiers: [...c.journal.identifiers], directory: c.journal.directory, journalctl: c.journal.journalctl }, {
      cursor: after,
      onEntry: (e) => {
        entries++;
        lastEntryMs = Date.now();
        const ts = Number(e.__REALTIME_TIMESTAMP);
        if (Number.isFinite(ts)) lagSeconds = Math.max(0, Date.now() / 1000 - ts / 1e6); // how late the entry reached us
        const r = parseJournalEntry(e, entries, parser);
        const cursor = typeof e.__CURSOR === 'string' ? e.__CURSOR : null;
        if ('event' in r) {
          events++;
          cursors.event(cursor);
          if (!engine.onEvent(r.event, Date.now())) cursors.done(cursor); // a duplicate: nothing to wait for
        } else {
          cursors.entry(cursor);
        }
      },
      onWarning: (w) => log.warn(w),
    });
  }
  // A reload that changes journal.units or journal.identifiers (live keys) swaps the follower:
  // the old one stops, the new one resumes after the last entry the old one handed out.
  let journalSwap: Promise<void> = Promise.resolve();
  let cursorFailureSaid = false;
  let stopping = false;

  const started = Date.now();
  const startLine = `Watching ${device}${cfg.capture.filter ? ` (filter: ${cfg.capture.filter})` : ''}: kernel filter ${kf.mode}${kf.reason ? ` (${kf.reason})` : ''}, ` +
    `ring ${formatBytes(cfg.capture.ringSize)}, slow from ${cfg.handshake.slowMs} ms, evidence in ${outDir}, metrics on http://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}/metrics` +
    `${runAs !== null ? `, as user ${runAs.name}` : ''}; ${alerts.describe()}`;
  process.stderr.write(startLine + '\n');
  notifier.ready(startLine);

  let reason = 'stopped';
  let stopAt = 0;
  let exitCode = EXIT_OK;
  await new Promise<void>((resolveStop) => {
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      reason = why;
      stopAt = Date.now();
      clearInterval(timer);
      if (watchdog !== null) clearInterval(watchdog);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGHUP', onHup);
      notifier.stopping(`Stopping (${why}).`);
      resolveStop();
    };
    const onInt = (): void => finish('interrupted');
    const onTerm = (): void => finish('terminated');
    const onHup = (): void => {
      if (a.file === null) { log.warn('SIGHUP: no --config file to reload; nothing changed.'); return; }
      let next: Config;
      try {
        const again = parseWatchArgs(argv);
        if (again === null) return;
        next = again.config;
      } catch (err) {
        const msg = err instanceof ConfigError || err instanceof UsageError ? err.message : describeError(err);
        log.error(`Reload refused, the running configuration stays: ${msg}`); // one line (stderr: the journal under systemd)
        return;
      }
      const split = reloadable(cfg, next);
      cfg = applyReload(cfg, next);
      engine.reconfigure({ slowMs: cfg.handshake.slowMs, holdMs: cfg.handshake.holdMs, marginMs: cfg.handshake.marginMs, maxWritesPerSec: cfg.output.maxWritesPerSec, pcapFormat: cfg.output.pcapFormat, proxyClock: cfg.handshake.proxyClock });
      alerts.reload(cfg, Date.now());
      retention.opts.maxBytes = cfg.output.retentionBytes;
      retention.opts.maxAgeMs = cfg.output.retentionAgeMs;
      parser = parserOf(cfg);
      if (follower !== null && split.live.some((k) => k === 'journal.units' || k === 'journal.identifiers')) {
        journalSwap = journalSwap.then(async () => {
          const old = follower!; // the newest, when reloads come faster than swaps
          await old.stop();
          if (stopping) return;
          follower = followerFor(cfg, old.cursor);
          await follower.start();
        }).catch((err: unknown) => { log.error(`The journal could not be followed again after the reload: ${describeError(err)}`); });
      }
      const line = `Reloaded ${a.file}: ${split.live.length ? `applied ${split.live.join(', ')}` : 'no live key changed'}` +
        `${split.restart.length ? `; ${split.restart.join(', ')} changed but apply only after a restart` : ''}`;
      log.info(line);
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGHUP', onHup);
    // A reload asked for while watch was starting (held by early-signals.ts, which kept it from
    // ending the process): the file is read now, once however many came.
    if (takeEarlyHup() > 0) { log.info('SIGHUP came while watch was starting: reloading now.'); onHup(); }
    takeEarlyUsr1(); // watch has no snapshot command; a SIGUSR1 is ignored, never the inspector
    process.on('SIGUSR1', () => log.info('SIGUSR1 ignored: watch writes evidence for every slow handshake by itself.'));
    const wd = watchdogIntervalMs();
    const watchdog = wd !== null ? setInterval(() => notifier.watchdog(), Math.max(100, Math.floor(wd / 2))) : null;
    let ticks = 0;
    let rebalanced = started;
    const timer = setInterval(() => {
      const now = Date.now();
      let s = null;
      try {
        s = engine.tick(now);
      } catch (err) {
        lost.lose('events not resolved (a bug)', 1, (err as Error).message, true);
        log.error({ err: (err as Error).message }, 'An event or slow handshake could not be resolved.');
      }
      if (follower !== null && cursors.safe !== null) {
        cursorStore.update(cursors.safe, now);
        if (cursorStore.stats.failures > 0 && !cursorFailureSaid) {
          cursorFailureSaid = true;
          log.warn({ path: cursorStore.path, error: cursorStore.stats.lastError }, 'The journal cursor could not be saved: a restart would read again what came since the last save; retrying.');
        }
      }
      alerts.tick(now, () => healthSample(now));
      if (s === null) return;
      if (s.state === 'failed') { exitCode = 1; finish(`failed (${s.error ?? 'unknown libpcap error'})`); return; }
      if (a.durationMs !== null && now - started >= a.durationMs) { finish('duration reached'); return; }
      if (ticks++ % 10 !== 0) return; // once a second
      publish(now);
      // Wall time, not ticks: the ticks that pass the gate above are 10 apart, so a tick
      // count of 60 was every 6 s, not every minute.
      if (now - rebalanced >= a.rebalanceMs) { rebalanced = now; networks.rebalance(now); }
      if (ticks % 10 === 1) {
        retention.enforce(now);
        notifier.status(statusText());
      }
    }, 20);
  });

  function publish(now: number): void {
    const st = engine.stats();
    metrics.setCapture({ packets: st.capture.packets, bytes: st.capture.bytes, kernelDrops: st.capture.kernelDrops, ifDrops: st.capture.ifDrops, ringOverwrites: st.capture.overwrites, ringReachSeconds: st.reach.seconds });
    metrics.setJournal({ entries, events, lagSeconds });
    metrics.setJournalMatched(st.correlator.matched);
    const byCause: Record<string, number> = {};
    for (const [cause, n] of Object.entries(lost.toObject().by_cause)) byCause[cause.split(' ')[0]!] = (byCause[cause.split(' ')[0]!] ?? 0) + n;
    metrics.setEvidence({
      pcapsWritten: st.correlator.pcaps, writeFailures: lost.toObject().writes_failed, bytesOnDisk: retention.stats.bytes,
      deletedFiles: retention.stats.deletedFiles, deletedBytes: retention.stats.deletedBytes, failuresByCause: byCause, diskFull,
      refused: st.correlator.droppedQueueFull + st.correlator.slowQueueFull,
    });
    const f = kf.mode === 'ebpf' ? cap.filterStats() : null;
    metrics.setFilter({
      mode: kf.mode, passed: f?.passed ?? st.capture.packets,
      dropped: f !== null ? f.droppedDone + f.droppedBudget + f.droppedData + f.droppedUntracked + f.droppedNonTcp : 0,
      flowsStarted: f?.flowsStarted ?? 0, flowsInMap: f?.mapEntriesAtMost ?? null, evictions: f?.evictionsAtLeast ?? null,
      followerOverruns: st.follower.overruns, analyzerFlowsEvicted: st.analyzer.flowsEvicted,
    });
    alerts.publish(now);
  }

  function healthSample(now: number): HealthSample {
    const st = engine.stats();
    // The lag of the newest entry, while entries arrive: one late entry an hour ago is not a lag now.
    const lag = follower !== null && now - lastEntryMs <= JOURNAL_LAG_FRESH_MS ? lagSeconds : null;
    return {
      drops: st.capture.kernelDrops + st.capture.ifDrops, evidenceFailures: lost.toObject().writes_failed, diskFull,
      ringReachSeconds: st.reach.seconds, ringWrapped: st.capture.overwrites > 0,
      neededSeconds: (cfg.handshake.holdMs + cfg.handshake.marginMs) / 1000, journalLagSeconds: lag,
    };
  }

  function statusText(): string {
    const st = engine.stats();
    return `${st.analyzer.records} handshakes measured, ${st.correlator.slowWritten + st.correlator.matched} slow with evidence, ` +
      `${st.capture.kernelDrops} kernel drops, ring reaches ${st.reach.seconds.toFixed(0)} s`;
  }

  // Stop within 5 s of the signal (issue 9 §6): journal first (no new events), then the capture,
  // the rest of the ring, the pending events and slow records until STOP_FLUSH_MS after the
  // signal (10000 queued events took 11 s to write), the cursor. An event not written by then is
  // read again after a restart (the cursor stays before it); a slow record without an event
  // loses its evidence, counted.
  stopping = true;
  await journalSwap;
  await follower?.stop();
  cap.stop();
  try {
    engine.drain(Date.now(), stopAt + STOP_FLUSH_MS);
  } catch (err) {
    lost.lose('events not resolved (a bug)', 1, (err as Error).message, true);
  }
  const leftEvents = engine.correlator.pendingEvents;
  const leftSlow = engine.correlator.pending - leftEvents;
  if (leftSlow > 0) lost.lose('slow handshakes without evidence at stop', leftSlow, `the stop deadline (${STOP_FLUSH_MS / 1000} s after the signal) came before their pcaps were written`);
  // Records waiting for reverse DNS: until 4 s after the signal at most, then out at once without it.
  let rdnsTimer: NodeJS.Timeout | undefined;
  await Promise.race([enricher.drain(), new Promise((r) => { rdnsTimer = setTimeout(r, Math.max(0, stopAt + 4000 - Date.now())); })]);
  clearTimeout(rdnsTimer);
  enricher.close();
  if (follower !== null && cursors.safe !== null) { cursorStore.update(cursors.safe, 0); cursorStore.flush(); }
  // Baselines saved; queued notifications get one more try, until 4 s after the signal at most.
  await alerts.stop(Math.max(Date.now() + 100, stopAt + 4000));
  publish(Date.now());
  await server.close();
  recordSink.close();
  if (reportTimer !== null) clearInterval(reportTimer);
  const reportDeadline = setTimeout(() => reportStop.abort(), Math.max(0, stopAt + a.stopReportMs - Date.now()));
  await writeWatchReport();
  clearTimeout(reportDeadline);
  outputs.close();
  const st = engine.stats();
  const secs = (Date.now() - started) / 1000;
  const lines = [
    `Watch ${reason} after ${secs.toFixed(1)} s on ${device}.`,
    `Handshakes: ${st.analyzer.records} measured, ${st.correlator.slowQueued} slow (${st.correlator.slowWritten} with evidence written by watch, ${st.correlator.slowClaimed} with the proxy's event), ${slowLogged} records logged`,
    `Capture: ${st.capture.packets} packets (kernel filter ${kf.mode}), kernel drops ${st.capture.kernelDrops}, interface drops ${st.capture.ifDrops}, follower overruns ${st.follower.overruns}, flows evicted ${st.analyzer.flowsEvicted}`,
    `Journal: ${entries} entries, ${events} events, ${st.correlator.matched} matched to measured handshakes, ${st.correlator.notFound} not found, ${st.correlator.tooOld} older than the ring` +
      `${cursorStore.stats.failures > 0 ? `; cursor saves failed ${cursorStore.stats.failures} times (last: ${cursorStore.stats.lastError})` : ''}`,
    `Evidence: ${st.correlator.written} flows written to ${outDir}, ${retention.stats.deletedFiles} files deleted by retention, ${st.correlator.droppedQueueFull + st.correlator.slowQueueFull} refused (queue full)`,
    ...(top.top(1).length > 0 ? [renderTopNetworks(top.top(cfg.enrich.topNetworks), { unattributed: top.unattributed }).trimEnd()] : []),
    alerts.summary(),
    ...(leftEvents > 0 ? [`Stop deadline: ${leftEvents} events not written yet are read again after a restart (the saved cursor is before them)`] : []),
    ...lost.summary(),
  ];
  process.stderr.write(lines.join('\n') + '\n');
  if (exitCode !== EXIT_OK) process.stderr.write(`slowshake: watch on ${device}: ${reason}\n`);
  else if (lost.bug) exitCode = EXIT_INTERNAL;
  return exitCode;
}
