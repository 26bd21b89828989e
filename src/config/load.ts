/**
 * Loading a config file:
 *
 * 1. Read it and parse TOML (smol-toml); a syntax error names the file, line and column.
 * 2. Validate with the schema (zod, schema.ts); the first problem becomes one ConfigError line
 *    naming the file, the dotted key, what was expected and the value received, with a
 *    did-you-mean hint for a misspelt or misplaced key.
 * 3. Map the file's keys onto a ConfigLayer (normalised: bytes, milliseconds), then merge it over
 *    the defaults (merge.ts) into one frozen Config.
 */
import { readFileSync } from 'node:fs';
import { parse, TomlError } from 'smol-toml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { fileSchema, KEYS, SECTIONS, type Config, type ConfigLayer } from './schema.js';
import { normaliseRule, type RuleInput } from '../alert/rules.js';
import { resolveConfig } from './merge.js';

let schema: z.ZodType | null = null;

/** Loads and validates FILE into a frozen Config (defaults for what it leaves out). */
export function loadConfigFile(file: string): Config {
  return resolveConfig(loadConfigLayer(file));
}

/** Reads and validates FILE into the layer it sets (no defaults applied). */
export function loadConfigLayer(file: string): ConfigLayer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.code === 'EISDIR' ? 'is a directory' : e.message;
    throw new ConfigError(`${file}: cannot read the config file: ${why}`, 'unreadable', file, null);
  }
  return parseConfigText(text, file);
}

/** Parses and validates TOML text; `file` names it in errors. */
export function parseConfigText(text: string, file: string): ConfigLayer {
  let raw: Record<string, unknown>;
  try {
    raw = parse(text) as Record<string, unknown>;
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '');
      // The line itself names the key and the value the parser stopped at.
      const src = (text.split(/\r?\n/)[err.line - 1] ?? '').trim();
      const shown = src.length > 60 ? `${src.slice(0, 57)}...` : src;
      throw new ConfigError(`${file}:${err.line}:${err.column}: invalid TOML: ${what}${shown ? `, at: ${shown}` : ''}`, 'syntax', file, null);
    }
    throw err;
  }
  schema ??= fileSchema();
  const r = schema.safeParse(raw);
  if (!r.success) throw toConfigError(r.error.issues, raw, file);
  return toLayer(r.data as Record<string, Record<string, unknown>>);
}

function toLayer(data: Record<string, Record<string, unknown>>): ConfigLayer {
  const layer: Record<string, Record<string, unknown>> = {};
  for (const spec of KEYS) {
    const [sub, key] = spec.section.includes('.') ? spec.section.split('.') as [string, string] : [spec.section, null];
    const section = data[sub];
    const v = key === null ? section?.[spec.key] : (section?.[key] as Record<string, unknown> | undefined)?.[spec.key];
    if (v === undefined) continue;
    const [s, f, g] = spec.field as [string, string, string?];
    const target = (layer[s] ??= {});
    if (g === undefined) target[f] = v;
    else ((target[f] ??= {}) as Record<string, unknown>)[g] = v;
  }
  const rules = data.alerts?.rule as RuleInput[] | undefined;
  if (rules !== undefined) (layer.alerts ??= {}).rules = rules.map(normaliseRule);
  return layer as ConfigLayer;
}

/** A TOML value as the user wrote it, for "got …". */
export function showValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return `[${v.map(showValue).join(', ')}]`;
  if (typeof v === 'object' && v !== null) {
    const s = `{ ${Object.entries(v).map(([k, x]) => `${k} = ${showValue(x)}`).join(', ')} }`;
    return s.length > 80 ? `a table (${Object.keys(v).join(', ')})` : s;
  }
  return String(v);
}

const TYPE_NAMES: Record<string, string> = {
  // Every number in the schema is a whole number (int()), so "number" is said as one.
  string: 'a string', number: 'a whole number', int: 'a whole number', boolean: 'true or false', array: 'an array', object: 'a table',
};

/** What an issue's value should have been ("a size such as …", "one of …"). */
export function expected(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'invalid_type': return TYPE_NAMES[issue.expected] ?? issue.expected;
    case 'too_small': return issue.origin === 'array' ? `at least ${issue.minimum} entr${issue.minimum === 1 ? 'y' : 'ies'}`
      : issue.origin === 'string' ? 'a non-empty string' : `a number >= ${issue.minimum}`;
    case 'too_big': return `a number <= ${issue.maximum}`;
    case 'invalid_value': return `one of ${issue.values.map((v) => JSON.stringify(v)).join(', ')}`;
    case 'invalid_format': return issue.format === 'regex' ? formatHint(issue.path) : issue.message;
    case 'custom': return issue.message;
    default: return issue.message;
  }
}

/** The expected form of a key checked by a pattern. */
function formatHint(path: PropertyKey[]): string {
  const key = path.filter((p) => typeof p === 'string').join('.');
  if (key === 'metrics.listen') return 'ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464';
  if (key === 'capture.user') return 'a user name';
  if (key === 'capture.interface') return 'an interface name (at most 15 characters, no spaces or /)';
  if (key.startsWith('events.fields.')) return 'journal field or logfmt key names (letters, digits, _ . -)';
  return 'a value without spaces';
}

function at(raw: unknown, path: readonly PropertyKey[]): unknown {
  let v = raw;
  for (const p of path) v = v !== null && typeof v === 'object' ? (v as Record<PropertyKey, unknown>)[p] : undefined;
  return v;
}

const dotted = (path: readonly PropertyKey[]): string => path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[');

function toConfigError(issues: readonly z.core.$ZodIssue[], raw: unknown, file: string): ConfigError {
  // An unknown key is the likeliest root cause (a typo), so it is reported first.
  const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  if (issue.code === 'unrecognized_keys') {
    const name = issue.keys[0]!;
    const key = dotted([...issue.path, name]);
    const hint = didYouMean(issue.path.map(String).join('.'), name);
    return new ConfigError(`${file}: ${key}: unknown key${hint}, got ${showValue(at(raw, [...issue.path, name]))}${more}`, 'unknown_key', file, key);
  }
  const key = dotted(issue.path);
  return new ConfigError(`${file}: ${key}: expected ${expected(issue)}, got ${showValue(at(raw, issue.path))}${more}`, 'invalid_value', file, key);
}

function distance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const cur = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
  }
  return d[b.length]!;
}

/** " (did you mean …?)" for a key unknown in `section` ('' for the top level), or ''. */
function didYouMean(section: string, name: string): string {
  const here = section === '' ? SECTIONS.map((s) => s.name).filter((s) => !s.includes('.'))
    : [...KEYS.filter((k) => k.section === section).map((k) => k.key), ...(section === 'events' ? ['fields'] : section === 'alerts' ? ['rule'] : [])];
  let best: string | null = null, bestD = Infinity;
  for (const c of here) {
    const d = distance(name.toLowerCase(), c);
    if (d < bestD) { best = c; bestD = d; }
  }
  if (best !== null && bestD <= Math.max(1, Math.floor(best.length / 3))) return ` (did you mean ${section ? `${section}.` : ''}${best}?)`;
  // The right key in the wrong section (or at the top level).
  const elsewhere = KEYS.find((k) => k.key === name && k.section !== section);
  if (elsewhere) return ` (${name} belongs in [${elsewhere.section}])`;
  const renamed = Object.hasOwn(RENAMED, name) ? RENAMED[name] : undefined;
  if (renamed) return ` (did you mean ${renamed}?)`;
  return section === '' ? ` (sections: ${here.join(', ')})` : ` ([${section}] takes ${here.join(', ')})`;
}

/** Command-line spellings people carry over into the file. */
const RENAMED: Record<string, string> = {
  slow: 'handshake.slow_threshold', slow_ms: 'handshake.slow_threshold', out: 'output.directory',
  unit: 'journal.units', identifier: 'journal.identifiers', journal_dir: 'journal.directory',
  event_pattern: 'events.pattern', event_regex: 'events.regex', event_queue: 'events.queue', iface: 'capture.interface',
};
