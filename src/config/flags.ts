/**
 * Command-line twins of the config keys, for `watch --config FILE -i IFACE …`: one parseArgs
 * table (FLAG_OPTIONS) and `layerFromFlags`, which validates each flag (or its SLOWSHAKE_* env
 * twin) with the key's own schema type and returns the layer that mergeConfig puts on top.
 * Errors name the flag: `--ring-size: expected a size between 1MiB and 4GiB, got "12"`.
 *
 * Flags keep capture's spellings and units: --slow is milliseconds, a bare --hold/--margin is
 * seconds; --unit/--identifier replace the file's lists; --event-field KEY=NAME tries NAME
 * before the names the layer below gives (the file's, else the defaults). --ranges is repeatable
 * (SLOWSHAKE_RANGES comma-separated) and replaces the file's list; --rdns / --no-rdns set
 * `[enrich] rdns` either way. `only` limits the flags read (analyze: ENRICH_FLAGS).
 */
import { UsageError } from '../cli/errors.js';
import { DEFAULTS } from './defaults.js';
import { expected, showValue } from './load.js';
import { KEYS, type Config, type ConfigLayer, type EventFields, type KeySpec } from './schema.js';

type FlagValue = string | boolean | string[] | undefined;

/** Flag -> dotted config key, and how its text becomes the key's file value. */
const FLAGS: Record<string, { key: string; env?: string; as?: 'int' | 'ms' | 'seconds' | 'off' | 'on' }> = {
  interface: { key: 'capture.interface', env: 'SLOWSHAKE_INTERFACE' },
  filter: { key: 'capture.filter', env: 'SLOWSHAKE_FILTER' },
  snaplen: { key: 'capture.snaplen', env: 'SLOWSHAKE_SNAPLEN' },
  'buffer-size': { key: 'capture.buffer_size', env: 'SLOWSHAKE_BUFFER_SIZE' },
  'ring-size': { key: 'capture.ring_size', env: 'SLOWSHAKE_RING_SIZE' },
  'no-promisc': { key: 'capture.promisc', as: 'off' },
  'kernel-filter': { key: 'kernel_filter.mode', env: 'SLOWSHAKE_KERNEL_FILTER' },
  user: { key: 'capture.user', env: 'SLOWSHAKE_USER' },
  unit: { key: 'journal.units', env: 'SLOWSHAKE_UNIT' },
  identifier: { key: 'journal.identifiers', env: 'SLOWSHAKE_IDENTIFIER' },
  'journal-dir': { key: 'journal.directory', env: 'SLOWSHAKE_JOURNAL_DIR' },
  'no-journal': { key: 'journal.enabled', as: 'off' },
  journalctl: { key: 'journal.journalctl', env: 'SLOWSHAKE_JOURNALCTL' },
  'event-pattern': { key: 'events.pattern', env: 'SLOWSHAKE_EVENT_PATTERN' },
  'event-regex': { key: 'events.regex', env: 'SLOWSHAKE_EVENT_REGEX' },
  'event-queue': { key: 'events.queue', env: 'SLOWSHAKE_EVENT_QUEUE', as: 'int' },
  slow: { key: 'handshake.slow_threshold', env: 'SLOWSHAKE_SLOW', as: 'ms' },
  hold: { key: 'handshake.hold', env: 'SLOWSHAKE_HOLD', as: 'seconds' },
  margin: { key: 'handshake.margin', env: 'SLOWSHAKE_MARGIN', as: 'seconds' },
  'proxy-clock': { key: 'handshake.proxy_clock', env: 'SLOWSHAKE_PROXY_CLOCK' },
  out: { key: 'output.directory', env: 'SLOWSHAKE_OUT' },
  records: { key: 'output.records', env: 'SLOWSHAKE_RECORDS' },
  report: { key: 'output.report', env: 'SLOWSHAKE_REPORT' },
  'pcap-format': { key: 'output.pcap_format', env: 'SLOWSHAKE_PCAP_FORMAT' },
  'max-writes-per-sec': { key: 'output.max_writes_per_sec', env: 'SLOWSHAKE_MAX_WRITES_PER_SEC', as: 'int' },
  'metrics-listen': { key: 'metrics.listen', env: 'SLOWSHAKE_METRICS_LISTEN' },
  'state-dir': { key: 'state.directory', env: 'SLOWSHAKE_STATE_DIR' },
  ranges: { key: 'enrich.ranges', env: 'SLOWSHAKE_RANGES' },
  'asn-db': { key: 'enrich.asn_db', env: 'SLOWSHAKE_ASN_DB' },
  rdns: { key: 'enrich.rdns', as: 'on' },
  'no-rdns': { key: 'enrich.rdns', as: 'off' },
  'dns-server': { key: 'enrich.dns_server', env: 'SLOWSHAKE_DNS_SERVER' },
  'rdns-timeout': { key: 'enrich.rdns_timeout', env: 'SLOWSHAKE_RDNS_TIMEOUT', as: 'ms' },
  alertmanager: { key: 'alerts.alertmanagers', env: 'SLOWSHAKE_ALERTMANAGER' },
  'alert-webhook': { key: 'alerts.webhooks', env: 'SLOWSHAKE_ALERT_WEBHOOK' },
};

/** Flags of the [enrich] section (analyze takes only these). */
export const ENRICH_FLAGS: readonly string[] = Object.keys(FLAGS).filter((f) => FLAGS[f]!.key.startsWith('enrich.'));

const MULTIPLE = new Set(['unit', 'identifier', 'event-field', 'ranges', 'alertmanager', 'alert-webhook']);

/** parseArgs options for every flag that has a config twin (spread into watch's table). */
export const FLAG_OPTIONS: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = Object.fromEntries([
  ...Object.keys(FLAGS).map((f) => [f, { type: FLAGS[f]!.as === 'off' || FLAGS[f]!.as === 'on' ? 'boolean' as const : 'string' as const, ...(MULTIPLE.has(f) ? { multiple: true } : {}), ...(f === 'interface' ? { short: 'i' } : {}) }]),
  ['event-field', { type: 'string' as const, multiple: true }],
]);

const SPECS = new Map(KEYS.map((k) => [`${k.section}.${k.key}`, k]));

function check(flag: string, spec: KeySpec, value: unknown, shown: string): unknown {
  const r = spec.type.safeParse(value);
  if (!r.success) throw new UsageError(`--${flag}: expected ${expected(r.error.issues[0]!)}, got ${JSON.stringify(shown)}`);
  return r.data;
}

function set(layer: Record<string, Record<string, unknown>>, spec: KeySpec, v: unknown): void {
  const [s, f] = spec.field as [string, string];
  (layer[s] ??= {})[f] = v;
}

/**
 * The layer the flags (and SLOWSHAKE_* environment twins) set. `below` is what they go on top of
 * (the loaded file's config, or the defaults), for --event-field's "tried first".
 */
export function layerFromFlags(values: Record<string, FlagValue>, env: NodeJS.ProcessEnv = {}, below: Config = DEFAULTS, only?: readonly string[]): ConfigLayer {
  const layer: Record<string, Record<string, unknown>> = {};
  if (values.rdns === true && values['no-rdns'] === true) throw new UsageError('--rdns and --no-rdns: give one of them');
  for (const [flag, m] of Object.entries(FLAGS)) {
    if (only !== undefined && !only.includes(flag)) continue;
    const spec = SPECS.get(m.key)!;
    const given = values[flag] ?? (m.env !== undefined ? env[m.env] : undefined);
    if (given === undefined || given === false) continue;
    if (m.as === 'off') { set(layer, spec, false); continue; }
    if (m.as === 'on') { set(layer, spec, true); continue; }
    if (MULTIPLE.has(flag)) {
      const list = Array.isArray(given) ? given : String(given).split(',').filter((x) => x !== '');
      set(layer, spec, check(flag, spec, list, list.join(',')));
      continue;
    }
    const text = String(given);
    const bare = /^\s*[0-9]+(\.[0-9]+)?\s*$/.test(text);
    const value = m.as === 'int' ? (bare ? Number(text) : text)
      : m.as === 'ms' ? (bare ? `${text.trim()}ms` : text)
      : m.as === 'seconds' ? (bare ? `${text.trim()}s` : text) : text;
    set(layer, spec, check(flag, spec, value, text));
  }
  const fieldSpecs = values['event-field'];
  if (Array.isArray(fieldSpecs) && fieldSpecs.length > 0) {
    const fields: EventFields = structuredClone(below.events.fields) as EventFields;
    for (const f of fieldSpecs) {
      const m = /^(remote|local|sni|elapsed)=([A-Za-z_][A-Za-z0-9_.-]*)$/.exec(f);
      if (!m) throw new UsageError(`--event-field: expected KEY=NAME with KEY one of remote, local, sni, elapsed, got ${showValue(f)}`);
      fields[m[1] as keyof EventFields].unshift(m[2]!);
    }
    (layer.events ??= {}).fields = fields;
  }
  return layer as ConfigLayer;
}
