/**
 * ndjson serialisation of a FlowRecord, equal to JSON.stringify(rec) byte for byte (a unit test
 * holds it to that) and ~3x faster than it (bench-record-json.mjs: ~2 µs a 1.3 KB record, against
 * 6.5): the shape is fixed, so keys and punctuation are constant runs copied 8 bytes a store,
 * fields are read by name, numbers are printed from integer parts (µs timestamps from 4-digit
 * words), repeated long strings come from a cache of their JSON text, other ASCII strings that need
 * no escaping are copied a character at a time, and the bytes go into a reusable buffer (JsonOut)
 * that is grown at most once per record. Serialisation was 15-20% of analyze time on a
 * handshake-dense capture (issue 13).
 */
import type { FlowRecord } from './record.js';

/**
 * A growable byte buffer records are serialised into: no string is built per record (the
 * template-string version allocated ~7 KB of intermediate strings per record, a third of all
 * allocation on a handshake-dense capture, issue 13), and the bytes go to stdout or a worker's
 * message as they are.
 */
export class JsonOut {
  buf: Buffer;
  /** `buf` as a DataView (constant runs are stored 8 bytes at a time). */
  view: DataView;
  pos = 0;

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Room for `n` more bytes. */
  room(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const b = Buffer.allocUnsafe(size);
    this.buf.copy(b, 0, 0, this.pos);
    this.buf = b;
    this.view = new DataView(b.buffer, b.byteOffset, b.length);
  }

  /** ASCII text: one byte per character. */
  ascii(s: string): void {
    this.room(s.length);
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.pos = p;
  }
}

/**
 * The record's constant text (keys and punctuation) in order, as runs between values (numbered
 * by `R`). Adjacent keys with nothing between them are one run.
 */
const RUN_TEXT = [
  '{"client":', ',"server":', ',"sni":', ',"alpn":', ',"alpn_selected":', ',"tls_version":', ',"cipher":', ',"ja4":',
  ',"syn_ack":', ',"ack":', ',"client_hello":', ',"client_hello_end":', ',"hello_retry_request":',
  ',"client_hello2":', ',"client_hello2_end":', ',"server_hello":', ',"server_flight_end":', ',"client_ack":',
  ',"client_finished":', ',"client_flight_end":', ',"done":',
  '},"phases_ms":{"syn_ack_delay":', ',"tcp_rtt":', ',"client_hello_wait":', ',"client_hello_xfer":', ',"server_hello_delay":',
  ',"hrr_rtt":', ',"hrr_server_delay":', ',"server_flight":', ',"flight_rtt":', ',"client_think":', ',"client_flight_xfer":',
  ',"server_finish":', ',"loss":', ',"cwnd_stall":', ',"total":',
  '},"retransmits":{"client":', ',"server":', '},"verdict":', ',"missing":[', '],"notes":[',
  ',"tfo":true', ',"event":', ',"event_elapsed_ms":', ',"proxy_gap_ms":', ',"proxy_lag_ms":', ',"pcap":', ',"capture_complete":',
  ',"capture_drops":', ',"reason":', ',"estimated":true',
  ',"client_info":{"rdns":', ',"provider":', ',"service":', ',"region":', ',"asn":', ',"as_org":', ',"prefix":',
  // R.BOOLS + (hrr | resumed << 1 | slow << 2 | cwnd_stall << 3 | client_cert << 4): the five booleans and the first timeline key as one run
  ...Array.from({ length: 32 }, (_, m) => `,"hrr":${(m & 1) !== 0},"resumed":${(m & 2) !== 0},"slow":${(m & 4) !== 0},"cwnd_stall":${(m & 8) !== 0},"client_cert":${(m & 16) !== 0},"timeline":{"syn":`),
  // R.NULL_INFO: client_info without attribution (no range or ASN match, no rDNS), up to its prefix
  ',"client_info":{"rdns":null,"provider":null,"service":null,"region":null,"asn":null,"as_org":null,"prefix":',
];

/** Indexes into RUN_TEXT: the first of each group (string head, timeline from syn_ack, phases) and the rest. */
const enum R {
  CLIENT = 0, HEAD_STRINGS = 8, SYN_ACK = 8, SYN_ACK_DELAY = 21, RETRANSMITS = 36, RETRANSMITS_SERVER, VERDICT, MISSING, NOTES,
  TFO, EVENT, EVENT_ELAPSED_MS, PROXY_GAP_MS, PROXY_LAG_MS, PCAP, CAPTURE_COMPLETE, CAPTURE_DROPS, REASON, ESTIMATED,
  RDNS, PROVIDER, SERVICE, REGION, ASN, AS_ORG, PREFIX, BOOLS, NULL_INFO = BOOLS + 32,
}
const TIMELINE_VALUES = 14;
const PHASE_VALUES = 15;

/**
 * RUN_TEXT padded to whole 8-byte words, stored as the doubles with those bits: a run is copied
 * with DataView.setFloat64, 8 bytes a store (measured ~4× faster than a byte loop or
 * Uint8Array.set for these 6-32 byte runs). An ASCII word is never a NaN (that needs 0x7f or 0xff
 * in its top byte), so its bits go through a double unchanged. A copy writes up to 7 bytes past the
 * run's end: the next write overwrites them, and room() leaves that much over.
 */
const RUN_START = new Int32Array(RUN_TEXT.length + 1);
const RUN_LEN = Int32Array.from(RUN_TEXT, (s) => s.length);
const RUN_WORDS = ((): Float64Array => {
  const bytes = Buffer.alloc(RUN_TEXT.reduce((a, s) => a + ((s.length + 7) & ~7), 0));
  let at = 0;
  for (let i = 0; i < RUN_TEXT.length; i++) {
    bytes.write(RUN_TEXT[i]!, at, 'latin1');
    at += (RUN_TEXT[i]!.length + 7) & ~7;
    RUN_START[i + 1] = at >> 3;
  }
  const w = new Float64Array(at >> 3);
  for (let i = 0; i < w.length; i++) w[i] = bytes.readDoubleLE(8 * i);
  return w;
})();

function put(v: DataView, p: number, run: number): number {
  const end = RUN_START[run + 1]!;
  let q = p;
  for (let w = RUN_START[run]!; w < end; w++) { v.setFloat64(q, RUN_WORDS[w]!, true); q += 8; }
  return p + RUN_LEN[run]!;
}

function nul(b: Buffer, p: number): number {
  b[p] = 0x6e; b[p + 1] = 0x75; b[p + 2] = 0x6c; b[p + 3] = 0x6c;
  return p + 4;
}

function bool(b: Buffer, p: number, v: boolean): number {
  if (v) { b[p] = 0x74; b[p + 1] = 0x72; b[p + 2] = 0x75; b[p + 3] = 0x65; return p + 4; }
  b[p] = 0x66; b[p + 1] = 0x61; b[p + 2] = 0x6c; b[p + 3] = 0x73; b[p + 4] = 0x65;
  return p + 5;
}

/**
 * Writes the JSON string of `s`. Printable ASCII without '"' or '\\' is copied as it is; anything
 * else (JSON.stringify escapes '"', '\\', control characters and lone surrogates; other non-ASCII
 * is UTF-8) goes through JSON.stringify and Buffer.write from the opening quote.
 */
function str(b: Buffer, p: number, s: string | null | undefined): number {
  if (s == null) return nul(b, p);
  const n = s.length;
  b[p] = 0x22;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) return p + b.write(JSON.stringify(s), p, 'utf8');
    b[p + 1 + i] = c;
  }
  b[p + 1 + n] = 0x22;
  return p + n + 2;
}

/**
 * Most long strings repeat from record to record, often as the same string object (cipher suite
 * names, the JA4 memo's fingerprints, the endpoint cache's server texts, literal notes): their
 * JSON text is kept in a direct-mapped cache (slot by call site and length, `===` check, the text
 * as words copied like the constant runs) and copied 8 bytes a store instead of a character at a
 * time. Only plain ASCII text is kept (one byte a character), zero-padded, so no word is a NaN.
 * Like a constant run, a copy writes up to 7 bytes past the text, inside the string's share of
 * the bound (strMax).
 */
const SLOT_BITS = 9;
const SLOTS = 1 << SLOT_BITS;
/** Words a slot holds: strings up to SLOT_WORDS * 8 - 2 characters are cached. */
const SLOT_WORDS = 32;
const CACHE_FROM = 8;
const slotStr: (string | null)[] = new Array<string | null>(SLOTS).fill(null);
const slotLen = new Int32Array(SLOTS);
const slotWords = new Float64Array(SLOTS * SLOT_WORDS);

/** str() through the cache; `site` tells call sites apart (same length, different slot). */
function strCached(b: Buffer, v: DataView, p: number, s: string | null | undefined, site: number): number {
  if (s == null) return nul(b, p);
  const n = s.length;
  if (n < CACHE_FROM || n > SLOT_WORDS * 8 - 2) return str(b, p, s);
  const i = Math.imul(n + site * 53 + (s.charCodeAt(n >> 1) << 8) + (s.charCodeAt(n - 2) << 16), 0x9e3779b1) >>> (32 - SLOT_BITS);
  let w = i * SLOT_WORDS;
  if (slotStr[i] === s) {
    const len = slotLen[i]!;
    const end = w + ((len + 7) >> 3);
    let q = p;
    for (; w < end; w++) { v.setFloat64(q, slotWords[w]!, true); q += 8; }
    return p + len;
  }
  const e = str(b, p, s);
  if (e - p !== n + 2) return e; // escapes or UTF-8: not cached (one byte a character is plain ASCII)
  for (let j = 0; j < 7; j++) b[e + j] = 0;
  slotStr[i] = s;
  slotLen[i] = e - p;
  for (let q = p; q < e; q += 8) slotWords[w++] = v.getFloat64(q, true);
  return e;
}

/** "00".."99": the two digits of i at 2i, 2i+1. */
const DIGITS = Uint8Array.from(Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0')).join(''), (c) => c.charCodeAt(0));

/** x (an integer, 0 <= x < 1e8) without leading zeros. */
function uint(b: Buffer, p: number, x: number): number {
  const len = x < 10000 ? (x < 100 ? (x < 10 ? 1 : 2) : x < 1000 ? 3 : 4) : x < 1000000 ? (x < 100000 ? 5 : 6) : x < 10000000 ? 7 : 8;
  let e = p + len;
  while (x >= 100) {
    const q = (x / 100) | 0;
    const d = (x - q * 100) << 1;
    b[--e] = DIGITS[d + 1]!;
    b[--e] = DIGITS[d]!;
    x = q;
  }
  if (x >= 10) { b[p] = DIGITS[x << 1]!; b[p + 1] = DIGITS[(x << 1) + 1]!; } else b[p] = 48 + x;
  return p + len;
}

/** "0000".."9999" as little-endian words: the four digits of i in FOUR[i]. */
const FOUR = Uint32Array.from({ length: 10000 }, (_, i) => {
  const t = String(i).padStart(4, '0');
  return (t.charCodeAt(0) | (t.charCodeAt(1) << 8) | (t.charCodeAt(2) << 16) | (t.charCodeAt(3) << 24)) >>> 0;
});
/**
 * The digits above the last eight of the last big() number (µs timestamps: the same for 100 s), as
 * a word of ASCII digits and zeros (never a NaN), and how many digits.
 */
let bigHi = -1;
let bigHiWord = 0;
let bigHiLen = 0;

/** n (an integer, 1e8 <= n < 2^53): the leading digits (remembered), then the last eight from FOUR. */
function big(b: Buffer, v: DataView, p: number, n: number): number {
  const hi = Math.floor(n / 1e8);
  if (hi !== bigHi) {
    v.setFloat64(p, 0, true);
    bigHiLen = uint(b, p, hi) - p;
    bigHiWord = v.getFloat64(p, true);
    bigHi = hi;
  } else {
    v.setFloat64(p, bigHiWord, true);
  }
  p += bigHiLen;
  const lo = n - hi * 1e8;
  const q = (lo / 10000) | 0;
  v.setUint32(p, FOUR[q]!, true);
  v.setUint32(p + 4, FOUR[lo - q * 10000]!, true);
  return p + 8;
}

/**
 * Number text as JSON.stringify writes it. Timeline µs (~1.8e15) and phase ms (k/1000) are not
 * small integers, and V8's shortest-double formatting of them was 7% of analyze time; both are
 * printed here from integer parts instead (a double equal to k/1000 has no shorter text than
 * k/1000's digits; the unit test checks equality on real records); other numbers go through
 * String(), 25 characters at most ("-1.2345678901234567e-308", "-0.0000012345678901234567").
 */
function num(b: Buffer, v: DataView, p: number, n: number | null | undefined): number {
  if (n == null) return nul(b, p);
  if (n >= 0 && n < 9007199254740992) {
    const i = Math.floor(n);
    if (i === n) {
      if (n < 1e8) return uint(b, p, n);
      return big(b, v, p, n);
    }
    const k = Math.round(n * 1000);
    if (k / 1000 === n && n < 1e8) {
      p = uint(b, p, i);
      let f = k - i * 1000; // 1…999: n is not an integer
      b[p] = 0x2e;
      const h = (f / 100) | 0;
      b[p + 1] = 48 + h;
      f -= h * 100;
      if (f === 0) return p + 2;
      const d = f << 1;
      b[p + 2] = DIGITS[d]!;
      if (DIGITS[d + 1] === 48) return p + 3;
      b[p + 3] = DIGITS[d + 1]!;
      return p + 4;
    }
  }
  if (n !== n || n === Infinity || n === -Infinity) return nul(b, p); // as JSON.stringify (the old serialiser wrote NaN)
  const s = String(n);
  for (let j = 0; j < s.length; j++) b[p + j] = s.charCodeAt(j);
  return p + s.length;
}

/**
 * Bytes a record takes at most besides its strings: ~1000 bytes of constant runs with every
 * optional key, 36 numbers of 25, booleans and brackets, 7 bytes past the last run, with room to
 * spare. Strings add 6 bytes per UTF-16 unit at most (a "\u001f" escape; UTF-8 is 3) and 8 each
 * for quotes, comma or null.
 */
const FIXED_MAX = 4096;
/** Each string's share of the bound (see FIXED_MAX). */
const strMax = (s: string | null | undefined): number => (s == null ? 8 : 6 * s.length + 8);

/** Scratch for the values written in a loop (one put and one num site each, small enough to inline). */
const heads: (string | null)[] = new Array<string | null>(R.HEAD_STRINGS).fill(null);
const nums: (number | null)[] = new Array<number | null>(PHASE_VALUES).fill(null);

/** Appends the record's JSON text (equal to JSON.stringify(r)) to `o`. */
export function writeRecordJson(r: FlowRecord, o: JsonOut): void {
  const ci = r.client_info;
  const missing = r.missing;
  const notes = r.notes;
  heads[0] = r.client; heads[1] = r.server; heads[2] = r.sni; heads[3] = r.alpn;
  heads[4] = r.alpn_selected; heads[5] = r.tls_version; heads[6] = r.cipher; heads[7] = r.ja4;
  let max = FIXED_MAX + strMax(r.verdict) + strMax(r.pcap) + strMax(r.reason);
  for (let i = 0; i < R.HEAD_STRINGS; i++) max += strMax(heads[i]);
  for (let i = 0; i < missing.length; i++) max += strMax(missing[i]);
  for (let i = 0; i < notes.length; i++) max += strMax(notes[i]);
  if (ci !== undefined) max += strMax(ci.rdns) + strMax(ci.provider) + strMax(ci.service) + strMax(ci.region) + strMax(ci.as_org) + strMax(ci.prefix);
  o.room(max);
  let b = o.buf;
  let v = o.view;
  let p = o.pos;
  p = str(b, put(v, p, R.CLIENT), r.client); // unique per flow: not cached
  for (let i = 1; i < R.HEAD_STRINGS; i++) p = strCached(b, v, put(v, p, R.CLIENT + i), heads[i], i);
  p = put(v, p, R.BOOLS + ((r.hrr ? 1 : 0) | (r.resumed ? 2 : 0) | (r.slow ? 4 : 0) | (r.cwnd_stall ? 8 : 0) | (r.client_cert ? 16 : 0)));
  const t = r.timeline;
  nums[0] = t.syn; nums[1] = t.syn_ack; nums[2] = t.ack; nums[3] = t.client_hello; nums[4] = t.client_hello_end;
  nums[5] = t.hello_retry_request; nums[6] = t.client_hello2; nums[7] = t.client_hello2_end; nums[8] = t.server_hello;
  nums[9] = t.server_flight_end; nums[10] = t.client_ack; nums[11] = t.client_finished; nums[12] = t.client_flight_end; nums[13] = t.done;
  p = num(b, v, p, nums[0]); // its key came with the booleans
  for (let i = 1; i < TIMELINE_VALUES; i++) p = num(b, v, put(v, p, R.SYN_ACK - 1 + i), nums[i]);
  const f = r.phases_ms;
  nums[0] = f.syn_ack_delay; nums[1] = f.tcp_rtt; nums[2] = f.client_hello_wait; nums[3] = f.client_hello_xfer;
  nums[4] = f.server_hello_delay; nums[5] = f.hrr_rtt; nums[6] = f.hrr_server_delay; nums[7] = f.server_flight; nums[8] = f.flight_rtt;
  nums[9] = f.client_think; nums[10] = f.client_flight_xfer; nums[11] = f.server_finish; nums[12] = f.loss; nums[13] = f.cwnd_stall; nums[14] = f.total;
  for (let i = 0; i < PHASE_VALUES; i++) p = num(b, v, put(v, p, R.SYN_ACK_DELAY + i), nums[i]);
  p = num(b, v, put(v, p, R.RETRANSMITS), r.retransmits.client);
  p = num(b, v, put(v, p, R.RETRANSMITS_SERVER), r.retransmits.server);
  p = str(b, put(v, p, R.VERDICT), r.verdict);
  p = put(v, p, R.MISSING);
  for (let i = 0; i < missing.length; i++) {
    if (i > 0) b[p++] = 0x2c;
    p = str(b, p, missing[i]);
  }
  p = put(v, p, R.NOTES);
  for (let i = 0; i < notes.length; i++) {
    if (i > 0) b[p++] = 0x2c;
    p = strCached(b, v, p, notes[i], R.NOTES + i);
  }
  b[p++] = 0x5d;
  if (r.tfo === true) p = put(v, p, R.TFO); // set by buildRecord, so before every key added later
  if (r.event !== undefined) {
    p = put(v, p, R.EVENT);
    const e = JSON.stringify(r.event);
    o.pos = p;
    o.room(3 * e.length + max); // the event's UTF-8 and still the whole bound for the rest
    b = o.buf;
    v = o.view;
    p += b.write(e, p, 'utf8');
  }
  if (r.event_elapsed_ms !== undefined) p = num(b, v, put(v, p, R.EVENT_ELAPSED_MS), r.event_elapsed_ms);
  if (r.proxy_gap_ms !== undefined) p = num(b, v, put(v, p, R.PROXY_GAP_MS), r.proxy_gap_ms);
  if (r.proxy_lag_ms !== undefined) p = num(b, v, put(v, p, R.PROXY_LAG_MS), r.proxy_lag_ms);
  if (r.pcap !== undefined) p = str(b, put(v, p, R.PCAP), r.pcap);
  if (r.capture_complete !== undefined) p = bool(b, put(v, p, R.CAPTURE_COMPLETE), r.capture_complete);
  if (r.capture_drops !== undefined) p = num(b, v, put(v, p, R.CAPTURE_DROPS), r.capture_drops);
  if (r.reason !== undefined) p = str(b, put(v, p, R.REASON), r.reason);
  if (r.estimated === true) p = put(v, p, R.ESTIMATED);
  if (ci !== undefined && ci.rdns === null && ci.provider === null && ci.service === null && ci.region === null && ci.asn === null && ci.as_org === null) {
    p = strCached(b, v, put(v, p, R.NULL_INFO), ci.prefix, R.PREFIX);
    b[p++] = 0x7d;
  } else if (ci !== undefined) {
    p = str(b, put(v, p, R.RDNS), ci.rdns);
    p = str(b, put(v, p, R.PROVIDER), ci.provider);
    p = str(b, put(v, p, R.SERVICE), ci.service);
    p = str(b, put(v, p, R.REGION), ci.region);
    p = num(b, v, put(v, p, R.ASN), ci.asn);
    p = str(b, put(v, p, R.AS_ORG), ci.as_org);
    p = strCached(b, v, put(v, p, R.PREFIX), ci.prefix, R.PREFIX);
    b[p++] = 0x7d;
  }
  b[p++] = 0x7d;
  o.pos = p;
}

const scratch = new JsonOut();

/** The record's JSON text, equal to JSON.stringify(rec) byte for byte. */
export function recordToJson(r: FlowRecord): string {
  scratch.pos = 0;
  writeRecordJson(r, scratch);
  return scratch.buf.toString('utf8', 0, scratch.pos);
}
