/**
 * Slow-handshake events from the journal (design.md "Journal events"), as `journalctl -o json`
 * prints them: one JSON object per line. Defaults understand structured fields (REMOTE_ADDR,
 * LOCAL_ADDR, SNI, ELAPSED_MS) and logfmt pairs in MESSAGE
 * (`remote_addr=203.0.113.9:51234 local_addr=[2a09:8280:1::1]:443 sni=app.example elapsed_ms=512`).
 * The entry's timestamp is the handshake end; `elapsed` gives its start.
 */
import { formatIp } from '../handshake/addr.js';
import { DEFAULTS } from '../config/defaults.js';

export interface SlowEvent {
  /** Normalised "ip:port" / "[v6]:port" of the client. */
  client: string;
  clientAddr: Uint8Array;
  clientPort: number;
  /** Server endpoint when logged; `serverPort` alone when only a port is known. */
  server: string | null;
  serverAddr: Uint8Array | null;
  serverPort: number | null;
  sni: string | null;
  /** Handshake end, µs since the epoch (journal timestamp). */
  endUs: number;
  elapsedMs: number | null;
  cursor: string | null;
  message: string;
  line: number;
}

/** Parses "512", "512ms", "0.512s", "300us" into milliseconds; null when not a duration. */
export function parseDurationMs(s: string, plainUnitMs = 1): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|us|µs|ns)?\s*$/.exec(s);
  if (!m) return null;
  const v = Number(m[1]);
  switch (m[2]) {
    case 'ms': return v;
    case 's': return v * 1000;
    case 'us': case 'µs': return v / 1000;
    case 'ns': return v / 1e6;
    default: return v * plainUnitMs;
  }
}

function parseIpv6(s: string): Uint8Array | null {
  let text = s;
  let v4tail: number[] | null = null;
  const m4 = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (m4) {
    const p = m4[2]!.split('.').map(Number);
    if (p.some((x) => x > 255)) return null;
    v4tail = p;
    text = m4[1]!.endsWith('::') ? m4[1]! : m4[1]!.slice(0, -1);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const parse = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const head = parse(halves[0]!);
  const tail = halves.length === 2 ? parse(halves[1]!) : [];
  if (!head || !tail) return null;
  const words = 8 - (v4tail ? 2 : 0);
  const fill = words - head.length - tail.length;
  if (halves.length === 1 ? fill !== 0 : fill < 1) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  const b = new Uint8Array(16);
  all.forEach((w, i) => { b[i * 2] = w >> 8; b[i * 2 + 1] = w & 0xff; });
  if (v4tail) b.set(v4tail, 12);
  return b;
}

/** Normalises "ip:port" / "[v6]:port" to the record's spelling; null when unparsable. */
export function parseEndpoint(s: string): { ep: string; port: number; addr: Uint8Array } | null {
  const t = s.trim();
  let m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(t);
  if (m) {
    const a = parseIpv6(m[1]!.replace(/%.*$/, ''));
    const port = Number(m[2]);
    return a && port <= 65535 ? { ep: `[${formatIp(a)}]:${port}`, port, addr: a } : null;
  }
  m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3}):(\d{1,5})$/.exec(t);
  if (m) {
    const parts = m.slice(1, 5).map(Number);
    const port = Number(m[5]);
    if (parts.some((x) => x > 255) || port > 65535) return null;
    return { ep: `${parts.join('.')}:${port}`, port, addr: Uint8Array.from(parts) };
  }
  return null;
}

/** Address text (no port) to bytes; null when it is not an IPv4/IPv6 address. */
export function parseAddress(s: string): Uint8Array | null {
  const t = s.trim().replace(/^\[|\]$/g, '');
  if (t.includes(':')) return parseIpv6(t.replace(/%.*$/, ''));
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(t);
  if (!m) return null;
  const parts = m.slice(1, 5).map(Number);
  return parts.some((x) => x > 255) ? null : Uint8Array.from(parts);
}

/** logfmt pairs: key=value, key="quoted value". */
export function parseLogfmt(msg: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_.-]*)=("((?:[^"\\]|\\.)*)"|[^\s]*)/g;
  for (let m = re.exec(msg); m !== null; m = re.exec(msg)) out[m[1]!.toLowerCase()] = m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : m[2]!;
  return out;
}

/** journalctl prints non-UTF-8 or binary fields as arrays of byte values. */
function fieldText(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return Buffer.from(v as number[]).toString('utf8');
  return null;
}

export interface EventFieldNames {
  remote: string[];
  local: string[];
  sni: string[];
  elapsed: string[];
}

/** From config/defaults.ts (frozen: copy before changing, as capture's --event-field does). */
export const DEFAULT_EVENT_FIELDS: EventFieldNames = DEFAULTS.events.fields;

export type ParseOutcome = { event: SlowEvent } | { skip: string };

/**
 * How journal entries become events (config, not code): which MESSAGE text marks an event, which
 * fields carry the endpoints and durations, or one regular expression with named groups
 * `remote`, `local`, `sni`, `elapsed` applied to MESSAGE.
 */
export interface EventParserConfig {
  messagePattern: RegExp | null;
  fields: EventFieldNames;
  regex: RegExp | null;
}

export const DEFAULT_EVENT_PARSER: EventParserConfig = { messagePattern: null, fields: DEFAULT_EVENT_FIELDS, regex: null };

/** Turns one parsed journal entry into an event, or says why it is not one. */
export function parseJournalEntry(entry: Record<string, unknown>, line: number, cfg: EventParserConfig | EventFieldNames = DEFAULT_EVENT_PARSER): ParseOutcome {
  const config: EventParserConfig = 'remote' in cfg ? { ...DEFAULT_EVENT_PARSER, fields: cfg } : cfg;
  const fields = config.fields;
  const message = fieldText(entry.MESSAGE) ?? '';
  if (config.messagePattern !== null && !config.messagePattern.test(message)) return { skip: 'message does not match the event pattern' };
  const kv = parseLogfmt(message);
  const groups = config.regex !== null ? (config.regex.exec(message)?.groups ?? null) : null;
  if (config.regex !== null && groups === null) return { skip: 'message does not match the event regex' };
  const group: Record<string, string> = { remote: 'remote', local: 'local', sni: 'sni', elapsed: 'elapsed' };
  const pick = (names: string[]): string | null => {
    if (groups !== null) {
      const g = names === fields.remote ? groups[group.remote!] : names === fields.local ? groups[group.local!]
        : names === fields.sni ? groups[group.sni!] : groups[group.elapsed!];
      return g !== undefined && g !== '' ? g : null;
    }
    for (const n of names) {
      const v = fieldText(entry[n]);
      if (v !== null && v !== '') return v;
    }
    for (const n of names) {
      const v = kv[n.toLowerCase()];
      if (v !== undefined && v !== '') return v;
    }
    return null;
  };
  const remoteText = pick(fields.remote);
  if (remoteText === null) return { skip: 'no client address' };
  const remote = parseEndpoint(remoteText);
  if (remote === null) return { skip: `unparsable client address "${remoteText}"` };
  const localText = pick(fields.local);
  let server: string | null = null;
  let serverAddr: Uint8Array | null = null;
  let serverPort: number | null = null;
  if (localText !== null) {
    const l = parseEndpoint(localText);
    if (l) {
      server = l.ep;
      serverPort = l.port;
      // 0.0.0.0 / :: (a wildcard listener) says nothing about the address
      if (l.addr.some((b) => b !== 0)) serverAddr = l.addr;
    } else if (/^\d{1,5}$/.test(localText)) serverPort = Number(localText);
  }
  const tsText = fieldText(entry._SOURCE_REALTIME_TIMESTAMP) ?? fieldText(entry.__REALTIME_TIMESTAMP);
  if (tsText === null || !/^\d+$/.test(tsText)) return { skip: 'no __REALTIME_TIMESTAMP' };
  let elapsedMs: number | null = null;
  const el = pick(fields.elapsed);
  if (el !== null) {
    // A plain number is milliseconds for *_ms fields and the bare names alike.
    elapsedMs = parseDurationMs(el);
    if (elapsedMs === null) return { skip: `unparsable elapsed "${el}"` };
  }
  return {
    event: {
      client: remote.ep, clientAddr: remote.addr, clientPort: remote.port, server, serverAddr, serverPort,
      sni: pick(fields.sni), endUs: Number(tsText), elapsedMs,
      cursor: fieldText(entry.__CURSOR), message, line,
    },
  };
}
