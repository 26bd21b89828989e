/**
 * The report's inputs: flow records from what `analyze`, `capture` and `watch` write, recognised
 * by content, not by name.
 *
 * 1. A directory (a spot-check or watch output directory): every `*.json` in it is one record
 *    (the correlator writes one beside each pcap), and every `*.pb` in it a record stream
 *    (`records.pb`); subdirectories are not read.
 * 2. A file whose first non-blank byte is `{` is ndjson (`analyze --format ndjson`, one record a
 *    line); a whole-file JSON object with a `flows` array (`analyze --format json`) is accepted
 *    too. Anything else is read as a length-delimited protobuf record stream through the reader
 *    `slowshake records` uses (sinks/protobuf-records.ts).
 * 3. The same handshake seen twice (its .json beside its pcap and its frame in records.pb, or
 *    two inputs overlapping) counts once: the first copy read wins.
 * 4. Records are then put in one canonical order (start time, client, server), so the page does
 *    not depend on which kind of input, or which order of files, they came from.
 * A bad input throws CaptureFileError naming the file and the byte offset of the bad part.
 */
import { readFileSync } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { FlowRecord } from '../handshake/record.js';
import { CaptureFileError } from '../sources/capture-error.js';
import { readRecordStream } from '../sinks/protobuf-records.js';

export type InputKind = 'directory' | 'ndjson' | 'json' | 'records';

export interface LoadedInputs {
  records: FlowRecord[];
  /** Per input: what it was recognised as and how many records it gave (before de-duplication). */
  inputs: { path: string; kind: InputKind; records: number }[];
  duplicates: number;
}

function openProblem(path: string, err: unknown): CaptureFileError {
  const code = (err as NodeJS.ErrnoException).code;
  const why = code === 'ENOENT' ? 'no such file or directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code ?? String(err);
  return new CaptureFileError(path, 0, `cannot open: ${why}`);
}

const VERDICT_NAMES = new Set(['client', 'network', 'server', 'loss', 'incomplete']);
const isNum = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v);
const numOrNull = (v: unknown): boolean => v === null || isNum(v);

/**
 * Why a parsed JSON value is not a flow record, or null: it must have the fields the report draws
 * with the types the contract gives them (design.md "Output record"), so that a foreign or
 * hand-edited file is refused in one line instead of drawing nonsense (or markup) on the page.
 */
function checkRecord(v: unknown): string | null {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return 'not a JSON object';
  const r = v as Record<string, unknown>;
  const no = (what: string): string => `not a slowshake flow record (${what})`;
  for (const k of ['client', 'server'] as const) if (typeof r[k] !== 'string') return no(`no "${k}"`);
  for (const k of ['timeline', 'phases_ms', 'retransmits'] as const) {
    if (r[k] === null || typeof r[k] !== 'object' || Array.isArray(r[k])) return no(`no "${k}"`);
  }
  if (typeof r.verdict !== 'string' || !VERDICT_NAMES.has(r.verdict)) return no(`verdict ${JSON.stringify(r.verdict)} is not client, network, server, loss or incomplete`);
  for (const group of ['timeline', 'phases_ms'] as const) {
    for (const [k, x] of Object.entries(r[group] as Record<string, unknown>)) if (!numOrNull(x)) return no(`${group}.${k} is not a number or null`);
  }
  const rt = r.retransmits as Record<string, unknown>;
  if (!isNum(rt.client) || !isNum(rt.server)) return no('retransmits.client/server are not numbers');
  for (const k of ['event_elapsed_ms', 'proxy_lag_ms'] as const) if (r[k] !== undefined && !numOrNull(r[k])) return no(`${k} is not a number or null`);
  for (const k of ['sni', 'tls_version'] as const) if (r[k] !== undefined && r[k] !== null && typeof r[k] !== 'string') return no(`${k} is not a string`);
  if (r.pcap !== undefined && typeof r.pcap !== 'string') return no('pcap is not a string');
  for (const k of ['missing', 'notes'] as const) {
    if (!Array.isArray(r[k]) || (r[k] as unknown[]).some((x) => typeof x !== 'string')) return no(`${k} is not a list of strings`);
  }
  return null;
}

/** One parsed line or document, or the reason it is not a record. */
function parseRecord(text: string): { rec: FlowRecord } | { bad: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { bad: 'not valid JSON' };
  }
  const bad = checkRecord(v);
  return bad === null ? { rec: v as FlowRecord } : { bad };
}

const CHUNK = 4 * 1024 * 1024;
/** A whole-file JSON document (analyze --format json) is parsed in one piece, so it is bounded. */
const MAX_JSON_DOCUMENT = 256 * 1024 * 1024;

/**
 * ndjson read in chunks, line by line (a file may be larger than the largest string V8 makes),
 * each bad line reported with its number and byte offset. A first line that is not a whole
 * object (`{` alone: pretty-printed `analyze --format json`) makes it one JSON document instead.
 */
async function readJsonish(path: string): Promise<{ kind: InputKind; records: FlowRecord[] }> {
  const fh = await open(path, 'r').catch((err: unknown) => { throw openProblem(path, err); });
  const out: FlowRecord[] = [];
  try {
    let carry = Buffer.alloc(0);
    let base = 0; // file offset of carry[0]
    let line = 0;
    let first = true;
    for (;;) {
      const buf = Buffer.allocUnsafe(CHUNK);
      const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
      const data = carry.length > 0 ? Buffer.concat([carry, buf.subarray(0, bytesRead)]) : buf.subarray(0, bytesRead);
      let p = 0;
      for (;;) {
        let nl = data.indexOf(0x0a, p);
        if (nl < 0) {
          if (bytesRead > 0) break;
          if (p >= data.length) break;
          nl = data.length; // the last line has no newline
        }
        line++;
        const text = data.toString('utf8', p, nl).trim();
        if (text !== '') {
          if (first && !text.endsWith('}')) return { kind: 'json', records: await readDocument(path) };
          first = false;
          const got = parseRecord(text);
          if ('bad' in got) throw new CaptureFileError(path, base + p, `line ${line}: ${got.bad}`);
          out.push(got.rec);
        }
        p = nl + 1;
      }
      if (bytesRead === 0) return { kind: 'ndjson', records: out };
      carry = data.subarray(p);
      base += p;
    }
  } finally {
    await fh.close();
  }
}

/** The records of one JSON document with a `flows` array (analyze/records --format json). */
async function readDocument(path: string): Promise<FlowRecord[]> {
  const size = (await stat(path)).size;
  if (size > MAX_JSON_DOCUMENT) throw new CaptureFileError(path, 0, `one JSON document of ${size} bytes is too large (at most ${MAX_JSON_DOCUMENT >> 20} MiB): give the records as ndjson or records.pb`);
  let whole: unknown;
  try {
    whole = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    throw new CaptureFileError(path, 0, 'not valid JSON (neither one record per line nor one document)');
  }
  const flows = (whole as { flows?: unknown } | null)?.flows;
  if (!Array.isArray(flows)) throw new CaptureFileError(path, 0, 'a JSON document without a "flows" list of records');
  flows.forEach((f, i) => {
    const bad = checkRecord(f);
    if (bad !== null) throw new CaptureFileError(path, 0, `flows[${i}]: ${bad}`);
  });
  return flows as FlowRecord[];
}

async function readStream(path: string): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  for await (const r of readRecordStream(path)) out.push(r);
  return out;
}

/** First non-blank byte of a file (or -1 when it is empty or blank). */
async function firstByte(path: string): Promise<number> {
  const fh = await open(path, 'r').catch((err: unknown) => { throw openProblem(path, err); });
  try {
    const buf = Buffer.alloc(4096);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return -1;
      for (let i = 0; i < bytesRead; i++) if (buf[i] !== 0x20 && buf[i] !== 0x0a && buf[i] !== 0x0d && buf[i] !== 0x09) return buf[i]!;
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
}

async function readFileInput(path: string): Promise<{ kind: InputKind; records: FlowRecord[] }> {
  const b = await firstByte(path);
  if (b === 0x7b) return readJsonish(path);
  if (b === -1) return { kind: 'ndjson', records: [] };
  return { kind: 'records', records: await readStream(path) };
}

/** Thrown by loadInputs when its `stop` signal is aborted before every file was read (a deadline). */
export class InputDeadlineError extends Error {
  constructor(readonly path: string, readonly read: number, readonly total: number) {
    super(`${path}: the deadline came after ${read} of ${total} files were read`);
  }
}

/**
 * Directory records are read synchronously, this many between turns of the event loop (watch's
 * capture follower and timers run in between, ~2-8 ms apart). Through the async thread pool,
 * 50,000 records took 7.5 s one at a time and 1.5-2.5 s with 32 in flight, at 2.5-4 CPU-s;
 * readFileSync takes 0.4 s and 0.4 CPU-s.
 */
const DIR_BATCH = 256;

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function readDirectory(path: string, streams: boolean, stop: AbortSignal | undefined): Promise<FlowRecord[]> {
  const names = (await readdir(path).catch((err: unknown) => { throw openProblem(path, err); })).sort()
    // dot files: temp files of a writer still at work
    .filter((n) => !n.startsWith('.') && (n.endsWith('.json') || (streams && n.endsWith('.pb'))));
  const out: FlowRecord[] = [];
  for (let i = 0; i < names.length; i++) {
    if (i > 0 && i % DIR_BATCH === 0) {
      await nextTurn();
      if (stop?.aborted === true) throw new InputDeadlineError(path, i, names.length);
    }
    const file = join(path, names[i]!);
    if (names[i]!.endsWith('.json')) {
      let text: string;
      try { text = readFileSync(file, 'utf8'); } catch (err) { throw openProblem(file, err); }
      const got = parseRecord(text);
      if ('bad' in got) throw new CaptureFileError(file, 0, got.bad);
      out.push(got.rec);
    } else {
      out.push(...await readStream(file));
    }
  }
  return out;
}

/** When the handshake started (µs), for identity and order: its first timeline point, else its event's time. */
export function startUs(r: FlowRecord): number {
  const tl = r.timeline;
  let min = Infinity;
  for (const k in tl) {
    const v = tl[k as keyof typeof tl];
    if (v !== null && v < min) min = v;
  }
  if (min !== Infinity) return min;
  const ev = r.event as { timestamp_us?: unknown } | undefined;
  return typeof ev?.timestamp_us === 'number' ? ev.timestamp_us : 0;
}

/** Canonical order: start time, then client, then server. */
export function canonicalOrder(a: FlowRecord, b: FlowRecord): number {
  return startUs(a) - startUs(b) || (a.client < b.client ? -1 : a.client > b.client ? 1 : 0) || (a.server < b.server ? -1 : a.server > b.server ? 1 : 0);
}

/**
 * Reads every input (see the file comment). Throws CaptureFileError on the first bad one.
 * `dirStreams: false` skips the *.pb streams inside directories (watch: its .json records are
 * bounded by retention, its records.pb is not). `stop` aborted: a directory still being read
 * throws InputDeadlineError at its next batch (watch's deadline at stop).
 */
export async function loadInputs(paths: readonly string[], opts: { dirStreams?: boolean; stop?: AbortSignal } = {}): Promise<LoadedInputs> {
  const inputs: LoadedInputs['inputs'] = [];
  const seen = new Set<string>();
  const records: FlowRecord[] = [];
  let duplicates = 0;
  for (const path of paths) {
    const st = await stat(path).catch((err: unknown) => { throw openProblem(path, err); });
    const got = st.isDirectory() ? { kind: 'directory' as const, records: await readDirectory(path, opts.dirStreams ?? true, opts.stop) } : await readFileInput(path);
    inputs.push({ path, kind: got.kind, records: got.records.length });
    for (const r of got.records) {
      const key = `${r.client}|${r.server}|${startUs(r)}`;
      if (seen.has(key)) { duplicates++; continue; }
      seen.add(key);
      records.push(r);
    }
  }
  records.sort(canonicalOrder);
  return { records, inputs, duplicates };
}
