/**
 * The table of command-line flags that have a config twin (flags.ts validates them against the
 * schema). Kept apart, importing nothing, so a command can build its parseArgs options without
 * loading the schema (zod): `analyze` loads flags.ts only when an enrich flag is given, which
 * takes ~0.1 s off its start (issue 13).
 */

/** Flag -> dotted config key, and how its text becomes the key's file value. */
export const FLAGS: Record<string, { key: string; env?: string; as?: 'int' | 'ms' | 'seconds' | 'off' | 'on' }> = {
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

export const MULTIPLE = new Set(['unit', 'identifier', 'event-field', 'ranges', 'alertmanager', 'alert-webhook']);

/** parseArgs options for every flag that has a config twin (spread into watch's table). */
export const FLAG_OPTIONS: Record<string, { type: 'string' | 'boolean'; multiple?: boolean; short?: string }> = Object.fromEntries([
  ...Object.keys(FLAGS).map((f) => [f, { type: FLAGS[f]!.as === 'off' || FLAGS[f]!.as === 'on' ? 'boolean' as const : 'string' as const, ...(MULTIPLE.has(f) ? { multiple: true } : {}), ...(f === 'interface' ? { short: 'i' } : {}) }]),
  ['event-field', { type: 'string' as const, multiple: true }],
]);

/** Whether any of `only` (or its SLOWSHAKE_* twin) is set, i.e. whether layerFromFlags has anything to check. */
export function enrichFlagGiven(values: Record<string, unknown>, env: NodeJS.ProcessEnv, only: readonly string[] = ENRICH_FLAGS): boolean {
  for (const f of only) {
    const m = FLAGS[f]!;
    const v = values[f] ?? (m.env !== undefined ? env[m.env] : undefined);
    if (v !== undefined && v !== false) return true;
  }
  return false;
}
