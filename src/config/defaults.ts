/**
 * Every default of slowshake's pipeline, in one place (style.md §6; pino `defaultOptions`).
 * Commands (capture, analyze, records, watch) and the library take their defaults from here; the
 * config file (schema.ts) documents each key and `slowshake config --print-defaults` prints these
 * values. This module imports nothing at run time, so any stage may use it.
 *
 * Units are the normalised ones the pipeline uses: bytes, milliseconds, RegExp sources.
 */
import type { Config } from './schema.js';

/** A handshake whose total is at least this is slow (ms): records, tables, metrics, evidence. */
export const DEFAULT_SLOW_MS = 200;

const deepFreeze = <T>(o: T): T => {
  if (o !== null && typeof o === 'object' && !Object.isFrozen(o)) {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
};

/** Freezes an object and everything it holds (config is validated once, then never changes). */
export function freezeDeep<T>(o: T): T {
  return deepFreeze(o);
}

export const DEFAULTS: Config = freezeDeep<Config>({
  capture: {
    interface: null,
    filter: '',
    snaplen: 262144,
    // A busy edge at 500k pps of ~600-byte packets fills 64 MiB in ~0.2 s: enough for the capture
    // thread's scheduling hiccups, and what the benchmark showed to need no drops here.
    bufferSize: 64 * 1024 * 1024,
    ringSize: 256 * 1024 * 1024,
    promisc: true,
    user: null,
  },
  kernelFilter: {
    mode: 'auto',
    flowPackets: 128,
    flowTimeMs: 10_000,
    maxFlows: 65536,
  },
  journal: {
    enabled: true,
    units: [],
    identifiers: [],
    directory: null,
    journalctl: 'journalctl',
  },
  events: {
    pattern: 'handshake',
    regex: null,
    fields: {
      remote: ['REMOTE_ADDR', 'remote_addr', 'client', 'client_addr'],
      local: ['LOCAL_ADDR', 'local_addr', 'server', 'server_addr'],
      sni: ['SNI', 'sni', 'server_name'],
      elapsed: ['ELAPSED_MS', 'elapsed_ms', 'ELAPSED', 'elapsed', 'duration', 'handshake_ms'],
    },
    queue: 10_000,
  },
  handshake: {
    slowMs: DEFAULT_SLOW_MS,
    holdMs: 2000,
    marginMs: 1000,
    proxyClock: 'accept',
  },
  output: {
    directory: 'slowshake-out',
    records: null,
    pcapFormat: 'pcapng',
    maxWritesPerSec: 50,
    retentionBytes: 10 * 1024 ** 3,
    retentionAgeMs: 7 * 24 * 3_600_000,
    report: null,
    reportIntervalMs: 3_600_000,
  },
  metrics: {
    listen: '127.0.0.1:9464',
    ipv4Prefix: 24,
    ipv6Prefix: 48,
    topNetworks: 20,
  },
  state: {
    directory: '/var/lib/slowshake',
  },
  enrich: {
    ranges: [],
    asnDb: null,
    // The daemon's default (capture, watch). analyze has no config file and defaults to off:
    // see ANALYZE_RDNS below.
    rdns: true,
    dnsServer: null,
    rdnsTimeoutMs: 500,
    rdnsWaitMs: 1000,
    rdnsCacheSize: 65536,
    rdnsCacheTtlMs: 3_600_000,
    rdnsNegativeTtlMs: 300_000,
    rdnsRate: 100,
    rdnsConcurrency: 32,
    rdnsQueue: 4096,
    maxPending: 10_000,
    topNetworks: 10,
  },
  alerts: {
    alertmanagers: [],
    webhooks: [],
    host: null,
    evaluateEveryMs: 5000,
    // Prometheus re-sends every minute too; Alertmanager's resolve_timeout is 5 minutes.
    resendEveryMs: 60_000,
    timeoutMs: 5000,
    queue: 1000,
    retryForMs: 3_600_000,
    defaultRules: true,
    examples: 3,
    maxNetworks: 256,
    baselineNetworks: 100,
    baselineHalfLifeMs: 6 * 3_600_000,
    baselineWarmupMs: 3_600_000,
    adaptive: true,
    adaptiveDurationMs: 5 * 60_000,
    adaptiveBytes: 256 * 1024 ** 2,
    adaptiveNetworks: 8,
    rules: [],
  },
});

/**
 * `analyze` looks up reverse DNS only with --rdns: offline analysis of an old capture should
 * not send the client addresses to a DNS server unasked, and its answers describe today, not
 * the capture's time. capture and watch take DEFAULTS.enrich.rdns (on).
 */
export const ANALYZE_RDNS = false;
