/**
 * FlowRecord ↔ protobuf message (proto/slowshake.proto, message slowshake.v1.FlowRecord).
 *
 * 1. The .proto file is the schema of record. It is loaded once, on first use, with protobufjs
 *    (keepCase: the JSON contract's snake_case names are the field names), from the package root:
 *    the nearest directory above this module that holds package.json, so the same code works
 *    from src/ (vitest) and from dist/ (after `npm run build`, or installed as a dependency).
 * 2. `encodeRecord` maps a record onto the message: null → unset proto3 `optional` field; keys
 *    that may be absent or null → a NullableDouble message; keys the schema does not know → `extra`
 *    as JSON text. Nothing is rounded or dropped; a timeline value that is not an integer µs
 *    count is a broken invariant and throws.
 * 3. `decodeRecord` reverses it exactly: decodeRecord(encodeRecord(r)) deep-equals r (nulls,
 *    absent optional keys, -0, __proto__ keys in JSON values), with the keys in contract order —
 *    the order the analyzer builds them, so JSON.stringify of both is the same text — and keys
 *    outside the schema last. An event's own key order is kept exactly (Event.key_order).
 *
 * Presence is tested with hasOwnProperty on decoded messages: protobufjs reports an unset
 * optional int64 as Long(0) from the prototype, not as null.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';
import type { FlowRecord, PhasesMs } from '../handshake/record.js';
import { PHASES } from '../handshake/phases.js';
import { TIMELINE_POINTS, type TimelinePoint } from '../handshake/timeline.js';

/** A byte string that is not a valid slowshake FlowRecord message. */
export class RecordDecodeError extends Error {
  readonly code = 'SLOWSHAKE_ERR_RECORD_DECODE';
  constructor(message: string) {
    super(message);
    this.name = 'RecordDecodeError';
  }
}

/** Directory holding package.json above `from` (the package root). */
function packageRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}: cannot find proto/slowshake.proto`);
  }
}

/** Path of the schema file (proto/slowshake.proto in the package root). */
export const PROTO_PATH = join(packageRoot(dirname(fileURLToPath(import.meta.url))), 'proto', 'slowshake.proto');

let flowType: protobuf.Type | null = null;

/** The reflected slowshake.v1.FlowRecord type, loaded from PROTO_PATH on first use. */
export function flowRecordType(): protobuf.Type {
  if (flowType === null) flowType = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true }).lookupType('slowshake.v1.FlowRecord');
  return flowType;
}

type Obj = Record<string, unknown>;
type Msg = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- protobufjs messages are untyped

const hasOwn = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
/** o[k] = v as an own data property, also for k = "__proto__" (JSON.parse does the same). */
const setOwn = (o: Obj, k: string, v: unknown): void => {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
};
const PHASE_KEYS = [...PHASES, 'loss', 'cwnd_stall', 'total'] as const;

/** Top-level keys with a typed field (everything else goes to `extra`). */
const RECORD_KEYS = new Set([
  'client', 'server', 'sni', 'alpn', 'alpn_selected', 'tls_version', 'cipher', 'ja4', 'hrr', 'resumed', 'slow',
  'cwnd_stall', 'client_cert', 'timeline', 'phases_ms', 'retransmits', 'verdict', 'missing', 'notes', 'event', 'event_elapsed_ms',
  'proxy_gap_ms', 'proxy_lag_ms', 'pcap', 'capture_complete', 'capture_drops', 'reason', 'estimated', 'client_info', 'tfo',
]);
/** client_info's keys in contract order; asn a uint32, the rest strings, each may be null. */
const CLIENT_INFO_KEYS = ['rdns', 'provider', 'service', 'region', 'asn', 'as_org', 'prefix'] as const;

/** client_info as a ClientInfo message, or null when its shape is not the contract's (then it goes to `extra`). */
function clientInfoToMessage(ci: unknown): Msg | null {
  if (typeof ci !== 'object' || ci === null || Array.isArray(ci)) return null;
  const o = ci as Obj;
  const keys = Object.keys(o);
  if (keys.length !== CLIENT_INFO_KEYS.length || keys.some((k, i) => k !== CLIENT_INFO_KEYS[i])) return null;
  const msg: Msg = {};
  for (const k of CLIENT_INFO_KEYS) {
    const v = o[k];
    if (v === null) continue;
    if (k === 'asn' ? !(Number.isSafeInteger(v) && (v as number) >= 0 && (v as number) <= 0xffffffff) : typeof v !== 'string') return null;
    msg[k] = v;
  }
  return msg;
}
const NULLABLE_STRINGS = ['sni', 'alpn', 'alpn_selected', 'tls_version', 'cipher', 'ja4'] as const;

type Kind = 'string' | 'int' | 'uint' | 'number' | 'boolean';
/** Known event keys in the order the event matcher writes them; a value of another type goes to `extra`. */
const EVENT_KEYS: readonly (readonly [string, Kind])[] = [
  ['cursor', 'string'], ['message', 'string'], ['timestamp_us', 'int'], ['elapsed_ms', 'number'], ['sni', 'string'], ['server', 'string'],
];
const EVENT_KIND = new Map(EVENT_KEYS);

function fits(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'int': return Number.isSafeInteger(v);
    case 'uint': return Number.isSafeInteger(v) && (v as number) >= 0;
    default: return typeof v === kind;
  }
}

function field(key: string, v: unknown): Msg {
  return typeof v === 'string' ? { key, text: v } : { key, json: JSON.stringify(v) };
}

function fieldValue(f: Msg, where: string): unknown {
  if (hasOwn(f, 'text')) return f.text as string;
  if (!hasOwn(f, 'json')) throw new RecordDecodeError(`${where}: extra key "${f.key}" has no value`);
  try {
    return JSON.parse(f.json as string);
  } catch {
    throw new RecordDecodeError(`${where}: extra key "${f.key}" is not valid JSON`);
  }
}

function int(v: unknown, where: string): number {
  const n = typeof v === 'number' ? v : protobuf.util.LongBits.from(v as protobuf.Long).toNumber((v as protobuf.Long).unsigned);
  if (!Number.isSafeInteger(n)) throw new RecordDecodeError(`${where}: ${String(v)} is beyond 2^53`);
  return n;
}

function eventToMessage(ev: Obj): Msg {
  const keys = Object.keys(ev).filter((k) => ev[k] !== undefined);
  const msg: Msg = {};
  const extra: Msg[] = [];
  let canonical = true;
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]!;
    const kind = EVENT_KIND.get(k);
    const v = ev[k];
    if (kind !== undefined && (v === null || fits(kind, v))) {
      if (v !== null) msg[k] = v;
      if (keys[i] !== EVENT_KEYS[i]?.[0]) canonical = false;
    } else {
      extra.push(field(k, v));
      if (i < EVENT_KEYS.length) canonical = false;
    }
  }
  if (keys.length < EVENT_KEYS.length) canonical = false;
  if (extra.length > 0) msg.extra = extra;
  if (!canonical) msg.key_order = { keys };
  return msg;
}

function eventFromMessage(m: Msg): Obj {
  const extra = new Map<string, unknown>();
  for (const f of m.extra as Msg[]) extra.set(f.key as string, fieldValue(f, 'event'));
  const typed = (k: string): unknown => {
    if (!hasOwn(m, k)) return null;
    return EVENT_KIND.get(k) === 'int' ? int(m[k], `event.${k}`) : m[k];
  };
  const ev: Obj = {};
  if (hasOwn(m, 'key_order')) {
    for (const k of m.key_order.keys as string[]) setOwn(ev, k, extra.has(k) ? extra.get(k) : typed(k));
  } else {
    for (const [k] of EVENT_KEYS) ev[k] = typed(k);
    for (const [k, v] of extra) setOwn(ev, k, v);
  }
  return ev;
}

function nullableDouble(v: unknown): Msg {
  return v === null ? {} : { value: v };
}

/** The protobuf message object for `rec` (plain object, field names as in the .proto). */
export function recordToMessage(rec: FlowRecord): Msg {
  const r = rec as unknown as Obj;
  const timeline: Msg = {};
  for (const p of TIMELINE_POINTS) {
    const v = rec.timeline[p];
    if (v === null) continue;
    if (!Number.isSafeInteger(v)) throw new RangeError(`encodeRecord: timeline.${p} must be an integer count of µs, got ${v}`);
    timeline[p] = v;
  }
  const phases: Msg = {};
  for (const p of PHASE_KEYS) if (rec.phases_ms[p] !== null) phases[p] = rec.phases_ms[p];
  for (const side of ['client', 'server'] as const) {
    const n = rec.retransmits[side];
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`encodeRecord: retransmits.${side} must be a uint32, got ${n}`);
  }
  const msg: Msg = {
    client: rec.client, server: rec.server, hrr: rec.hrr, resumed: rec.resumed, slow: rec.slow, cwnd_stall: rec.cwnd_stall,
    client_cert: rec.client_cert,
    timeline, phases_ms: phases, retransmits: { client: rec.retransmits.client, server: rec.retransmits.server },
    verdict: rec.verdict, missing: rec.missing, notes: rec.notes,
  };
  for (const k of NULLABLE_STRINGS) if (rec[k] !== null) msg[k] = rec[k];
  const extra: Msg[] = [];
  // tfo: true only (the contract, like estimated); any other value is carried as JSON, never dropped.
  if (r.tfo === true) msg.tfo = true;
  else if (r.tfo !== undefined) extra.push(field('tfo', r.tfo));
  // Optional keys: typed when the value has the schema's type, else carried as JSON.
  const ev = r.event;
  if (ev !== undefined) {
    if (typeof ev === 'object' && ev !== null && !Array.isArray(ev)) msg.event = eventToMessage(ev as Obj);
    else extra.push(field('event', ev));
  }
  for (const k of ['event_elapsed_ms', 'proxy_gap_ms', 'proxy_lag_ms'] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (v === null || typeof v === 'number') msg[k] = nullableDouble(v);
    else extra.push(field(k, v));
  }
  for (const [k, kind] of [['pcap', 'string'], ['capture_complete', 'boolean'], ['capture_drops', 'uint'], ['reason', 'string']] as const) {
    const v = r[k];
    if (v === undefined) continue;
    if (fits(kind, v)) msg[k] = v;
    else extra.push(field(k, v));
  }
  // estimated: true only (the contract); any other value is carried as JSON, never dropped.
  if (r.estimated === true) msg.estimated = true;
  else if (r.estimated !== undefined) extra.push(field('estimated', r.estimated));
  if (r.client_info !== undefined) {
    const ci = clientInfoToMessage(r.client_info);
    if (ci !== null) msg.client_info = ci;
    else extra.push(field('client_info', r.client_info));
  }
  for (const k in r) if (!RECORD_KEYS.has(k) && r[k] !== undefined) extra.push(field(k, r[k]));
  if (extra.length > 0) msg.extra = extra;
  return msg;
}

/** The FlowRecord for a decoded message; throws RecordDecodeError when it is not a whole record. */
export function messageToRecord(m: Msg): FlowRecord {
  for (const k of ['timeline', 'phases_ms', 'retransmits'] as const) {
    if (!hasOwn(m, k)) throw new RecordDecodeError(`not a slowshake FlowRecord: no ${k}`);
  }
  if (m.verdict === '') throw new RecordDecodeError('not a slowshake FlowRecord: no verdict');
  const tl = m.timeline as Msg;
  const timeline = {} as Record<TimelinePoint, number | null>;
  for (const p of TIMELINE_POINTS) timeline[p] = hasOwn(tl, p) ? int(tl[p], `timeline.${p}`) : null;
  const ph = m.phases_ms as Msg;
  const phases = {} as PhasesMs;
  for (const p of PHASE_KEYS) phases[p] = hasOwn(ph, p) ? (ph[p] as number) : null;
  const str = (k: string): string | null => (hasOwn(m, k) ? (m[k] as string) : null);
  const rec: FlowRecord = {
    client: m.client, server: m.server, sni: str('sni'), alpn: str('alpn'), alpn_selected: str('alpn_selected'),
    tls_version: str('tls_version'), cipher: str('cipher'), ja4: str('ja4'),
    hrr: m.hrr, resumed: m.resumed, slow: m.slow, cwnd_stall: m.cwnd_stall,
    client_cert: m.client_cert, // false in streams written before the field existed
    timeline, phases_ms: phases, retransmits: { client: m.retransmits.client, server: m.retransmits.server },
    verdict: m.verdict, missing: [...(m.missing as string[])], notes: [...(m.notes as string[])],
  };
  // Right after notes, where buildRecord puts it (before every key added to a record later).
  if (hasOwn(m, 'tfo') && m.tfo === true) rec.tfo = true;
  if (hasOwn(m, 'event')) rec.event = eventFromMessage(m.event as Msg);
  if (hasOwn(m, 'event_elapsed_ms')) rec.event_elapsed_ms = hasOwn(m.event_elapsed_ms, 'value') ? m.event_elapsed_ms.value : null;
  if (hasOwn(m, 'proxy_gap_ms')) rec.proxy_gap_ms = hasOwn(m.proxy_gap_ms, 'value') ? m.proxy_gap_ms.value : null;
  if (hasOwn(m, 'proxy_lag_ms')) rec.proxy_lag_ms = hasOwn(m.proxy_lag_ms, 'value') ? m.proxy_lag_ms.value : null;
  if (hasOwn(m, 'pcap')) rec.pcap = m.pcap;
  const r = rec as unknown as Obj;
  if (hasOwn(m, 'capture_complete')) r.capture_complete = m.capture_complete;
  if (hasOwn(m, 'capture_drops')) r.capture_drops = int(m.capture_drops, 'capture_drops');
  if (hasOwn(m, 'reason')) r.reason = m.reason;
  if (hasOwn(m, 'estimated') && m.estimated === true) r.estimated = true;
  if (hasOwn(m, 'client_info')) {
    const c = m.client_info as Msg;
    const ci: Obj = {};
    for (const k of CLIENT_INFO_KEYS) ci[k] = hasOwn(c, k) ? c[k] : null;
    r.client_info = ci;
  }
  for (const f of m.extra as Msg[]) setOwn(r, f.key as string, fieldValue(f, 'record'));
  return rec;
}

/** One record as a protobuf message (no length prefix). */
export function encodeRecord(rec: FlowRecord): Uint8Array {
  return flowRecordType().encode(recordToMessage(rec)).finish();
}

/** One record with its varint length prefix (one frame of a delimited stream). */
export function encodeRecordDelimited(rec: FlowRecord): Uint8Array {
  return flowRecordType().encodeDelimited(recordToMessage(rec)).finish();
}

/** The record in `bytes` (one message, no length prefix); throws RecordDecodeError. */
export function decodeRecord(bytes: Uint8Array): FlowRecord {
  let m: Msg;
  try {
    m = flowRecordType().decode(bytes) as Msg;
  } catch (err) {
    throw new RecordDecodeError(`corrupt record: ${(err as Error).message}`);
  }
  return messageToRecord(m);
}
