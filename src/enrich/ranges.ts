/**
 * Cloud providers' published IP-range files, read from disk and recognised by their content
 * (not by their names):
 *
 * | provider | file | shape |
 * |---|---|---|
 * | `aws` | ip-ranges.json | `{syncToken, createDate, prefixes: [{ip_prefix, region, service, network_border_group}], ipv6_prefixes: [{ipv6_prefix, region, service, network_border_group}]}` |
 * | `gcp` | cloud.json (Google Cloud customer ranges) | `{syncToken, creationTime, prefixes: [{ipv4Prefix \| ipv6Prefix, service, scope}]}`; scope is the region |
 * | `google` | goog.json (all Google addresses) | the same shape without service and scope |
 *
 * AWS lists most ranges twice: once under the catch-all service `AMAZON` and again under the
 * service that uses it (EC2, CLOUDFRONT, …); the specific service is kept.
 *
 * 1. Each file is parsed and checked entry by entry; anything else is one EnrichInputError
 *    naming the file and the first problem (`not an AWS ip-ranges.json or Google cloud.json
 *    file (…)`, `prefixes[3].ip_prefix: "10.0.0.1/33" is not an IPv4 CIDR prefix`).
 * 2. Every prefix goes into one PrefixTable; a prefix in two files takes the later file's entry.
 */
import { readFileSync } from 'node:fs';
import { parsePrefix, type Prefix } from './ip.js';
import { describeReadError, EnrichInputError } from './errors.js';
import { PrefixTable, PrefixTableBuilder } from './prefix-table.js';

export type RangeFormat = 'aws' | 'gcp' | 'google';

/** What a range file says about a prefix. */
export interface RangeInfo {
  provider: RangeFormat;
  service: string | null;
  region: string | null;
  /** The range itself, CIDR text as in the file. */
  prefix: string;
}

export interface RangeFileSummary {
  file: string;
  format: RangeFormat;
  prefixes: number;
  /** syncToken, createDate / creationTime as the file gives them (null when absent). */
  sync_token: string | null;
  created: string | null;
}

const NOT_A_RANGE_FILE = 'not an AWS ip-ranges.json or Google cloud.json file';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const optString = (o: Obj, k: string): string | null => (typeof o[k] === 'string' ? (o[k] as string) : null);

interface Parsed { format: RangeFormat; entries: Map<string, { p: Prefix; info: RangeInfo }>; summary: RangeFileSummary }

function fail(file: string, why: string): never {
  throw new EnrichInputError(file, why);
}

function prefixOf(file: string, where: string, v: unknown, family: 4 | 6): Prefix {
  const p = typeof v === 'string' ? parsePrefix(v) : null;
  const kind = where.includes('_prefix') ? 'AWS ip-ranges.json' : 'Google range file';
  if (p === null || p.family !== family) fail(file, `${kind} entry ${where}: ${JSON.stringify(v) ?? 'nothing'} is not an IPv${family} CIDR prefix`);
  return p;
}

function parseAws(file: string, doc: Obj, out: Parsed['entries']): void {
  for (const [list, key, family] of [['prefixes', 'ip_prefix', 4], ['ipv6_prefixes', 'ipv6_prefix', 6]] as const) {
    const items = doc[list];
    if (items === undefined) continue;
    if (!Array.isArray(items)) fail(file, `AWS ip-ranges.json: ${list} is not a list`);
    for (let i = 0; i < items.length; i++) {
      const it: unknown = items[i];
      const where = `${list}[${i}]`;
      if (!isObj(it)) fail(file, `range file entry ${where}: not an object`);
      const p = prefixOf(file, `${where}.${key}`, it[key], family);
      if (typeof it.service !== 'string') fail(file, `AWS ip-ranges.json entry ${where}: no service`);
      const text = it[key] as string;
      const info: RangeInfo = { provider: 'aws', service: it.service, region: optString(it, 'region'), prefix: text };
      const had = out.get(text);
      // the catch-all AMAZON entry never replaces a specific service's entry of the same range
      if (had === undefined || (had.info.service === 'AMAZON' && info.service !== 'AMAZON')) out.set(text, { p, info });
    }
  }
}

function parseGoogle(file: string, items: unknown[], out: Parsed['entries']): RangeFormat {
  let format: RangeFormat = 'google';
  for (let i = 0; i < items.length; i++) {
    const it: unknown = items[i];
    const where = `prefixes[${i}]`;
    if (!isObj(it)) fail(file, `range file entry ${where}: not an object`);
    const v4 = it.ipv4Prefix !== undefined;
    if (v4 === (it.ipv6Prefix !== undefined)) fail(file, `Google range file entry ${where}: needs exactly one of ipv4Prefix, ipv6Prefix`);
    const key = v4 ? 'ipv4Prefix' : 'ipv6Prefix';
    const p = prefixOf(file, `${where}.${key}`, it[key], v4 ? 4 : 6);
    const scope = optString(it, 'scope');
    const service = optString(it, 'service');
    if (scope !== null || service !== null) format = 'gcp';
    out.set(it[key] as string, { p, info: { provider: 'gcp', service, region: scope, prefix: it[key] as string } });
  }
  if (format === 'google') for (const e of out.values()) e.info.provider = 'google';
  return format;
}

/** Parses one range file's text (exported for tests); throws EnrichInputError. */
export function parseRangeFile(file: string, text: string): Parsed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    fail(file, `${NOT_A_RANGE_FILE} (not JSON: ${(err as Error).message.split('\n')[0]})`);
  }
  if (!isObj(doc)) fail(file, `${NOT_A_RANGE_FILE} (not a JSON object)`);
  const entries: Parsed['entries'] = new Map();
  const prefixes = doc.prefixes;
  const first: unknown = Array.isArray(prefixes) ? prefixes[0] : undefined;
  let format: RangeFormat;
  if (Array.isArray(doc.ipv6_prefixes) || (isObj(first) && 'ip_prefix' in first) || (Array.isArray(prefixes) && prefixes.length === 0 && 'createDate' in doc)) {
    format = 'aws';
    parseAws(file, doc, entries);
  } else if (Array.isArray(prefixes) && (isObj(first) ? 'ipv4Prefix' in first || 'ipv6Prefix' in first : 'creationTime' in doc)) {
    format = parseGoogle(file, prefixes, entries);
  } else {
    const keys = Object.keys(doc).slice(0, 5).map((k) => JSON.stringify(k)).join(', ');
    fail(file, `${NOT_A_RANGE_FILE} (${Array.isArray(prefixes) ? 'its "prefixes" entries have neither ip_prefix nor ipv4Prefix/ipv6Prefix' : `no "prefixes" list; keys: ${keys || 'none'}`})`);
  }
  return {
    format,
    entries,
    summary: {
      file, format, prefixes: entries.size, sync_token: doc.syncToken === undefined ? null : String(doc.syncToken),
      created: optString(doc, format === 'aws' ? 'createDate' : 'creationTime'),
    },
  };
}

/** The providers' ranges of every file given, in one longest-prefix-match table. */
export class RangeSet {
  readonly #table: PrefixTable;
  readonly #infos: RangeInfo[];
  readonly files: readonly RangeFileSummary[];

  private constructor(table: PrefixTable, infos: RangeInfo[], files: RangeFileSummary[]) {
    this.#table = table;
    this.#infos = infos;
    this.files = files;
  }

  /** Reads and indexes the files (in order: a later file's entry wins); throws EnrichInputError. */
  static load(files: readonly string[]): RangeSet {
    const parsed: Parsed[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (err) {
        fail(file, describeReadError(err as NodeJS.ErrnoException));
      }
      parsed.push(parseRangeFile(file, text));
    }
    return RangeSet.fromParsed(parsed);
  }

  /** Builds the table from already parsed files (parseRangeFile). */
  static fromParsed(parsed: readonly Parsed[]): RangeSet {
    const builder = new PrefixTableBuilder();
    const infos: RangeInfo[] = [];
    for (const f of parsed) {
      for (const { p, info } of f.entries.values()) {
        builder.add(p, infos.length);
        infos.push(info);
      }
    }
    return new RangeSet(builder.build(), infos, parsed.map((f) => f.summary));
  }

  /** Prefixes indexed (after de-duplication). */
  get size(): number {
    return this.#table.prefixes.v4 + this.#table.prefixes.v6;
  }

  /** The most specific range holding the IPv4 address `a` (uint32), or null. */
  lookup4(a: number): RangeInfo | null {
    const v = this.#table.lookup4(a);
    return v < 0 ? null : this.#infos[v]!;
  }

  /** The most specific range holding address `a` (4 or 16 bytes), or null. */
  lookup(a: Uint8Array): RangeInfo | null {
    const v = this.#table.lookupBytes(a);
    return v < 0 ? null : this.#infos[v]!;
  }
}
