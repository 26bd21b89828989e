/**
 * Capture rewriting for format and link-layer tests: an independent minimal reader for classic
 * pcap and pcapng (not the code under test), writers for every container variant the source stage
 * accepts, and per-packet link-layer re-encoders that turn Ethernet frames into 802.1Q, QinQ, SLL,
 * SLL2, raw IP, BSD null and OpenBSD loop frames.
 *
 * Layouts: classic pcap draft-ietf-opsawg-pcap §4–5; pcapng draft-ietf-opsawg-pcapng §3–4
 * (SHB 0x0A0D0D0A, IDB 1, OPB 2, SPB 3, NRB 4, ISB 5, EPB 6, custom 0xBAD/0x40000BAD);
 * link headers from https://www.tcpdump.org/linktypes.html (LINKTYPE_LINUX_SLL/SLL2, NULL, LOOP).
 */
import { chmodSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LT_NULL = 0;
export const LT_ETHERNET = 1;
export const LT_RAW12 = 12;
export const LT_RAW14 = 14;
export const LT_RAW = 101;
export const LT_LOOP = 108;
export const LT_SLL = 113;
export const LT_IPV4 = 228;
export const LT_IPV6 = 229;
export const LT_SLL2 = 276;

const ET_IPV4 = 0x0800;
const ET_IPV6 = 0x86dd;

/** One packet: timestamp as whole seconds + nanoseconds, the captured bytes and the wire length. */
export interface Packet {
  sec: number;
  nsec: number;
  data: Uint8Array;
  origLen: number;
}

export interface Capture {
  linkType: number;
  snaplen: number;
  packets: Packet[];
}

/** A private (0700) temporary directory. */
export function privateTempDir(prefix = 'slowshake-variants-'): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(d, 0o700);
  return d;
}

// ---- reading (independent of src/sources) ---------------------------------------------------------

/** Reads a classic pcap (either byte order, µs or ns) into packets. */
export function readPcap(buf: Uint8Array): Capture {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magicLe = dv.getUint32(0, true);
  let le: boolean;
  let nano: boolean;
  if (magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d) { le = true; nano = magicLe === 0xa1b23c4d; }
  else {
    const m = dv.getUint32(0, false);
    if (m !== 0xa1b2c3d4 && m !== 0xa1b23c4d) throw new Error('not a classic pcap');
    le = false; nano = m === 0xa1b23c4d;
  }
  const snaplen = dv.getUint32(16, le);
  const linkType = dv.getUint32(20, le) & 0xffff;
  const packets: Packet[] = [];
  let o = 24;
  while (o + 16 <= buf.length) {
    const incl = dv.getUint32(o + 8, le);
    if (o + 16 + incl > buf.length) break;
    const frac = dv.getUint32(o + 4, le);
    packets.push({
      sec: dv.getUint32(o, le),
      nsec: nano ? frac : frac * 1000,
      data: buf.slice(o + 16, o + 16 + incl),
      origLen: dv.getUint32(o + 12, le),
    });
    o += 16 + incl;
  }
  return { linkType, snaplen, packets };
}

/** Reads a little- or big-endian pcapng with one interface (decimal if_tsresol) and EPBs. */
export function readPcapng(buf: Uint8Array): Capture {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const le = dv.getUint32(8, true) === 0x1a2b3c4d;
  let linkType = -1;
  let snaplen = 0;
  let units = 1_000_000n;
  const packets: Packet[] = [];
  for (let o = 0; o + 12 <= buf.length; ) {
    const type = dv.getUint32(o, le);
    const len = dv.getUint32(o + 4, le);
    const body = o + 8;
    if (type === 1) {
      if (linkType >= 0) throw new Error('readPcapng: only one interface supported');
      linkType = dv.getUint16(body, le);
      snaplen = dv.getUint32(body + 4, le);
      for (let p = body + 8; p + 4 <= o + len - 4; ) {
        const code = dv.getUint16(p, le), olen = dv.getUint16(p + 2, le);
        if (code === 0) break;
        if (code === 9) {
          const r = buf[p + 4]!;
          if (r & 0x80) throw new Error('readPcapng: binary if_tsresol not supported');
          units = 10n ** BigInt(r);
        }
        p += 4 + ((olen + 3) & ~3);
      }
    } else if (type === 6) {
      const ticks = (BigInt(dv.getUint32(body + 4, le)) << 32n) | BigInt(dv.getUint32(body + 8, le));
      const caplen = dv.getUint32(body + 12, le);
      const sec = ticks / units;
      packets.push({
        sec: Number(sec),
        nsec: Number(((ticks - sec * units) * 1_000_000_000n) / units),
        data: buf.slice(body + 20, body + 20 + caplen),
        origLen: dv.getUint32(body + 16, le),
      });
    }
    o += len;
  }
  return { linkType, snaplen, packets };
}

export function readCapture(path: string): Capture {
  const b = readFileSync(path);
  return b.readUInt32BE(0) === 0x0a0d0d0a ? readPcapng(b) : readPcap(b);
}

/** The µs timestamp the source stage derives from a packet (floor of the ns fraction). */
export function packetUs(p: Packet): bigint {
  return BigInt(p.sec) * 1_000_000n + BigInt(Math.floor(p.nsec / 1000));
}

// ---- classic pcap writer ------------------------------------------------------------------------

export function writePcap(cap: Capture, opts: { bigEndian?: boolean; nano?: boolean; linkType?: number } = {}): Buffer {
  const le = !opts.bigEndian;
  const size = 24 + cap.packets.reduce((n, p) => n + 16 + p.data.length, 0);
  const out = Buffer.alloc(size);
  const w32 = (o: number, v: number): void => { le ? out.writeUInt32LE(v >>> 0, o) : out.writeUInt32BE(v >>> 0, o); };
  const w16 = (o: number, v: number): void => { le ? out.writeUInt16LE(v, o) : out.writeUInt16BE(v, o); };
  w32(0, opts.nano ? 0xa1b23c4d : 0xa1b2c3d4);
  w16(4, 2);
  w16(6, 4);
  w32(16, cap.snaplen || 262144);
  w32(20, opts.linkType ?? cap.linkType);
  let o = 24;
  for (const p of cap.packets) {
    w32(o, p.sec);
    w32(o + 4, opts.nano ? p.nsec : Math.floor(p.nsec / 1000));
    w32(o + 8, p.data.length);
    w32(o + 12, p.origLen);
    out.set(p.data, o + 16);
    o += 16 + p.data.length;
  }
  return out;
}

// ---- pcapng writer ------------------------------------------------------------------------------

export interface IfaceSpec {
  linkType: number;
  snaplen?: number;
  /** Raw if_tsresol byte (absent: the default 10^-6). */
  tsresol?: number;
  /** if_tsoffset in seconds (signed 64-bit). */
  tsoffset?: bigint;
}

/** An option TLV (code, value), padded to 32 bits. */
export interface Opt { code: number; value: Uint8Array }

/** Builds a pcapng block by block, in either byte order. */
export class PcapngWriter {
  readonly #le: boolean;
  readonly #parts: Buffer[] = [];
  readonly #ifaces: IfaceSpec[] = [];

  constructor(opts: { bigEndian?: boolean } = {}) {
    this.#le = !opts.bigEndian;
  }

  #u16(v: number): Buffer { const b = Buffer.alloc(2); this.#le ? b.writeUInt16LE(v) : b.writeUInt16BE(v); return b; }
  #u32(v: number): Buffer { const b = Buffer.alloc(4); this.#le ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0); return b; }
  #i64(v: bigint): Buffer { const b = Buffer.alloc(8); this.#le ? b.writeBigInt64LE(v) : b.writeBigInt64BE(v); return b; }

  #options(opts: Opt[]): Buffer {
    if (opts.length === 0) return Buffer.alloc(0);
    const parts: Buffer[] = [];
    for (const o of opts) {
      parts.push(this.#u16(o.code), this.#u16(o.value.length), Buffer.from(o.value), Buffer.alloc((4 - (o.value.length % 4)) % 4));
    }
    parts.push(this.#u16(0), this.#u16(0)); // opt_endofopt
    return Buffer.concat(parts);
  }

  /** Appends a block of `type` with `body` (padded here) and the length trailer. */
  block(type: number, body: Uint8Array): this {
    const pad = (4 - (body.length % 4)) % 4;
    const len = 12 + body.length + pad;
    this.#parts.push(this.#u32(type), this.#u32(len), Buffer.from(body), Buffer.alloc(pad), this.#u32(len));
    return this;
  }

  /** Section header; starts a new section (interface list resets). */
  shb(opts: Opt[] = []): this {
    this.#ifaces.length = 0;
    const body = Buffer.concat([this.#u32(0x1a2b3c4d), this.#u16(1), this.#u16(0), this.#i64(-1n), this.#options(opts)]);
    return this.block(0x0a0d0d0a, body);
  }

  /** Interface description; returns this writer (the interface id is the count so far). */
  idb(spec: IfaceSpec): this {
    const opts: Opt[] = [];
    if (spec.tsresol !== undefined) opts.push({ code: 9, value: Uint8Array.of(spec.tsresol) });
    if (spec.tsoffset !== undefined) opts.push({ code: 14, value: this.#i64(spec.tsoffset) });
    opts.push({ code: 2, value: Buffer.from(`if${this.#ifaces.length}`) }); // if_name, to exercise option skipping
    this.#ifaces.push(spec);
    const body = Buffer.concat([this.#u16(spec.linkType), this.#u16(0), this.#u32(spec.snaplen ?? 0), this.#options(opts)]);
    return this.block(1, body);
  }

  /**
   * Timestamp ticks of `p` for interface `ifId`. Decimal resolutions of 10^-9 or finer encode the
   * nanoseconds exactly; anything else is rounded up from the µs the reader will derive, so that
   * reading back yields exactly `packetUs(p)` (a finer resolution never changes the µs value).
   */
  ticks(ifId: number, p: Packet): bigint {
    const spec = this.#ifaces[ifId]!;
    const off = spec.tsoffset ?? 0n;
    const r = spec.tsresol ?? 6;
    if (!(r & 0x80) && r >= 9) {
      const ns = (BigInt(p.sec) - off) * 1_000_000_000n + BigInt(p.nsec);
      return ns * 10n ** BigInt(r - 9);
    }
    const units = r & 0x80 ? 1n << BigInt(r & 0x7f) : 10n ** BigInt(r);
    if (units < 1_000_000n) throw new Error('ticks: resolutions coarser than 1 µs change the timeline');
    const us = packetUs(p) - off * 1_000_000n;
    return (us * units + 999_999n) / 1_000_000n;
  }

  epb(ifId: number, p: Packet, opts: Opt[] = []): this {
    const t = this.ticks(ifId, p);
    const pad = (4 - (p.data.length % 4)) % 4;
    const body = Buffer.concat([
      this.#u32(ifId), this.#u32(Number(t >> 32n)), this.#u32(Number(t & 0xffffffffn)),
      this.#u32(p.data.length), this.#u32(p.origLen), Buffer.from(p.data), Buffer.alloc(pad), this.#options(opts),
    ]);
    return this.block(6, body);
  }

  /** Obsolete Packet Block (interface id u16, drops u16, then as in an EPB). */
  opb(ifId: number, p: Packet): this {
    const t = this.ticks(ifId, p);
    const body = Buffer.concat([
      this.#u16(ifId), this.#u16(0), this.#u32(Number(t >> 32n)), this.#u32(Number(t & 0xffffffffn)),
      this.#u32(p.data.length), this.#u32(p.origLen), Buffer.from(p.data),
    ]);
    return this.block(2, body);
  }

  /** Simple Packet Block: original length and the data, no timestamp, interface 0. */
  spb(p: Packet): this {
    return this.block(3, Buffer.concat([this.#u32(p.origLen), Buffer.from(p.data)]));
  }

  /** Name Resolution Block with one IPv4 record and the end record. */
  nrb(): this {
    const name = Buffer.from('app.example\0');
    const rec = Buffer.concat([Buffer.of(203, 0, 113, 1), name]);
    const pad = (4 - (rec.length % 4)) % 4;
    return this.block(4, Buffer.concat([this.#u16(1), this.#u16(rec.length), rec, Buffer.alloc(pad), this.#u16(0), this.#u16(0)]));
  }

  /** Interface Statistics Block (isb_ifrecv option). */
  isb(ifId: number): this {
    return this.block(5, Buffer.concat([this.#u32(ifId), this.#u32(0), this.#u32(0), this.#options([{ code: 4, value: this.#i64(7n) }])]));
  }

  /** Custom block (PEN 32473, the documentation enterprise number), copyable or not. */
  custom(copyable: boolean): this {
    return this.block(copyable ? 0x00000bad : 0x40000bad, Buffer.concat([this.#u32(32473), Buffer.from('slowshake test data')]));
  }

  toBuffer(): Buffer {
    return Buffer.concat(this.#parts);
  }
}

// ---- link-layer re-encoding ---------------------------------------------------------------------

/** Ethertype and network-layer bytes of an untagged Ethernet frame. */
export function ethPayload(frame: Uint8Array): { ethertype: number; net: Uint8Array } {
  return { ethertype: (frame[12]! << 8) | frame[13]!, net: frame.subarray(14) };
}

const isIp = (et: number): boolean => et === ET_IPV4 || et === ET_IPV6;

/** One link-layer rewrite: the new link type and a frame encoder (null = packet not representable). */
export interface LinkRewrite {
  name: string;
  linkType: number;
  encode(frame: Uint8Array): Uint8Array | null;
}

function withHeader(hdr: number[], net: Uint8Array): Uint8Array {
  const out = new Uint8Array(hdr.length + net.length);
  out.set(hdr, 0);
  out.set(net, hdr.length);
  return out;
}

/** 802.1Q / 802.1ad tags inserted after the MAC addresses (TPIDs in order, outermost first). */
export function vlanFrame(frame: Uint8Array, tpids: number[]): Uint8Array {
  const tags: number[] = [];
  tpids.forEach((tpid, i) => tags.push(tpid >> 8, tpid & 0xff, 0x20 | i, 0x64 + i)); // PCP 1, VID 0x064+i
  const out = new Uint8Array(frame.length + tags.length);
  out.set(frame.subarray(0, 12), 0);
  out.set(tags, 12);
  out.set(frame.subarray(12), 12 + tags.length);
  return out;
}

/** Linux cooked v1 (16 bytes): packet type, ARPHRD_ETHER, address length 6, address (8), protocol. */
export function sllFrame(frame: Uint8Array): Uint8Array {
  const { ethertype, net } = ethPayload(frame);
  return withHeader([0, 4, 0, 1, 0, 6, ...frame.subarray(6, 12), 0, 0, ethertype >> 8, ethertype & 0xff], net);
}

/** Linux cooked v2 (20 bytes): protocol, reserved, ifindex, ARPHRD_ETHER, packet type, addr len, address (8). */
export function sll2Frame(frame: Uint8Array): Uint8Array {
  const { ethertype, net } = ethPayload(frame);
  return withHeader([ethertype >> 8, ethertype & 0xff, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, ...frame.subarray(6, 12), 0, 0], net);
}

/** BSD address families: AF_INET 2 everywhere; AF_INET6 24 (NetBSD/OpenBSD). */
function family(et: number): number {
  return et === ET_IPV4 ? 2 : 24;
}

export const LINK_REWRITES: readonly LinkRewrite[] = [
  { name: '802.1Q single tag', linkType: LT_ETHERNET, encode: (f) => vlanFrame(f, [0x8100]) },
  { name: 'QinQ 802.1ad + 802.1Q', linkType: LT_ETHERNET, encode: (f) => vlanFrame(f, [0x88a8, 0x8100]) },
  { name: 'QinQ legacy 0x9100 + 802.1Q', linkType: LT_ETHERNET, encode: (f) => vlanFrame(f, [0x9100, 0x8100]) },
  { name: 'Linux SLL', linkType: LT_SLL, encode: sllFrame },
  { name: 'Linux SLL2', linkType: LT_SLL2, encode: sll2Frame },
  { name: 'RAW (101)', linkType: LT_RAW, encode: (f) => (isIp(ethPayload(f).ethertype) ? ethPayload(f).net : null) },
  { name: 'DLT_RAW 12', linkType: LT_RAW12, encode: (f) => (isIp(ethPayload(f).ethertype) ? ethPayload(f).net : null) },
  { name: 'DLT_RAW 14 (OpenBSD)', linkType: LT_RAW14, encode: (f) => (isIp(ethPayload(f).ethertype) ? ethPayload(f).net : null) },
  { name: 'IPV4 (228)', linkType: LT_IPV4, encode: (f) => (ethPayload(f).ethertype === ET_IPV4 ? ethPayload(f).net : null) },
  { name: 'IPV6 (229)', linkType: LT_IPV6, encode: (f) => (ethPayload(f).ethertype === ET_IPV6 ? ethPayload(f).net : null) },
  {
    name: 'NULL (little-endian family)', linkType: LT_NULL,
    encode: (f) => { const { ethertype: et, net } = ethPayload(f); return isIp(et) ? withHeader([family(et), 0, 0, 0], net) : null; },
  },
  {
    name: 'LOOP (big-endian family)', linkType: LT_LOOP,
    encode: (f) => { const { ethertype: et, net } = ethPayload(f); return isIp(et) ? withHeader([0, 0, 0, family(et)], net) : null; },
  },
];

/**
 * Re-encodes every Ethernet frame of `cap` with `rw`. Packets the link type cannot carry (ARP on
 * raw IP, IPv6 on LINKTYPE_IPV4) are dropped. The wire length grows or shrinks with the header.
 */
export function rewriteLink(cap: Capture, rw: LinkRewrite): Capture {
  if (cap.linkType !== LT_ETHERNET) throw new Error('rewriteLink: source capture must be Ethernet');
  const packets: Packet[] = [];
  for (const p of cap.packets) {
    const d = rw.encode(p.data);
    if (d === null) continue;
    packets.push({ sec: p.sec, nsec: p.nsec, data: d, origLen: p.origLen + d.length - p.data.length });
  }
  return { linkType: rw.linkType, snaplen: cap.snaplen, packets };
}

/** True when the Ethernet frame carries IPv4 or IPv6 (representable on every link type). */
export function carriesIp(frame: Uint8Array): boolean {
  return isIp(ethPayload(frame).ethertype);
}
