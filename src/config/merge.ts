/**
 * Layers and reloads (pure functions):
 *
 * - `resolveConfig(...layers)`: defaults, then each layer over the one before (later wins), one
 *   frozen Config. `mergeConfig({ file, flags })` is the command line's order: flags over the file
 *   over the defaults (`watch --config FILE -i IFACE …`).
 * - `reloadable(old, next)`: which changed keys a reload applies live and which need a restart
 *   (schema.ts marks each key); `applyReload(old, next)` is the config a reload runs with: live
 *   keys from `next`, restart keys kept as they run.
 */
import { DEFAULTS, freezeDeep } from './defaults.js';
import { KEYS, RULES_KEY, type Config, type ConfigLayer, type KeySpec } from './schema.js';

const isTable = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function mergeInto(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (v === undefined) continue;
    out[k] = isTable(v) && isTable(base[k]) ? mergeInto(base[k], v) : Array.isArray(v) ? [...v] : v;
  }
  return out;
}

/** Defaults, then every layer in order (a later layer wins), validated shapes, frozen. */
export function resolveConfig(...layers: ConfigLayer[]): Config {
  let c = structuredClone(DEFAULTS) as unknown as Record<string, unknown>;
  for (const l of layers) c = mergeInto(c, l as Record<string, unknown>);
  return freezeDeep(c as unknown as Config);
}

/** Command-line flags over a loaded file over the defaults: flags win. */
export function mergeConfig(sources: { file?: ConfigLayer | null; flags?: ConfigLayer | null }): Config {
  return resolveConfig(sources.file ?? {}, sources.flags ?? {});
}

function valueOf(c: Config, spec: KeySpec): unknown {
  let v: unknown = c;
  for (const p of spec.field) v = (v as Record<string, unknown>)[p];
  return v;
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

export interface ReloadSplit {
  /** Changed keys a reload applies to the running daemon (dotted file keys). */
  live: string[];
  /** Changed keys that take effect only after a restart. */
  restart: string[];
}

/** Which keys differ between the running config and a reloaded one, split by how they apply. */
export function reloadable(old: Config, next: Config): ReloadSplit {
  const out: ReloadSplit = { live: [], restart: [] };
  for (const spec of KEYS) {
    if (same(valueOf(old, spec), valueOf(next, spec))) continue;
    out[spec.reload].push(`${spec.section}.${spec.key}`);
  }
  if (!same(old.alerts.rules, next.alerts.rules)) out.live.push(RULES_KEY);
  return out;
}

/** The config a reload runs with: `next`'s live keys, `old`'s restart keys. */
export function applyReload(old: Config, next: Config): Config {
  const keep: Record<string, unknown> = {};
  for (const spec of KEYS) {
    if (spec.reload !== 'restart') continue;
    let t = keep;
    for (const p of spec.field.slice(0, -1)) t = (t[p] ??= {}) as Record<string, unknown>;
    t[spec.field[spec.field.length - 1]!] = valueOf(old, spec);
  }
  return resolveConfig(next as unknown as ConfigLayer, keep as ConfigLayer);
}
