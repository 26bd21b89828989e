/**
 * ClientHello and ServerHello bodies (RFC 8446 §4.1.2, §4.1.3; RFC 5246 §7.4.1.2–7.4.1.3).
 *
 * Input is one complete handshake message body (after the 4-byte type+length header), already
 * reassembled from TCP segments and TLS records by the flow stage. These run once per flow, so
 * they may allocate the small result object; every read is bounds-checked and a malformed body
 * yields a status, never an exception.
 */
import { Status, copyBytes, u8, u16 } from './reader.js';

export const EXT_SERVER_NAME = 0; // RFC 6066 §3
export const EXT_SIGNATURE_ALGORITHMS = 13; // RFC 8446 §4.2.3
export const EXT_ALPN = 16; // RFC 7301 §3.1
export const EXT_SESSION_TICKET = 35; // RFC 5077 §3.2
export const EXT_PRE_SHARED_KEY = 41; // RFC 8446 §4.2.11
export const EXT_EARLY_DATA = 42; // RFC 8446 §4.2.10
export const EXT_SUPPORTED_VERSIONS = 43; // RFC 8446 §4.2.1
export const EXT_KEY_SHARE = 51; // RFC 8446 §4.2.8

/** RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest (SHA-256 of "HelloRetryRequest"). */
const HRR_RANDOM = Uint8Array.from([
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
]);

/** RFC 8701: GREASE values are 0x?A?A with both bytes equal. */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export interface ClientHelloInfo {
  legacyVersion: number;
  sessionIdLength: number;
  /** Cipher suites in wire order, GREASE included. */
  cipherSuites: number[];
  /** Extension types in wire order, GREASE included. */
  extensions: number[];
  /** server_name host_name, latin1-decoded; null when absent. */
  sni: string | null;
  /** ALPN protocol names in wire order, latin1-decoded (one char per byte). */
  alpn: string[];
  /** supported_versions list in wire order, GREASE included; empty when the extension is absent. */
  supportedVersions: number[];
  /** signature_algorithms in wire order; empty when absent. */
  signatureAlgorithms: number[];
  /** key_share groups offered, wire order. */
  keyShareGroups: number[];
  /** A non-empty session_ticket extension: the client tries TLS 1.2 ticket resumption. */
  offersTicket: boolean;
  /** pre_shared_key present: the client tries TLS 1.3 PSK resumption. */
  offersPsk: boolean;
}

export interface ServerHelloInfo {
  legacyVersion: number;
  /** Negotiated version: supported_versions when present, else legacy_version. */
  version: number;
  cipherSuite: number;
  sessionIdLength: number;
  /** This ServerHello is a HelloRetryRequest (RFC 8446 §4.1.3 special random). */
  hrr: boolean;
  /** pre_shared_key present: the server accepted TLS 1.3 PSK resumption. */
  pskAccepted: boolean;
  extensions: number[];
  alpn: string | null;
}

/** Reusable out-parameter for status reporting by the parsers. */
export const helloStatus = { status: Status.OK as Status };

/** Names up to this long are decoded in one call (the arguments go on the stack). */
const LATIN1_ONE_CALL = 1024;

/**
 * Recent short names (SNI, ALPN) by a hash of their bytes, direct-mapped: an edge sees the same
 * few names over and over, so most hellos find theirs here, compared byte for byte, and build no
 * string (issue 13).
 */
const NAME_CACHE = 256;
const NAME_CACHE_MAX_LEN = 64;
const nameBytes: Uint8Array[] = new Array<Uint8Array>(NAME_CACHE).fill(new Uint8Array(0));
const nameText: string[] = new Array<string>(NAME_CACHE).fill('');

/** buf[off, off+len) as a string of one char per byte: one flat string, not one per appended char. */
function latin1(buf: Uint8Array, off: number, len: number): string {
  if (len <= NAME_CACHE_MAX_LEN) {
    let h = 0x811c9dc5;
    for (let i = 0; i < len; i++) h = Math.imul(h ^ buf[off + i]!, 0x01000193);
    const slot = h >>> 24; // NAME_CACHE = 2^8
    const b = nameBytes[slot]!;
    if (b.length === len) {
      let i = 0;
      while (i < len && b[i] === buf[off + i]) i++;
      if (i === len) return nameText[slot]!;
    }
    const t = len === 0 ? '' : String.fromCharCode.apply(null, buf.subarray(off, off + len) as unknown as number[]);
    nameBytes[slot] = copyBytes(buf, off, off + len);
    nameText[slot] = t;
    return t;
  }
  if (len <= LATIN1_ONE_CALL) return String.fromCharCode.apply(null, buf.subarray(off, off + len) as unknown as number[]);
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(buf[off + i]!);
  return s;
}

/**
 * The lists of the hello being parsed are gathered here (written by index, so these arrays only
 * ever grow to the longest list seen) and copied out at their exact size when the parse
 * succeeds: pushing into fresh arrays grew each one's backing store two or three times, 1.5 KB of
 * garbage per ClientHello, the largest allocation on a handshake-dense capture (issue 13).
 */
const scratch = {
  legacyVersion: 0, sessionIdLength: 0,
  ciphers: [0], nCiphers: 0, exts: [0], nExts: 0, versions: [0], nVersions: 0, sigs: [0], nSigs: 0, groups: [0], nGroups: 0,
  alpn: [''], nAlpn: 0, sni: null as string | null, ticket: false, psk: false,
  /** ServerHello: the negotiated version, the selected ALPN protocol, the suite, whether it is an HRR. */
  version: 0, selected: null as string | null, cipherSuite: 0, hrr: false,
};

/**
 * A ClientHello as scanClientHello leaves it: the lists are the first `n…` entries of reused
 * arrays, valid until the next hello is parsed. Read it at once (ja4OfScan, clientHelloInfo).
 */
export type HelloScan = Readonly<typeof scratch>;

function resetScratch(): void {
  const x = scratch;
  x.nCiphers = x.nExts = x.nVersions = x.nSigs = x.nGroups = x.nAlpn = 0;
  x.sni = x.selected = null;
  x.ticket = x.psk = false;
}

/** Parses a ClientHello body in `buf[off, end)`. Returns null (and sets `helloStatus`) on bad input. */
export function decodeClientHello(buf: Uint8Array, off: number, end: number): ClientHelloInfo | null {
  const x = scanClientHello(buf, off, end);
  return x === null ? null : clientHelloInfo(x);
}

/** A scanned ClientHello's lists copied out at their exact size. */
export function clientHelloInfo(x: HelloScan): ClientHelloInfo {
  return {
    legacyVersion: x.legacyVersion,
    sessionIdLength: x.sessionIdLength,
    cipherSuites: x.ciphers.slice(0, x.nCiphers),
    extensions: x.exts.slice(0, x.nExts),
    sni: x.sni,
    alpn: x.alpn.slice(0, x.nAlpn),
    supportedVersions: x.versions.slice(0, x.nVersions),
    signatureAlgorithms: x.sigs.slice(0, x.nSigs),
    keyShareGroups: x.groups.slice(0, x.nGroups),
    offersTicket: x.ticket,
    offersPsk: x.psk,
  };
}

/**
 * decodeClientHello without the copy: parses into the module's scratch and returns it (null, and
 * `helloStatus`, on bad input). For a caller that takes what it needs at once (the tracker: SNI,
 * ALPN, JA4), so nothing per hello outlives the parse.
 */
export function scanClientHello(buf: Uint8Array, off: number, end: number): HelloScan | null {
  helloStatus.status = Status.OK;
  const legacyVersion = u16(buf, off, end);
  let p = off + 2 + 32;
  const sidLen = u8(buf, p, end);
  if (legacyVersion < 0 || sidLen < 0) return fail(Status.TRUNCATED);
  if (sidLen > 32) return fail(Status.INVALID);
  p += 1 + sidLen;
  const csLen = u16(buf, p, end);
  if (csLen < 0) return fail(Status.TRUNCATED);
  if (csLen & 1) return fail(Status.INVALID);
  p += 2;
  if (p + csLen > end) return fail(Status.TRUNCATED);
  resetScratch();
  const x = scratch;
  for (let i = 0; i < csLen; i += 2) x.ciphers[x.nCiphers++] = (buf[p + i]! << 8) | buf[p + i + 1]!;
  p += csLen;
  const compLen = u8(buf, p, end);
  if (compLen < 0) return fail(Status.TRUNCATED);
  p += 1 + compLen;
  if (p > end) return fail(Status.TRUNCATED);
  // RFC 5246 §7.4.1.2: extensions may be absent
  if (p !== end) {
    const st = walkExtensions(buf, p, end, true);
    if (st !== Status.OK) return fail(st);
  }
  x.legacyVersion = legacyVersion;
  x.sessionIdLength = sidLen;
  return x;
}

/** One ClientHello extension's data buf[d, dEnd) (`len` bytes) into `scratch`. */
function clientExtension(buf: Uint8Array, type: number, d: number, dEnd: number, len: number): void {
  const x = scratch;
  x.exts[x.nExts++] = type;
  switch (type) {
    case EXT_SERVER_NAME: {
      // ServerNameList: u16 length, then { u8 name_type, u16 length, name }.
      let q = d + 2;
      const listEnd = Math.min(dEnd, d + 2 + Math.max(0, u16(buf, d, dEnd)));
      while (q + 3 <= listEnd) {
        const nameType = buf[q]!;
        const nameLen = (buf[q + 1]! << 8) | buf[q + 2]!;
        if (q + 3 + nameLen > listEnd) break;
        if (nameType === 0 && x.sni === null) x.sni = latin1(buf, q + 3, nameLen);
        q += 3 + nameLen;
      }
      break;
    }
    case EXT_ALPN: {
      let q = d + 2;
      const listEnd = Math.min(dEnd, d + 2 + Math.max(0, u16(buf, d, dEnd)));
      while (q < listEnd) {
        const n = buf[q]!;
        if (q + 1 + n > listEnd) break;
        x.alpn[x.nAlpn++] = latin1(buf, q + 1, n);
        q += 1 + n;
      }
      break;
    }
    case EXT_SUPPORTED_VERSIONS: {
      const n = u8(buf, d, dEnd);
      for (let q = d + 1; n > 0 && q + 2 <= Math.min(dEnd, d + 1 + n); q += 2) {
        x.versions[x.nVersions++] = (buf[q]! << 8) | buf[q + 1]!;
      }
      break;
    }
    case EXT_SIGNATURE_ALGORITHMS: {
      const n = u16(buf, d, dEnd);
      for (let q = d + 2; n > 0 && q + 2 <= Math.min(dEnd, d + 2 + n); q += 2) {
        x.sigs[x.nSigs++] = (buf[q]! << 8) | buf[q + 1]!;
      }
      break;
    }
    case EXT_KEY_SHARE: {
      const n = u16(buf, d, dEnd);
      const listEnd = n < 0 ? d : Math.min(dEnd, d + 2 + n);
      let q = d + 2;
      while (q + 4 <= listEnd) {
        x.groups[x.nGroups++] = (buf[q]! << 8) | buf[q + 1]!;
        q += 4 + ((buf[q + 2]! << 8) | buf[q + 3]!);
      }
      break;
    }
    case EXT_SESSION_TICKET:
      if (len > 0) x.ticket = true;
      break;
    case EXT_PRE_SHARED_KEY:
      x.psk = true;
      break;
  }
}

/**
 * Walks an extensions block (RFC 8446 §4.2: u16 total, then { u16 type, u16 length, data }),
 * handing each extension's data bounds to clientExtension or serverExtension (both fill
 * `scratch`); every length is checked against its enclosing one first. Returns the status of the
 * block. Plain functions, not a visitor closure: a closure per hello was the largest single
 * allocation on a handshake-dense capture (issue 13).
 */
function walkExtensions(buf: Uint8Array, p: number, end: number, client: boolean): Status {
  const extTotal = u16(buf, p, end);
  if (extTotal < 0) return Status.TRUNCATED;
  p += 2;
  const extEnd = p + extTotal;
  if (extEnd > end) return Status.TRUNCATED;
  while (p < extEnd) {
    const type = u16(buf, p, extEnd);
    const len = u16(buf, p + 2, extEnd);
    if (type < 0 || len < 0) return Status.INVALID;
    const d = p + 4;
    const dEnd = d + len;
    if (dEnd > extEnd) return Status.INVALID;
    if (client) clientExtension(buf, type, d, dEnd, len);
    else serverExtension(buf, type, d, dEnd, len);
    p = dEnd;
  }
  return Status.OK;
}

/** Parses a ServerHello body in `buf[off, end)`. Returns null (and sets `helloStatus`) on bad input. */
export function decodeServerHello(buf: Uint8Array, off: number, end: number): ServerHelloInfo | null {
  const x = scanServerHello(buf, off, end);
  if (x === null) return null;
  return {
    legacyVersion: x.legacyVersion,
    version: x.version,
    cipherSuite: x.cipherSuite,
    sessionIdLength: x.sessionIdLength,
    hrr: x.hrr,
    pskAccepted: x.psk,
    extensions: x.exts.slice(0, x.nExts),
    alpn: x.selected,
  };
}

/**
 * decodeServerHello without the copy (as scanClientHello): parses into the module's scratch and
 * returns it (`version`, `cipherSuite`, `hrr`, `psk`, `selected`, the extension list), null on bad
 * input. For the tracker, which keeps a few scalars of it: no object or array per ServerHello
 * outlives the parse (issue 13: they lived as long as the flow).
 */
export function scanServerHello(buf: Uint8Array, off: number, end: number): HelloScan | null {
  helloStatus.status = Status.OK;
  const legacyVersion = u16(buf, off, end);
  if (legacyVersion < 0 || off + 2 + 32 > end) return fail(Status.TRUNCATED);
  let hrr = true;
  for (let i = 0; i < 32; i++) {
    if (buf[off + 2 + i] !== HRR_RANDOM[i]) {
      hrr = false;
      break;
    }
  }
  let p = off + 2 + 32;
  const sidLen = u8(buf, p, end);
  if (sidLen < 0) return fail(Status.TRUNCATED);
  if (sidLen > 32) return fail(Status.INVALID);
  p += 1 + sidLen;
  const cipherSuite = u16(buf, p, end);
  if (cipherSuite < 0 || u8(buf, p + 2, end) < 0) return fail(Status.TRUNCATED);
  p += 3;
  resetScratch();
  const x = scratch;
  x.version = legacyVersion; // unless supported_versions says otherwise
  if (p < end) {
    const st = walkExtensions(buf, p, end, false);
    if (st !== Status.OK) return fail(st);
  }
  x.legacyVersion = legacyVersion;
  x.sessionIdLength = sidLen;
  x.cipherSuite = cipherSuite;
  x.hrr = hrr;
  return x;
}

/** One ServerHello extension's data buf[d, dEnd) (`len` bytes) into `scratch`. */
function serverExtension(buf: Uint8Array, type: number, d: number, dEnd: number, len: number): void {
  const x = scratch;
  x.exts[x.nExts++] = type;
  if (type === EXT_SUPPORTED_VERSIONS && len >= 2) x.version = (buf[d]! << 8) | buf[d + 1]!;
  else if (type === EXT_PRE_SHARED_KEY) x.psk = true;
  else if (type === EXT_ALPN && len >= 3) {
    const n = buf[d + 2]!;
    if (d + 3 + n <= dEnd) x.selected = latin1(buf, d + 3, n);
  }
}

function fail(s: Status): null {
  helloStatus.status = s;
  return null;
}

/** "1.3", "1.2", … for a TLS protocol version number; null for anything else. */
export function versionName(v: number): string | null {
  switch (v) {
    case 0x0304: return '1.3';
    case 0x0303: return '1.2';
    case 0x0302: return '1.1';
    case 0x0301: return '1.0';
    case 0x0300: return 'ssl3';
    default: return null;
  }
}
