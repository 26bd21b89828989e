/**
 * JA4 TLS client fingerprint (FoxIO, BSD 3-Clause; spec: https://github.com/FoxIO-LLC/ja4,
 * `technical_details/JA4.md`, read at commit 0e54bc8). Only JA4 itself lives here; the other JA4+
 * methods (JA4S, JA4H, JA4X, …) are under a different licence and are deliberately not implemented.
 *
 * A fingerprint has three parts joined by `_`, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`:
 *
 * 1. `ja4_a`, ten readable characters:
 *    - transport: `t` TLS over TCP, `q` QUIC, `d` DTLS;
 *    - version, two characters: the highest non-GREASE `supported_versions` value when that list is
 *      non-empty, else `legacy_version`; mapped 0x0304→`13`, 0x0303→`12`, 0x0302→`11`, 0x0301→`10`,
 *      0x0300→`s3`, 0x0002→`s2`, 0xfeff→`d1`, 0xfefd→`d2`, 0xfefc→`d3`, anything else `00`;
 *    - `d` when the server_name extension (0x0000) is present, else `i`;
 *    - number of cipher suites and number of extensions, GREASE excluded, two decimal digits,
 *      capped at 99 (SCSVs and SNI/ALPN do count);
 *    - first and last character of the first ALPN value, `00` when there is none or it is empty.
 *      When the first or last byte is not ASCII alphanumeric, the first and last characters of the
 *      value's lowercase hex encoding are used instead.
 * 2. `ja4_b`: SHA-256 of the cipher suites (GREASE excluded) as 4-digit lowercase hex, sorted,
 *    comma-joined; first 12 hex characters. `000000000000` when there are no ciphers.
 * 3. `ja4_c`: SHA-256 of the extension types (GREASE, SNI 0x0000 and ALPN 0x0010 excluded) as
 *    sorted 4-digit hex, comma-joined, then `_` and the signature_algorithms values in wire order
 *    (the `_` and list are omitted when there are none); first 12 hex characters.
 *    `000000000000` when that string is empty.
 *
 * Spec gaps resolved here (each pinned by a unit test):
 * - "Highest" version is the numerically largest value, as in the spec text and all reference
 *   implementations, even though DTLS numbers run backwards (DTLS 1.3 + 1.2 gives `d2`).
 * - A `supported_versions` list with no non-GREASE value falls back to `legacy_version`.
 * - "Ignore GREASE anywhere" is applied to signature algorithms and to RFC 8701 GREASE ALPN
 *   identifiers ({0x?A,0x?A}) too; the first non-GREASE ALPN value is used.
 * - Duplicate cipher or extension values are kept (counted and listed once per occurrence).
 */
import { createHash } from 'node:crypto';
import { clientHelloInfo, isGrease, type ClientHelloInfo, type HelloScan } from './tls-hello.js';

const EXT_SERVER_NAME = 0x0000; // RFC 6066 §3
const EXT_ALPN = 0x0010; // RFC 7301 §3.1

/** JA4 `ja4_b`/`ja4_c` value used when the list to hash is empty. */
const EMPTY_HASH = '000000000000';

export type Ja4Transport = 't' | 'q' | 'd';

/**
 * JA4 fingerprint of a ClientHello, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
 *
 * @param ch decoded ClientHello (GREASE values still present; they are removed here).
 * @param transport `t` for TLS over TCP (default), `q` for QUIC, `d` for DTLS. The caller knows
 *   the transport; it is not inferred from extensions.
 */
export function ja4(ch: ClientHelloInfo, transport: Ja4Transport = 't'): string {
  const n = memoKey(transport, ch.legacyVersion, ch.supportedVersions, ch.supportedVersions.length, ch.cipherSuites, ch.cipherSuites.length,
    ch.extensions, ch.extensions.length, ch.signatureAlgorithms, ch.signatureAlgorithms.length, ch.alpn, ch.alpn.length);
  return memoLookup(n) ?? memoAdd(n, ch, transport);
}

/** ja4() of a hello just scanned (tls-hello.ts scanClientHello): no lists are copied unless the memo misses. */
export function ja4OfScan(x: HelloScan, transport: Ja4Transport = 't'): string {
  const n = memoKey(transport, x.legacyVersion, x.versions, x.nVersions, x.ciphers, x.nCiphers, x.exts, x.nExts, x.sigs, x.nSigs, x.alpn, x.nAlpn);
  return memoLookup(n) ?? memoAdd(n, clientHelloInfo(x), transport);
}

function memoLookup(n: number): string | null {
  for (let e = memo.get(keyHash); e !== undefined; e = e.next) if (sameKey(e.key, n)) return e.fp;
  return null;
}

function memoAdd(n: number, ch: ClientHelloInfo, transport: Ja4Transport): string {
  const h = keyHash;
  const p = parts(ch, transport);
  const fp = `${p.a}_${hash12(p.ciphers)}_${hash12(p.extsSigs)}`;
  if (memoEntries >= MEMO_MAX) { memo.clear(); memoEntries = 0; }
  memo.set(h, { key: keyBuf.slice(0, n), fp, next: memo.get(h) });
  memoEntries++;
  return fp;
}

/**
 * Fingerprints repeat: an edge sees many connections from few client stacks. The key holds every
 * input JA4 reads, so a hit skips the sorting, hex formatting and two SHA-256 runs — 11% of
 * analyze time on the 50k-handshake benchmark. It is a list of numbers in a reused scratch array
 * with its 32-bit hash, looked up by the hash and compared in full, so a hit builds nothing (the
 * string key built with String.fromCharCode(...list) was 4% of the allocation on a
 * handshake-dense capture, issue 13). Collisions chain.
 */
const MEMO_MAX = 4096;
interface MemoEntry { key: number[]; fp: string; next: MemoEntry | undefined }
const memo = new Map<number, MemoEntry>();
let memoEntries = 0;
const keyBuf: number[] = [0];
let keyHash = 0;

/**
 * Writes the key into keyBuf (each list preceded by its length; only the first `n…` entries of
 * each list count) and its hash into keyHash; returns its length.
 */
function memoKey(transport: string, legacyVersion: number, sv: readonly number[], nSv: number, cs: readonly number[], nCs: number,
  ext: readonly number[], nExt: number, sig: readonly number[], nSig: number, alpn: readonly string[], nAlpn: number): number {
  let n = 0;
  keyBuf[n++] = transport.charCodeAt(0);
  keyBuf[n++] = legacyVersion;
  n = putList(sv, nSv, n);
  n = putList(cs, nCs, n);
  n = putList(ext, nExt, n);
  n = putList(sig, nSig, n);
  keyBuf[n++] = nAlpn;
  for (let i = 0; i < nAlpn; i++) {
    const a = alpn[i]!;
    keyBuf[n++] = a.length;
    for (let j = 0; j < a.length; j++) keyBuf[n++] = a.charCodeAt(j);
  }
  let h = 0x811c9dc5; // FNV-1a over the values
  for (let i = 0; i < n; i++) h = Math.imul(h ^ keyBuf[i]!, 0x01000193);
  keyHash = h >>> 0;
  return n;
}

function putList(list: readonly number[], count: number, n: number): number {
  keyBuf[n++] = count;
  for (let i = 0; i < count; i++) keyBuf[n++] = list[i]!;
  return n;
}

function sameKey(key: readonly number[], n: number): boolean {
  if (key.length !== n) return false;
  for (let i = 0; i < n; i++) if (key[i] !== keyBuf[i]) return false;
  return true;
}

/**
 * The un-hashed JA4 (`ja4_r` in the spec): `ja4_a`, then the sorted cipher list, then the sorted
 * extension list and signature algorithms exactly as they are fed to SHA-256. Useful for debugging
 * and for telling apart two clients whose hashes differ. An empty list shows as an empty field.
 */
export function ja4Raw(ch: ClientHelloInfo, transport: Ja4Transport = 't'): string {
  const p = parts(ch, transport);
  return `${p.a}_${p.ciphers}_${p.extsSigs}`;
}

interface Ja4Parts {
  a: string;
  ciphers: string;
  extsSigs: string;
}

function parts(ch: ClientHelloInfo, transport: Ja4Transport): Ja4Parts {
  const ciphers = ch.cipherSuites.filter((v) => !isGrease(v));
  const exts = ch.extensions.filter((v) => !isGrease(v));
  const sni = exts.includes(EXT_SERVER_NAME) ? 'd' : 'i';
  const a =
    transport + versionCode(ch) + sni + count2(ciphers.length) + count2(exts.length) + alpnCode(ch.alpn);

  const hashedExts = exts.filter((v) => v !== EXT_SERVER_NAME && v !== EXT_ALPN);
  const sigs = ch.signatureAlgorithms.filter((v) => !isGrease(v));
  let extsSigs = sortedHexList(hashedExts);
  if (sigs.length > 0) extsSigs += '_' + sigs.map(hex4).join(',');
  return { a, ciphers: sortedHexList(ciphers), extsSigs };
}

function versionCode(ch: ClientHelloInfo): string {
  let v = -1;
  for (const sv of ch.supportedVersions) if (!isGrease(sv) && sv > v) v = sv;
  if (v < 0) v = ch.legacyVersion;
  switch (v) {
    case 0x0304: return '13';
    case 0x0303: return '12';
    case 0x0302: return '11';
    case 0x0301: return '10';
    case 0x0300: return 's3';
    case 0x0002: return 's2';
    case 0xfeff: return 'd1';
    case 0xfefd: return 'd2';
    case 0xfefc: return 'd3';
    default: return '00';
  }
}

function count2(n: number): string {
  return String(Math.min(n, 99)).padStart(2, '0');
}

/** RFC 8701 §2: GREASE ALPN identifiers are the two bytes {0x?A, 0x?A}. */
function isGreaseAlpn(s: string): boolean {
  return s.length === 2 && isGrease((s.charCodeAt(0) << 8) | s.charCodeAt(1));
}

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** `alpn` holds latin1 strings, so each char code is one wire byte (0–255). */
function alpnCode(alpn: readonly string[]): string {
  const first = alpn.find((s) => !isGreaseAlpn(s));
  if (first === undefined || first.length === 0) return '00';
  const f = first.charCodeAt(0);
  const l = first.charCodeAt(first.length - 1);
  if (isAlnum(f) && isAlnum(l)) return first[0]! + first[first.length - 1]!;
  // First char of the hex form is the high nibble of the first byte; last is the low nibble of the last.
  return (f >> 4).toString(16) + (l & 0x0f).toString(16);
}

function hex4(v: number): string {
  return v.toString(16).padStart(4, '0');
}

function sortedHexList(values: readonly number[]): string {
  return [...values].sort((x, y) => x - y).map(hex4).join(',');
}

function hash12(s: string): string {
  if (s.length === 0) return EMPTY_HASH;
  return createHash('sha256').update(s, 'latin1').digest('hex').slice(0, 12);
}
