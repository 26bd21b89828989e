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
import { FLAGS, MULTIPLE } from './flag-table.js';

export { ENRICH_FLAGS, FLAG_OPTIONS, enrichFlagGiven } from './flag-table.js';

type FlagValue = string | boolean | string[] | undefined;

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
