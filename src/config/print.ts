/**
 * `slowshake config --print-defaults`: the default config file, every key documented from
 * schema.ts and set to its default from defaults.ts, so the file loads to exactly the defaults.
 * Keys whose default is "not set" are printed commented out, with an example.
 */
import { stringify } from 'smol-toml';
import { DEFAULTS } from './defaults.js';
import { DURATION_TYPES, KEYS, SECTIONS, SIZE_TYPES, type KeySpec } from './schema.js';
import { formatDuration, formatSize } from './units.js';
import { DEFAULT_RULES, describeRule } from '../alert/rules.js';

const RULES_DOC = `Alert rules: [[alerts.rule]] tables. kind = "rate" (slow handshakes with a verdict, or any,
above per_minute over window, per_network optional), "baseline" (a client network's median phase,
tcp_rtt or flight_rtt, over window above its learned baseline by more than rise_percent and
min_rise, with at least min_samples), "health" (check = "drops", "ring_reach", "journal_lag" or
"evidence_failures", with threshold). Every rule: name (unique), for (pending time), severity,
labels and annotations (tables of strings), alertname (default: Slowshake + the name in
CamelCase), enabled; rate and baseline rules: adaptive (widen capture for the network while it
fires). A rule named like a shipped one replaces it. The shipped rules (default_rules = true):`;

const EXAMPLES: Record<string, unknown> = {
  'capture.interface': 'eth0',
  'capture.user': 'slowshake',
  'journal.directory': '/var/log/journal/remote',
  'events.regex': 'client=(?<remote>\\S+) .*took (?<elapsed>[0-9]+)ms',
  'output.records': '/var/lib/slowshake/records.pb',
  'output.report': '/var/lib/slowshake/report.html',
  'enrich.asn_db': '/var/lib/slowshake/GeoLite2-ASN.mmdb',
  'enrich.dns_server': '127.0.0.53:53',
  'alerts.host': 'edge-fra-1',
};

function wrap(text: string, prefix = '# ', width = 98): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && prefix.length + line.length + 1 + word.length > width) { lines.push(prefix + line); line = word; }
    else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(prefix + line);
  return lines;
}

function valueText(spec: KeySpec, v: unknown): string {
  if (SIZE_TYPES.has(spec.type) && typeof v === 'number') return spec.key === 'snaplen' ? String(v) : JSON.stringify(formatSize(v));
  if (DURATION_TYPES.has(spec.type) && typeof v === 'number') return JSON.stringify(formatDuration(v));
  return stringify({ v }).trim().replace(/^v = /, '');
}

function defaultOf(spec: KeySpec): unknown {
  let v: unknown = DEFAULTS;
  for (const p of spec.field) v = (v as Record<string, unknown>)[p];
  return v;
}

const HEADER = `# slowshake configuration (TOML).
#
# Used by "slowshake watch --config FILE"; check a file with "slowshake config --check FILE".
# Every key is optional: a key left out takes the default shown here. Command-line flags win over
# this file, and this file over the defaults. Sizes are bytes or strings such as "256MiB" or "64k";
# durations are strings with their unit: "250ms", "2s", "10m", "1h", "7d".
#
# On SIGHUP watch reloads this file. Keys marked "reload: live" take effect at once; keys marked
# "reload: restart" keep their running value until a restart (watch logs which). A file with an
# error is refused as a whole: the running configuration stays, and the error names the key.
`;

/** The commented default file. */
export function printDefaults(): string {
  const out = [HEADER.trimEnd()];
  for (const section of SECTIONS) {
    out.push('', ...wrap(section.doc), `[${section.name}]`);
    for (const spec of KEYS.filter((k) => k.section === section.name)) {
      out.push(...wrap(spec.doc), `# reload: ${spec.reload}${spec.flag ? `; flag: ${spec.flag}` : ''}`);
      const dotted = `${spec.section}.${spec.key}`;
      if (spec.unsetByDefault) out.push(`# ${spec.key} = ${valueText(spec, EXAMPLES[dotted])}`);
      else out.push(`${spec.key} = ${valueText(spec, defaultOf(spec))}`);
    }
  }
  out.push('', ...wrap(RULES_DOC.replace(/\n/g, ' ')));
  for (const r of DEFAULT_RULES) out.push(...wrap(`${r.name} (${r.kind}, ${r.severity}): ${describeRule(r)}`, '#   '));
  out.push('# An example (it replaces the shipped slow_network rule, with a label for routing added):', '#',
    '# [[alerts.rule]]', '# name = "slow_network"', '# kind = "rate"', '# verdict = "network"', '# per_minute = 60', '# window = "5m"',
    '# for = "10m"', '# severity = "critical"', '# labels = { team = "edge" }', '# annotations = { runbook = "https://wiki.example/slow-tls" }');
  return out.join('\n') + '\n';
}
