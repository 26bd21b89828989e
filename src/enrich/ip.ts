/**
 * Addresses and prefixes as the prefix table uses them: IPv4 as one uint32, IPv6 as four uint32
 * words, most significant first (RFC 4291 §2.2 text forms, RFC 4632 §3.1 CIDR notation).
 * Per record, never per packet.
 */
import { parseAddress } from '../correlate/journal-event.js';
import { formatIp } from '../handshake/addr.js';

/** A CIDR prefix: family, its first address (host bits zero) and its length. */
export interface Prefix {
  family: 4 | 6;
  /** v4: [addr, 0, 0, 0]; v6: four words. */
  words: Uint32Array;
  len: number;
}

/** Bytes (4 or 16) to words; `out` is filled and returned. */
export function bytesToWords(a: Uint8Array, out: Uint32Array = new Uint32Array(4)): Uint32Array {
  if (a.length === 4) {
    out[0] = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
    out[1] = out[2] = out[3] = 0;
    return out;
  }
  for (let i = 0; i < 4; i++) out[i] = ((a[4 * i]! << 24) | (a[4 * i + 1]! << 16) | (a[4 * i + 2]! << 8) | a[4 * i + 3]!) >>> 0;
  return out;
}

function wordsToBytes(family: 4 | 6, w: Uint32Array): Uint8Array {
  const n = family === 4 ? 1 : 4;
  const a = new Uint8Array(4 * n);
  for (let i = 0; i < n; i++) {
    a[4 * i] = w[i]! >>> 24; a[4 * i + 1] = (w[i]! >>> 16) & 0xff; a[4 * i + 2] = (w[i]! >>> 8) & 0xff; a[4 * i + 3] = w[i]! & 0xff;
  }
  return a;
}

/** Zeroes the host bits of `w` beyond `len` (in place). */
export function maskWords(family: 4 | 6, w: Uint32Array, len: number): Uint32Array {
  const n = family === 4 ? 1 : 4;
  for (let i = 0; i < n; i++) {
    const keep = Math.min(32, Math.max(0, len - 32 * i));
    w[i] = keep === 0 ? 0 : keep === 32 ? w[i]! : (w[i]! & (0xffffffff << (32 - keep))) >>> 0;
  }
  return w;
}

/**
 * Parses "a.b.c.d/n" or "v6addr/n". Returns null when it is not a prefix; host bits set beyond
 * the length are a mistake in the file, not a different prefix, so they are refused too
 * ("10.0.0.1/8" is not "10.0.0.0/8").
 */
export function parsePrefix(text: string): Prefix | null {
  const m = /^([0-9A-Fa-f:.]+)\/([0-9]{1,3})$/.exec(text.trim());
  if (!m) return null;
  const a = parseAddress(m[1]!);
  if (a === null) return null;
  const family = a.length === 4 ? 4 : 6;
  const len = Number(m[2]);
  if (len > (family === 4 ? 32 : 128)) return null;
  const words = bytesToWords(a);
  const masked = maskWords(family, Uint32Array.from(words), len);
  for (let i = 0; i < 4; i++) if (masked[i] !== words[i]) return null;
  return { family, words: masked, len };
}

/** The address part of an endpoint ("1.2.3.4:5" or "[v6]:5") or of a bare address, as bytes. */
export function endpointAddress(endpoint: string): Uint8Array | null {
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(endpoint);
  if (v6) return parseAddress(v6[1]!);
  const v4 = /^(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})(?::\d+)?$/.exec(endpoint);
  if (v4) return parseAddress(v4[1]!);
  return parseAddress(endpoint);
}

/** An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2) as its IPv4 bytes, else as is. */
export function unmapV4(a: Uint8Array): Uint8Array {
  if (a.length !== 16) return a;
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return a;
  return a[10] === 0xff && a[11] === 0xff ? a.subarray(12) : a;
}

/** CIDR text of the prefix of length `len` holding address `a` ("198.51.100.0/24"). */
export function prefixText(a: Uint8Array, len: number): string {
  const family = a.length === 4 ? 4 : 6;
  const w = maskWords(family, bytesToWords(a), len);
  return `${formatIp(wordsToBytes(family, w))}/${len}`;
}

/** The PTR query name of an address: RFC 1035 §3.5 in-addr.arpa, RFC 3596 §2.5 ip6.arpa nibbles. */
export function reverseName(a: Uint8Array): string {
  if (a.length === 4) return `${a[3]}.${a[2]}.${a[1]}.${a[0]}.in-addr.arpa`;
  let out = '';
  for (let i = 15; i >= 0; i--) out += `${(a[i]! & 15).toString(16)}.${(a[i]! >> 4).toString(16)}.`;
  return `${out}ip6.arpa`;
}

/**
 * The IPv4 address of an "a.b.c.d:port" endpoint as a uint32, or -1 (IPv6, or not an endpoint):
 * the common case of `Enricher.attribute` without a regex or an allocation (the general path
 * cost 0.9 µs per record, a few percent of analyze on handshake-dense files).
 */
export function endpointV4(ep: string): number {
  let a = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < ep.length; i++) {
    const c = ep.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return -1;
    } else if (c === 46 && digits > 0 && dots < 3) {
      a = a * 256 + part; part = 0; digits = 0; dots++;
    } else if (c === 58 && digits > 0 && dots === 3) {
      return a * 256 + part;
    } else return -1;
  }
  return digits > 0 && dots === 3 ? a * 256 + part : -1;
}

/** Dotted text of a uint32 IPv4 address. */
export function v4Text(a: number): string {
  return `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
}
