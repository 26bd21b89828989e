/**
 * CIDR text for the kernel filter's widened networks (LiveCapture.widen): "a.b.c.d/n" (RFC 4632
 * §3.1) or an IPv6 address in any RFC 4291 §2.2 text form with "/n" (RFC 4291 §2.3). Sources are
 * the first stage, so this does not reuse src/enrich/ip.ts (a later stage); it runs per alert,
 * never per packet.
 */
import { formatIp } from '../handshake/addr.js';

/** A parsed network: version, address bytes in network order (host bits zero), prefix length. */
export interface Cidr {
  ipVersion: 4 | 6;
  addr: Uint8Array;
  prefixLen: number;
}

/** A bad CIDR string; `message` is one line naming the input and what is wrong. */
export class CidrError extends Error {
  readonly code = 'SLOWSHAKE_ERR_CIDR';
  constructor(message: string) {
    super(message);
    this.name = 'CidrError';
  }
}

function parseV4(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split('.');
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return false;
    out[at + i] = Number(p);
  }
  return true;
}

function parseV6(text: string): Uint8Array | null {
  const out = new Uint8Array(16);
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (s: string): string[] => (s === '' ? [] : s.split(':'));
  const head = groups(halves[0]!), tail = halves.length === 2 ? groups(halves[1]!) : [];
  // An embedded IPv4 address (::ffff:a.b.c.d) takes the last two groups.
  const last = (tail.length ? tail : head).at(-1);
  let v4: Uint8Array | null = null;
  if (last !== undefined && last.includes('.')) {
    v4 = new Uint8Array(4);
    if (!parseV4(last, v4, 0)) return null;
    (tail.length ? tail : head).pop();
  }
  const words = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 1 ? words !== 8 : words > 7) return null;
  const put = (g: string, i: number): boolean => {
    if (!/^[0-9A-Fa-f]{1,4}$/.test(g)) return false;
    const n = parseInt(g, 16);
    out[2 * i] = n >> 8;
    out[2 * i + 1] = n & 0xff;
    return true;
  };
  for (let i = 0; i < head.length; i++) if (!put(head[i]!, i)) return null;
  const tailStart = 8 - tail.length - (v4 ? 2 : 0);
  for (let i = 0; i < tail.length; i++) if (!put(tail[i]!, tailStart + i)) return null;
  if (v4) out.set(v4, 12);
  return out;
}

/**
 * Parses "198.51.100.0/24" or "2001:db8::/48". Throws CidrError when the text is not a network:
 * no "/n", an address that does not parse, a length past 32 or 128, or host bits set beyond the
 * length ("10.0.0.1/8" is a mistake, not 10.0.0.0/8; the message names the network meant).
 */
export function parseCidr(text: string): Cidr {
  const m = /^([^/\s]+)\/([0-9]{1,3})$/.exec(text);
  if (!m) throw new CidrError(`cidr ${JSON.stringify(text)}: expected an address and a prefix length, e.g. 198.51.100.0/24 or 2001:db8::/48`);
  const isV6 = m[1]!.includes(':');
  let addr: Uint8Array | null;
  if (isV6) {
    addr = parseV6(m[1]!);
  } else {
    addr = new Uint8Array(4);
    if (!parseV4(m[1]!, addr, 0)) addr = null;
  }
  if (addr === null) throw new CidrError(`cidr ${JSON.stringify(text)}: ${JSON.stringify(m[1])} is not an IPv${isV6 ? 6 : 4} address`);
  const prefixLen = Number(m[2]);
  const bits = addr.length * 8;
  if (prefixLen > bits) throw new CidrError(`cidr ${JSON.stringify(text)}: prefix length ${prefixLen} is past ${bits} (IPv${isV6 ? 6 : 4})`);
  const masked = Uint8Array.from(addr);
  for (let bit = prefixLen; bit < bits; bit++) masked[bit >> 3]! &= ~(0x80 >> (bit & 7));
  if (masked.some((b, i) => b !== addr[i])) {
    throw new CidrError(`cidr ${JSON.stringify(text)}: host bits set beyond /${prefixLen} (the network is ${formatCidr({ ipVersion: isV6 ? 6 : 4, addr: masked, prefixLen })})`);
  }
  return { ipVersion: isV6 ? 6 : 4, addr, prefixLen };
}

/** Canonical text: dotted quad, or RFC 5952 IPv6 (lowercase, the longest run of zero groups as "::", IPv4-mapped as ::ffff:a.b.c.d). */
export function formatCidr(c: Cidr): string {
  // formatIp: dotted IPv4, RFC 5952 IPv6, an IPv4-mapped address as ::ffff:a.b.c.d (as inet_ntop prints it).
  return `${formatIp(c.addr)}/${c.prefixLen}`;
}
