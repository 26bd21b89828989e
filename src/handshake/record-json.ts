/**
 * ndjson serialisation of a FlowRecord, equal to JSON.stringify(rec) byte for byte (a unit test
 * holds it to that) but several times faster: the shape is fixed, so keys are literal text, only
 * strings that need it go through JSON.stringify for escaping, and the text is written as bytes
 * into a reusable buffer (JsonOut). Serialisation was 8% of analyze time on the 50k-handshake
 * benchmark.
 */
import type { FlowRecord } from './record.js';
import { TIMELINE_POINTS } from './timeline.js';
import { PHASES } from './phases.js';

/**
 * A growable byte buffer records are serialised into: no string is built per record (the
 * template-string version allocated ~7 KB of intermediate strings per record, a third of all
 * allocation on a handshake-dense capture, issue 13), and the bytes go to stdout or a worker's
 * message as they are.
 */
export class JsonOut {
  buf: Buffer;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
  }

  /** ASCII text (keys, punctuation, number text): one byte per character. */
  ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  utf8(s: string): void {
    this.room(3 * s.length);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A non-negative integer below 2^53, as digits (µs timestamps: two 32-bit halves, integer division only). */
  digits(n: number): void {
    this.room(16);
    if (n < 0x80000000) { this.#int32(n, 0); return; }
    const hi = Math.floor(n / 1e8);
    this.#int32(hi, 0);
    this.#int32(n - hi * 1e8, 8);
  }

  /** `x` < 2^31 as digits, zero-padded to `width` (0: no padding). */
  #int32(x: number, width: number): void {
    let len = 1;
    for (let t = 10; len < 10 && x >= t; t *= 10) len++;
    if (len < width) len = width;
    const b = this.buf;
    let p = this.pos + len;
    this.pos = p;
    for (let i = 0; i < len; i++) {
      const q = (x / 10) | 0;
      b[--p] = 48 + x - q * 10;
      x = q;
    }
  }
}

// JSON.stringify escapes '"', '\\', control characters and lone surrogates: such strings go through it.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

function str(o: JsonOut, s: string | null): void {
  if (s === null) return o.ascii('null');
  if (NEEDS_ESCAPE.test(s)) return o.utf8(JSON.stringify(s));
  o.room(2);
  o.buf[o.pos++] = 0x22;
  o.utf8(s);
  o.room(1);
  o.buf[o.pos++] = 0x22;
}

/** Strings made by slowshake itself from a fixed alphabet (endpoints, names, hex): no escaping needed. */
function plain(o: JsonOut, s: string | null): void {
  if (s === null) return o.ascii('null');
  o.room(s.length + 2);
  const b = o.buf;
  let p = o.pos;
  b[p++] = 0x22;
  for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
  b[p++] = 0x22;
  o.pos = p;
}

/**
 * Number text as JSON.stringify writes it. Timeline µs (~1.8e15) and phase ms (k/1000) are not
 * small integers, and V8's shortest-double formatting of them was 7% of analyze time; both are
 * printed here from integer parts instead (the unit test checks equality on real records).
 */
function num(o: JsonOut, n: number | null): void {
  if (n === null) return o.ascii('null');
  if (Number.isInteger(n)) {
    if (n >= 0 && n < 2 ** 53) return o.digits(n);
    return o.ascii(String(n));
  }
  const k = Math.round(n * 1000);
  if (k / 1000 !== n || n < 0 || n >= 2e9) return o.ascii(String(n));
  const i = Math.floor(k / 1000);
  let f = k - i * 1000; // 1…999: n is not an integer
  o.digits(i);
  o.room(4);
  const b = o.buf;
  b[o.pos++] = 0x2e;
  b[o.pos++] = 48 + Math.floor(f / 100);
  f %= 100;
  if (f === 0) return;
  b[o.pos++] = 48 + Math.floor(f / 10);
  f %= 10;
  if (f !== 0) b[o.pos++] = 48 + f;
}

const bool = (o: JsonOut, v: boolean): void => o.ascii(v ? 'true' : 'false');
const PHASE_KEYS = [...PHASES, 'loss', 'cwnd_stall', 'total'] as const;
const TIMELINE_KEYS = TIMELINE_POINTS.map((k, i) => `${i ? ',' : '"timeline":{'}"${k}":`);
const PHASE_KEY_TEXT = PHASE_KEYS.map((k, i) => `${i ? ',' : '},"phases_ms":{'}"${k}":`);

/** Appends the record's JSON text (equal to JSON.stringify(r)) to `o`. */
export function writeRecordJson(r: FlowRecord, o: JsonOut): void {
  o.ascii('{"client":'); plain(o, r.client);
  o.ascii(',"server":'); plain(o, r.server);
  o.ascii(',"sni":'); str(o, r.sni);
  o.ascii(',"alpn":'); str(o, r.alpn);
  o.ascii(',"alpn_selected":'); str(o, r.alpn_selected);
  o.ascii(',"tls_version":'); plain(o, r.tls_version);
  o.ascii(',"cipher":'); plain(o, r.cipher);
  o.ascii(',"ja4":'); plain(o, r.ja4);
  o.ascii(',"hrr":'); bool(o, r.hrr);
  o.ascii(',"resumed":'); bool(o, r.resumed);
  o.ascii(',"slow":'); bool(o, r.slow);
  o.ascii(',"cwnd_stall":'); bool(o, r.cwnd_stall);
  o.ascii(',"client_cert":'); bool(o, r.client_cert);
  o.ascii(',');
  for (let i = 0; i < TIMELINE_POINTS.length; i++) { o.ascii(TIMELINE_KEYS[i]!); num(o, r.timeline[TIMELINE_POINTS[i]!]); }
  for (let i = 0; i < PHASE_KEYS.length; i++) { o.ascii(PHASE_KEY_TEXT[i]!); num(o, r.phases_ms[PHASE_KEYS[i]!]); }
  o.ascii('},"retransmits":{"client":'); num(o, r.retransmits.client);
  o.ascii(',"server":'); num(o, r.retransmits.server);
  o.ascii('},"verdict":'); plain(o, r.verdict);
  o.ascii(',"missing":[');
  for (let i = 0; i < r.missing.length; i++) { if (i) o.ascii(','); plain(o, r.missing[i]!); }
  o.ascii('],"notes":[');
  for (let i = 0; i < r.notes.length; i++) { if (i) o.ascii(','); str(o, r.notes[i]!); }
  o.ascii(']');
  if (r.tfo === true) o.ascii(',"tfo":true'); // set by buildRecord, so before every key added later
  if (r.event !== undefined) { o.ascii(',"event":'); o.utf8(JSON.stringify(r.event)); }
  if (r.event_elapsed_ms !== undefined) { o.ascii(',"event_elapsed_ms":'); num(o, r.event_elapsed_ms); }
  if (r.proxy_gap_ms !== undefined) { o.ascii(',"proxy_gap_ms":'); num(o, r.proxy_gap_ms); }
  if (r.proxy_lag_ms !== undefined) { o.ascii(',"proxy_lag_ms":'); num(o, r.proxy_lag_ms); }
  if (r.pcap !== undefined) { o.ascii(',"pcap":'); str(o, r.pcap); }
  if (r.capture_complete !== undefined) { o.ascii(',"capture_complete":'); bool(o, r.capture_complete); }
  if (r.capture_drops !== undefined) { o.ascii(',"capture_drops":'); num(o, r.capture_drops); }
  if (r.reason !== undefined) { o.ascii(',"reason":'); str(o, r.reason); }
  if (r.estimated === true) o.ascii(',"estimated":true');
  const ci = r.client_info;
  if (ci !== undefined) {
    o.ascii(',"client_info":{"rdns":'); str(o, ci.rdns);
    o.ascii(',"provider":'); str(o, ci.provider);
    o.ascii(',"service":'); str(o, ci.service);
    o.ascii(',"region":'); str(o, ci.region);
    o.ascii(',"asn":'); num(o, ci.asn);
    o.ascii(',"as_org":'); str(o, ci.as_org);
    o.ascii(',"prefix":'); str(o, ci.prefix);
    o.ascii('}');
  }
  o.ascii('}');
}

const scratch = new JsonOut();

/** The record's JSON text, equal to JSON.stringify(rec) byte for byte. */
export function recordToJson(r: FlowRecord): string {
  scratch.pos = 0;
  writeRecordJson(r, scratch);
  return scratch.buf.toString('utf8', 0, scratch.pos);
}
