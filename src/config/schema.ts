/**
 * The config file's keys: one table (KEYS) gives each key its TOML name, its place in `Config`,
 * its zod type, its user documentation and whether a reload applies it live. From that table come
 * the zod schema that validates a file (load.ts), the commented default file
 * (`slowshake config --print-defaults`, print.ts) and the reload split (merge.ts `reloadable`).
 *
 * Sizes are bytes or strings ("256MiB", "64k"); durations are strings ("2s", "250ms", "7d") or a
 * bare number of seconds; both go through units.ts, as the command line's do.
 *
 * Reload (SIGHUP, with watch): a key marked `live` takes effect on the running daemon; a key
 * marked `restart` is kept at its running value (and the daemon logs that it needs a restart).
 */
import { z } from 'zod';
import { duration, size } from './types.js';
import { parseDnsServer } from '../enrich/dns-server.js';
import { RULE_SCHEMA, type AlertRule } from '../alert/rules.js';

export type KernelFilterMode = 'auto' | 'ebpf' | 'classic' | 'off';
export type PcapFormat = 'pcapng' | 'pcap';
export type ProxyClockName = 'accept' | 'syn';
export interface EventFields { remote: string[]; local: string[]; sni: string[]; elapsed: string[] }

/** The validated, normalised configuration (bytes, milliseconds). Frozen once built. */
export interface Config {
  capture: { interface: string | null; filter: string; snaplen: number; bufferSize: number; ringSize: number; promisc: boolean; user: string | null };
  kernelFilter: { mode: KernelFilterMode; flowPackets: number; flowTimeMs: number; maxFlows: number };
  journal: { enabled: boolean; units: string[]; identifiers: string[]; directory: string | null; journalctl: string };
  events: { pattern: string; regex: string | null; fields: EventFields; queue: number };
  handshake: { slowMs: number; holdMs: number; marginMs: number; proxyClock: ProxyClockName };
  output: { directory: string; records: string | null; pcapFormat: PcapFormat; maxWritesPerSec: number; retentionBytes: number; retentionAgeMs: number; report: string | null; reportIntervalMs: number };
  metrics: { listen: string; ipv4Prefix: number; ipv6Prefix: number; topNetworks: number };
  state: { directory: string };
  enrich: {
    ranges: string[]; asnDb: string | null; rdns: boolean; dnsServer: string | null; rdnsTimeoutMs: number; rdnsWaitMs: number;
    rdnsCacheSize: number; rdnsCacheTtlMs: number; rdnsNegativeTtlMs: number; rdnsRate: number; rdnsConcurrency: number; rdnsQueue: number;
    maxPending: number; topNetworks: number;
  };
  alerts: {
    alertmanagers: string[]; webhooks: string[]; host: string | null; evaluateEveryMs: number; resendEveryMs: number; timeoutMs: number;
    queue: number; retryForMs: number; defaultRules: boolean; examples: number; maxNetworks: number;
    baselineNetworks: number; baselineHalfLifeMs: number; baselineWarmupMs: number;
    adaptive: boolean; adaptiveDurationMs: number; adaptiveBytes: number; adaptiveNetworks: number;
    /** `[[alerts.rule]]` tables (normalised); merged with the shipped rules by src/alert/rules.ts. */
    rules: AlertRule[];
  };
}

type DeepPartial<T> = { [K in keyof T]?: T[K] extends unknown[] ? T[K] : T[K] extends object ? DeepPartial<T[K]> : T[K] };
/** What one source (a file, the command line) sets: any subset of Config. */
export type ConfigLayer = DeepPartial<Config>;

export type Reload = 'live' | 'restart';
export type SectionName = keyof Config;

export interface KeySpec {
  /** TOML section and key: `[section]` `key = …`. */
  section: string;
  key: string;
  /** Where it lands in Config: [section, field] or [section, field, subfield]. */
  field: readonly string[];
  type: z.ZodType;
  /** Commented in the default file instead of set (its default is "not set"). */
  unsetByDefault?: boolean;
  reload: Reload;
  /** User documentation: printed above the key in the default file. */
  doc: string;
  /** CLI twin, when there is one. */
  flag?: string;
}

export { SIZE_TYPES, DURATION_TYPES } from './types.js';

const int = (min: number, max: number): z.ZodType => z.int().min(min).max(max);
/** Linux interface names: at most 15 bytes (IFNAMSIZ - 1), no whitespace or '/'. */
const ifname = z.string().regex(/^[^\s/]{1,15}$/);
/** Journal match values (unit names, identifiers): anything without whitespace. */
const names = z.array(z.string().regex(/^\S+$/));
const fieldNames = z.array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_.-]*$/)).min(1);
function regex(needRemoteGroup: boolean): z.ZodType {
  return z.string().superRefine((v, ctx) => {
    try {
      new RegExp(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: `a valid regular expression (${(err as Error).message})` });
      return;
    }
    if (needRemoteGroup && !/\(\?<remote>/.test(v)) ctx.addIssue({ code: 'custom', message: 'a regular expression with a named group (?<remote>…) for the client address' });
  });
}
const listen = z.string().superRefine((v, ctx) => {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(v);
  if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535) ctx.addIssue({ code: 'custom', message: 'ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464' });
});

const httpUrl = z.string().superRefine((v, ctx) => {
  let u: URL | null = null;
  try { u = new URL(v); } catch { /* below */ }
  if (u === null || (u.protocol !== 'http:' && u.protocol !== 'https:')) ctx.addIssue({ code: 'custom', message: 'an http:// or https:// URL such as http://127.0.0.1:9093' });
});

const dnsServer = z.string().superRefine((v, ctx) => {
  if (parseDnsServer(v) === null) ctx.addIssue({ code: 'custom', message: 'an IP address with an optional port: 127.0.0.1, 127.0.0.1:5353, ::1 or [::1]:5353' });
});

const k = (section: string, key: string, field: readonly string[], type: z.ZodType, reload: Reload, doc: string, extra: Partial<KeySpec> = {}): KeySpec =>
  ({ section, key, field, type, reload, doc, ...extra });

/** Every key of the file, in the order of the default file. */
export const KEYS: readonly KeySpec[] = [
  k('capture', 'interface', ['capture', 'interface'], ifname, 'restart', 'Interface to capture on ("any" for all). Not set: give it with -i IFACE.', { unsetByDefault: true, flag: '-i' }),
  k('capture', 'filter', ['capture', 'filter'], z.string(), 'restart', 'Capture filter in libpcap syntax, applied in the kernel ("" captures everything).', { flag: '--filter' }),
  k('capture', 'snaplen', ['capture', 'snaplen'], size(64, 262144), 'restart', 'Bytes kept of each packet (64 to 262144).', { flag: '--snaplen' }),
  k('capture', 'buffer_size', ['capture', 'bufferSize'], size(64 * 1024, 2 * 1024 ** 3), 'restart', 'Kernel packet buffer (64KiB to 2GiB).', { flag: '--buffer-size' }),
  k('capture', 'ring_size', ['capture', 'ringSize'], size(1024 ** 2, 4 * 1024 ** 3), 'restart', 'Packet ring in memory: how far back a flow\'s packets can be found (1MiB to 4GiB).', { flag: '--ring-size' }),
  k('capture', 'promisc', ['capture', 'promisc'], z.boolean(), 'restart', 'Put the interface into promiscuous mode.', { flag: '--no-promisc' }),
  k('capture', 'user', ['capture', 'user'], z.string().regex(/^[A-Za-z0-9_.][A-Za-z0-9_.-]*\$?$/), 'restart', 'Once the interface is open, run as this user. Not set: slowshake, else nobody (root keeps root).', { unsetByDefault: true, flag: '--user' }),

  k('kernel_filter', 'mode', ['kernelFilter', 'mode'], z.enum(['auto', 'ebpf', 'classic', 'off']), 'restart',
    'Which packets reach user space. "auto": the per-flow eBPF filter (each flow from its SYN until its handshake is done, then only FIN/RST), or the classic filter where eBPF cannot load; "ebpf": eBPF or fail; "classic": classic BPF only (records it could not see exactly are marked estimated); "off": every packet (full capture).', { flag: '--kernel-filter' }),
  k('kernel_filter', 'flow_packets', ['kernelFilter', 'flowPackets'], int(8, 1_000_000), 'restart', 'Per-flow packet budget: after this many packets a flow the analyzer has not marked done stops passing.'),
  k('kernel_filter', 'flow_time', ['kernelFilter', 'flowTimeMs'], duration(100, 3_600_000), 'restart', 'Per-flow time budget from the SYN, after which the flow stops passing.'),
  k('kernel_filter', 'max_flows', ['kernelFilter', 'maxFlows'], int(1024, 16_777_216), 'restart', 'Flows the filter map holds at most (least recently used are evicted, and counted).'),

  k('journal', 'enabled', ['journal', 'enabled'], z.boolean(), 'restart', 'Follow the journal for the proxy\'s slow-handshake events.', { flag: '--no-journal' }),
  k('journal', 'units', ['journal', 'units'], names, 'live', 'Only entries of these systemd units (_SYSTEMD_UNIT); empty: any.', { flag: '--unit' }),
  k('journal', 'identifiers', ['journal', 'identifiers'], names, 'live', 'Only entries with these SYSLOG_IDENTIFIERs; empty: any.', { flag: '--identifier' }),
  k('journal', 'directory', ['journal', 'directory'], z.string().min(1), 'restart', 'Follow this journal directory instead of the system journal. Not set: the system journal.', { unsetByDefault: true, flag: '--journal-dir' }),
  k('journal', 'journalctl', ['journal', 'journalctl'], z.string().min(1), 'restart', 'The journalctl program to run.'),

  k('events', 'pattern', ['events', 'pattern'], regex(false), 'live', 'Entries whose MESSAGE matches this regular expression (any case) are events.', { flag: '--event-pattern' }),
  k('events', 'regex', ['events', 'regex'], regex(true), 'live', 'Parse MESSAGE with this regular expression\'s named groups remote, local, sni, elapsed. Not set: structured fields and logfmt pairs.', { unsetByDefault: true, flag: '--event-regex' }),
  k('events', 'queue', ['events', 'queue'], int(1, 10_000_000), 'restart', 'Pending events at most; beyond it events are dropped and counted.', { flag: '--event-queue' }),
  k('events.fields', 'remote', ['events', 'fields', 'remote'], fieldNames, 'live', 'Journal fields or logfmt keys read for the client address, first found wins.', { flag: '--event-field remote=NAME' }),
  k('events.fields', 'local', ['events', 'fields', 'local'], fieldNames, 'live', 'Fields read for the server address.', { flag: '--event-field local=NAME' }),
  k('events.fields', 'sni', ['events', 'fields', 'sni'], fieldNames, 'live', 'Fields read for the server name.', { flag: '--event-field sni=NAME' }),
  k('events.fields', 'elapsed', ['events', 'fields', 'elapsed'], fieldNames, 'live', 'Fields read for the proxy\'s handshake time (ms).', { flag: '--event-field elapsed=NAME' }),

  k('handshake', 'slow_threshold', ['handshake', 'slowMs'], duration(0, 3_600_000), 'live', 'A handshake whose total time is at least this is slow: it gets evidence and counts as slow.', { flag: '--slow' }),
  k('handshake', 'hold', ['handshake', 'holdMs'], duration(0, 600_000), 'live', 'Keep collecting a flow this long after its event.', { flag: '--hold' }),
  k('handshake', 'margin', ['handshake', 'marginMs'], duration(0, 600_000), 'live', 'Look back this much before an event\'s start for its flow.', { flag: '--margin' }),
  k('handshake', 'proxy_clock', ['handshake', 'proxyClock'], z.enum(['accept', 'syn']), 'live', 'Where the proxy\'s handshake clock starts (accept: the client\'s ACK; syn: the SYN); proxy_lag_ms is its figure minus the wire time from there.', { flag: '--proxy-clock' }),

  k('output', 'directory', ['output', 'directory'], z.string().min(1), 'restart', 'Evidence directory: per-flow pcaps with their records beside them (created 0700).', { flag: '--out' }),
  k('output', 'records', ['output', 'records'], z.string().min(1), 'restart', 'Append every record to this protobuf stream. Not set: records.pb in the output directory.', { unsetByDefault: true, flag: '--records' }),
  k('output', 'report', ['output', 'report'], z.string().min(1), 'restart', 'Write the HTML report of the output directory\'s records (as slowshake report DIR -o FILE) to this file every report_interval and at shutdown. Not set: no report.', { unsetByDefault: true, flag: '--report' }),
  k('output', 'report_interval', ['output', 'reportIntervalMs'], duration(60_000, 7 * 86_400_000), 'restart', 'How often the report is rewritten (with report set).'),
  k('output', 'pcap_format', ['output', 'pcapFormat'], z.enum(['pcapng', 'pcap']), 'live', 'Per-flow file format (pcapng carries comments).', { flag: '--pcap-format' }),
  k('output', 'max_writes_per_sec', ['output', 'maxWritesPerSec'], int(1, 100_000), 'live', 'Write budget for per-flow pcaps; the rest waits in the event queue.', { flag: '--max-writes-per-sec' }),
  k('output', 'retention_bytes', ['output', 'retentionBytes'], size(1024 ** 2, 2 ** 50), 'live', 'The output directory holds at most this much; the oldest files are deleted first (counted).'),
  k('output', 'retention_age', ['output', 'retentionAgeMs'], duration(60_000, 3650 * 86_400_000), 'live', 'Files older than this are deleted (counted).'),

  k('metrics', 'listen', ['metrics', 'listen'], listen, 'restart', 'Prometheus metrics on http://ADDR:PORT/metrics (IPv6 as [::1]:9464).', { flag: '--metrics-listen' }),
  k('metrics', 'ipv4_prefix', ['metrics', 'ipv4Prefix'], int(8, 32), 'restart', 'Slow handshakes are counted by client network: IPv4 prefix length.'),
  k('metrics', 'ipv6_prefix', ['metrics', 'ipv6Prefix'], int(16, 128), 'restart', 'IPv6 prefix length of a client network.'),
  k('metrics', 'top_networks', ['metrics', 'topNetworks'], int(1, 1000), 'restart', 'Client networks labelled at most (the top by count); the rest are "other", so cardinality is bounded.'),

  k('state', 'directory', ['state', 'directory'], z.string().min(1), 'restart', 'State directory: the journal cursor, saved atomically, so a restart processes every event once.', { flag: '--state-dir' }),

  k('enrich', 'ranges', ['enrich', 'ranges'], z.array(z.string().min(1)), 'restart',
    'Cloud providers\' IP-range files (AWS ip-ranges.json, Google Cloud cloud.json, Google goog.json; recognised by content): each record\'s client_info gets provider, service, region and the matched range.', { flag: '--ranges' }),
  k('enrich', 'asn_db', ['enrich', 'asnDb'], z.string().min(1), 'restart', 'MaxMind-format ASN database (.mmdb, e.g. GeoLite2-ASN) for client_info.asn and as_org. Not set: no ASN.', { unsetByDefault: true, flag: '--asn-db' }),
  k('enrich', 'rdns', ['enrich', 'rdns'], z.boolean(), 'restart', 'Reverse DNS (PTR) of client addresses into client_info.rdns (capture and watch; analyze looks up only with --rdns). Off: no lookups at all.', { flag: '--rdns / --no-rdns' }),
  k('enrich', 'dns_server', ['enrich', 'dnsServer'], dnsServer, 'restart', 'DNS server for the PTR lookups, ADDR[:PORT]. Not set: the system\'s resolvers (/etc/resolv.conf).', { unsetByDefault: true, flag: '--dns-server' }),
  k('enrich', 'rdns_timeout', ['enrich', 'rdnsTimeoutMs'], duration(10, 30_000), 'restart', 'A PTR query not answered within this fails (one try).', { flag: '--rdns-timeout' }),
  k('enrich', 'rdns_wait', ['enrich', 'rdnsWaitMs'], duration(0, 60_000), 'restart', 'A record waits this long for its PTR answer at most, then goes on with rdns null and a note.'),
  k('enrich', 'rdns_cache', ['enrich', 'rdnsCacheSize'], int(1, 10_000_000), 'restart', 'Addresses whose PTR outcome is cached at most (least recently used evicted, counted).'),
  k('enrich', 'rdns_cache_ttl', ['enrich', 'rdnsCacheTtlMs'], duration(1000, 7 * 86_400_000), 'restart', 'How long a PTR answer is kept.'),
  k('enrich', 'rdns_negative_ttl', ['enrich', 'rdnsNegativeTtlMs'], duration(1000, 7 * 86_400_000), 'restart', 'How long no answer (no PTR record, timeout, failure) is kept, so a dead server is not asked for every record.'),
  k('enrich', 'rdns_rate', ['enrich', 'rdnsRate'], int(1, 100_000), 'restart', 'PTR queries per second at most; more wait in the queue.'),
  k('enrich', 'rdns_concurrency', ['enrich', 'rdnsConcurrency'], int(1, 10_000), 'restart', 'PTR queries in flight at most; more wait in the queue.'),
  k('enrich', 'rdns_queue', ['enrich', 'rdnsQueue'], int(1, 1_000_000), 'restart', 'Lookups waiting for the rate or concurrency bound at most; beyond it a lookup is dropped (counted, the record says so).'),
  k('enrich', 'max_pending', ['enrich', 'maxPending'], int(1, 1_000_000), 'restart', 'Records waiting for their PTR answer at most; beyond it the oldest goes on without waiting (counted, noted).'),
  k('enrich', 'top_networks', ['enrich', 'topNetworks'], int(1, 1000), 'restart', 'Lines of the "Top slow networks" section of summaries (the rest summed as other).'),

  k('alerts', 'alertmanagers', ['alerts', 'alertmanagers'], z.array(httpUrl), 'restart',
    'Alertmanager base URLs (v2 API: POST /api/v2/alerts). Each is sent every alert (an HA pair: list both). Empty: rules are still evaluated and shown in metrics and logs.', { flag: '--alertmanager (repeatable)' }),
  k('alerts', 'webhooks', ['alerts', 'webhooks'], z.array(httpUrl), 'restart', 'Generic webhook URLs: each gets every alert notification as a JSON POST.', { flag: '--alert-webhook (repeatable)' }),
  k('alerts', 'host', ['alerts', 'host'], z.string().min(1).max(253), 'restart', 'The host label of every alert. Not set: this machine\'s hostname.', { unsetByDefault: true }),
  k('alerts', 'evaluate_every', ['alerts', 'evaluateEveryMs'], duration(100, 300_000), 'restart', 'How often the rules are evaluated.'),
  k('alerts', 'resend_every', ['alerts', 'resendEveryMs'], duration(1000, 3_600_000), 'restart', 'A firing alert is sent again this often (Alertmanager expects it; endsAt is set 4 of these ahead, so alerts of a dead daemon resolve by themselves).'),
  k('alerts', 'timeout', ['alerts', 'timeoutMs'], duration(100, 60_000), 'restart', 'One delivery attempt gives up after this.'),
  k('alerts', 'queue', ['alerts', 'queue'], int(1, 100_000), 'restart', 'Notifications waiting for one Alertmanager or webhook at most (a newer one for the same alert replaces the older); beyond it the oldest is dropped (counted).'),
  k('alerts', 'retry_for', ['alerts', 'retryForMs'], duration(1000, 7 * 86_400_000), 'restart', 'A notification not delivered within this is dropped (counted); retries back off exponentially with jitter.'),
  k('alerts', 'default_rules', ['alerts', 'defaultRules'], z.boolean(), 'live', 'Run the shipped rules (slowshake config --print-defaults lists them); a [[alerts.rule]] of the same name replaces one, enabled = false turns one off.'),
  k('alerts', 'examples', ['alerts', 'examples'], int(0, 20), 'live', 'Example flows (with their pcap paths) in an alert\'s annotations at most.'),
  k('alerts', 'max_networks', ['alerts', 'maxNetworks'], int(1, 100_000), 'restart', 'Client networks per-network rules track at most (the least recently seen is replaced, counted).'),
  k('alerts', 'baseline_networks', ['alerts', 'baselineNetworks'], int(1, 100_000), 'restart', 'Client networks whose tcp_rtt and flight_rtt baselines are learned at most (the busiest; saved in the state directory).'),
  k('alerts', 'baseline_half_life', ['alerts', 'baselineHalfLifeMs'], duration(1000, 90 * 86_400_000), 'restart', 'How slowly a baseline follows its network: half of a lasting change is learned in this time.'),
  k('alerts', 'baseline_warmup', ['alerts', 'baselineWarmupMs'], duration(0, 90 * 86_400_000), 'restart', 'A network\'s baseline must have been learned this long before a baseline rule can fire for it.'),
  k('alerts', 'adaptive', ['alerts', 'adaptive'], z.boolean(), 'live', 'When a per-network alert fires (rules with adaptive = true), the kernel filter passes full packets for that network for a bounded time and byte budget, so its next slow handshakes get complete pcaps.'),
  k('alerts', 'adaptive_duration', ['alerts', 'adaptiveDurationMs'], duration(1000, 86_400_000), 'live', 'How long full capture stays on for a network.'),
  k('alerts', 'adaptive_bytes', ['alerts', 'adaptiveBytes'], size(64 * 1024, 2 ** 40), 'live', 'Bytes of full capture per network at most.'),
  k('alerts', 'adaptive_networks', ['alerts', 'adaptiveNetworks'], int(1, 64), 'live', 'Networks under full capture at once at most.'),
];

/** The `[[alerts.rule]]` array: not a KEYS key (a list of tables); reloads apply it live. */
export const RULES_KEY = 'alerts.rule';

/** Section order and headings of the default file. */
export const SECTIONS: readonly { name: string; doc: string }[] = [
  { name: 'capture', doc: 'Live capture (libpcap on a native thread into an in-memory ring).' },
  { name: 'kernel_filter', doc: 'What the kernel passes to user space (watch).' },
  { name: 'journal', doc: 'The proxy\'s journal: where slow-handshake events come from.' },
  { name: 'events', doc: 'Which journal entries are events, and how they are read.' },
  { name: 'events.fields', doc: 'Names tried for each part of an event (journal field, then logfmt key in MESSAGE).' },
  { name: 'handshake', doc: 'Slow handshakes and how events are matched to flows.' },
  { name: 'output', doc: 'Evidence on disk and its retention.' },
  { name: 'metrics', doc: 'Prometheus metrics (watch).' },
  { name: 'state', doc: 'State kept across restarts (watch).' },
  { name: 'enrich', doc: 'Who the clients are: reverse DNS, cloud provider ranges, ASN (client_info on every record, top slow networks in summaries).' },
  { name: 'alerts', doc: 'Alert rules evaluated by watch, sent to Alertmanager (v2 API) and webhooks; per-network baselines; adaptive evidence. Rules are [[alerts.rule]] tables (see the end of this file).' },
];

/** `[[alerts.rule]]`: each table valid, names unique. */
const RULES = z.array(RULE_SCHEMA).superRefine((rules, ctx) => {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: 'a rule name not used by another [[alerts.rule]]' });
    seen.add(r.name);
  });
});

/** The zod schema of a file: every section and key optional, nothing else allowed. */
export function fileSchema(): z.ZodType {
  const sections = new Map<string, Record<string, z.ZodType>>();
  for (const s of KEYS) {
    const shape = sections.get(s.section) ?? {};
    shape[s.key] = s.type.optional();
    sections.set(s.section, shape);
  }
  const fields = z.strictObject(sections.get('events.fields')!).optional();
  const top: Record<string, z.ZodType> = {};
  for (const [section, shape] of sections) {
    if (section === 'events.fields') continue;
    const extra = section === 'events' ? { fields } : section === 'alerts' ? { rule: RULES.optional() } : {};
    top[section] = z.strictObject({ ...shape, ...extra }).optional();
  }
  return z.strictObject(top);
}
