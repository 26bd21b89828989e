/**
 * pcapng (draft-ietf-opsawg-pcapng; libpcap sf-pcapng.c). Blocks are
 * `type u32 | total_length u32 | body | total_length u32`, padded to 32 bits, in the byte order
 * the Section Header Block's byte-order magic declares. Handled: SHB (resets the interface list),
 * IDB (link type, if_tsresol, if_tsoffset), EPB, SPB, OPB (obsolete packet block). Every other
 * block type is skipped.
 */
import type { DecodedPacket } from '../decode/packet.js';
import { CaptureFileError, MAX_RECORD_BYTES, type PacketSink } from './capture-error.js';

export const PCAPNG_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_OPB = 2; // obsolete Packet Block
const BT_SPB = 3;
const BT_EPB = 6;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;
/** Largest block accepted (libpcap grows its limit up to 16 MiB for ordinary files). */
const MAX_BLOCK = 16 * 1024 * 1024;

interface Iface {
  linkType: number;
  snaplen: number;
  /** Timestamp units per second: 10^n, or 2^n when `pow2`. */
  units: number;
  pow2: boolean;
  pow2Exp: number;
  offsetSec: number;
}

/** Scratch for the 64-bit timestamp split (no allocation per packet). */
const ts = { sec: 0, nsec: 0 };

/**
 * Splits a 64-bit count of `units`-per-second ticks (hi:lo) into seconds and nanoseconds exactly,
 * without BigInt: values below 2^53 divide directly; larger ones (nanosecond stamps) by long
 * division over 16-bit limbs, where every intermediate stays below 2^46.
 */
function splitTicks(hi: number, lo: number, units: number): void {
  if (hi < 0x200000) {
    const v = hi * 4294967296 + lo;
    const sec = Math.floor(v / units);
    ts.sec = sec;
    ts.nsec = Math.floor(((v - sec * units) * 1e9) / units);
    return;
  }
  if (units <= 1e9) {
    let r = hi >>> 16;
    const q3 = Math.floor(r / units); r -= q3 * units;
    r = r * 65536 + (hi & 0xffff);
    const q2 = Math.floor(r / units); r -= q2 * units;
    r = r * 65536 + (lo >>> 16);
    const q1 = Math.floor(r / units); r -= q1 * units;
    r = r * 65536 + (lo & 0xffff);
    const q0 = Math.floor(r / units); r -= q0 * units;
    ts.sec = ((q3 * 65536 + q2) * 65536 + q1) * 65536 + q0;
    ts.nsec = Math.floor((r * 1e9) / units);
    return;
  }
  // Sub-nanosecond resolutions are rare: exact BigInt arithmetic is fine there.
  const v = (BigInt(hi) << 32n) | BigInt(lo);
  const u = BigInt(units);
  ts.sec = Number(v / u);
  ts.nsec = Number(((v % u) * 1_000_000_000n) / u);
}

export class PcapngParser {
  #le = true;
  #inSection = false;
  #ifaces: Iface[] = [];
  packets = 0;
  /** Link types seen, for reports. */
  readonly linkTypes = new Set<number>();

  constructor(readonly file: string) {}

  #u32(b: Uint8Array, o: number): number {
    return this.#le
      ? (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0
      : ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
  }

  #u16(b: Uint8Array, o: number): number {
    return this.#le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!;
  }

  needed(data: Uint8Array, pos: number): number {
    if (data.length - pos < 12) return 12;
    return this.#u32(data, pos + 4);
  }

  parse(data: Uint8Array, pos: number, base: number, pkt: DecodedPacket, sink: PacketSink): number {
    const end = data.length;
    pkt.buf = data;
    while (end - pos >= 12) {
      const type = this.#u32(data, pos);
      if (type === PCAPNG_SHB) {
        const bom = (data[pos + 8]! | (data[pos + 9]! << 8) | (data[pos + 10]! << 16) | (data[pos + 11]! << 24)) >>> 0;
        if (bom === BYTE_ORDER_MAGIC) this.#le = true;
        else if (((data[pos + 8]! << 24) | (data[pos + 9]! << 16) | (data[pos + 10]! << 8) | data[pos + 11]!) >>> 0 === BYTE_ORDER_MAGIC) this.#le = false;
        else throw new CaptureFileError(this.file, base + pos, 'bad pcapng byte-order magic in section header');
      } else if (!this.#inSection) {
        throw new CaptureFileError(this.file, base + pos, 'not a pcap or pcapng file (bad magic)');
      }
      const len = this.#u32(data, pos + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        throw new CaptureFileError(this.file, base + pos, `bad pcapng block length ${len} (corrupt file)`);
      }
      if (end - pos < len) break;
      if (this.#u32(data, pos + len - 4) !== len) {
        throw new CaptureFileError(this.file, base + pos, `pcapng block length ${len} does not match its trailer (corrupt file)`);
      }
      const body = pos + 8;
      const bodyEnd = pos + len - 4;
      switch (type) {
        case PCAPNG_SHB:
          if (bodyEnd - body < 16) throw new CaptureFileError(this.file, base + pos, 'truncated pcapng section header');
          if (this.#u16(data, body + 4) !== 1) {
            throw new CaptureFileError(this.file, base + pos, `unsupported pcapng major version ${this.#u16(data, body + 4)}`);
          }
          this.#inSection = true;
          this.#ifaces = [];
          break;
        case BT_IDB:
          this.#readIdb(data, body, bodyEnd, base + pos);
          break;
        case BT_EPB:
        case BT_OPB: {
          if (bodyEnd - body < 20) throw new CaptureFileError(this.file, base + pos, 'truncated pcapng packet block');
          const ifId = type === BT_EPB ? this.#u32(data, body) : this.#u16(data, body);
          const iface = this.#ifaces[ifId];
          if (iface === undefined) {
            throw new CaptureFileError(this.file, base + pos, `packet block names interface ${ifId}, which was never described`);
          }
          const caplen = this.#u32(data, body + 12);
          if (caplen > bodyEnd - body - 20 || caplen > MAX_RECORD_BYTES * 256) {
            throw new CaptureFileError(this.file, base + pos, `packet block caplen ${caplen} exceeds its block (corrupt file)`);
          }
          this.#emit(pkt, sink, iface, ifId, this.#u32(data, body + 4), this.#u32(data, body + 8), body + 20, caplen, this.#u32(data, body + 16));
          break;
        }
        case BT_SPB: {
          const iface = this.#ifaces[0];
          if (iface === undefined) throw new CaptureFileError(this.file, base + pos, 'simple packet block before any interface description');
          if (bodyEnd - body < 4) throw new CaptureFileError(this.file, base + pos, 'truncated pcapng simple packet block');
          const orig = this.#u32(data, body);
          let caplen = bodyEnd - body - 4;
          if (orig < caplen) caplen = orig;
          if (iface.snaplen > 0 && iface.snaplen < caplen) caplen = iface.snaplen;
          // SPBs carry no timestamp: report the epoch so the flow still decodes.
          this.#emit(pkt, sink, iface, 0, 0, 0, body + 4, caplen, orig);
          break;
        }
        default:
          break; // NRB, ISB, DSB, custom and unknown blocks are skipped
      }
      pos += len;
    }
    return pos;
  }

  #emit(pkt: DecodedPacket, sink: PacketSink, iface: Iface, ifId: number, hi: number, lo: number, off: number, caplen: number, orig: number): void {
    if (iface.pow2) {
      // 2^-n resolutions are rare: exact BigInt arithmetic (a double loses bits above 2^53 ticks).
      const v = (BigInt(hi) << 32n) | BigInt(lo);
      const n = BigInt(iface.pow2Exp);
      ts.sec = Number(v >> n);
      ts.nsec = Number(((v & ((1n << n) - 1n)) * 1_000_000_000n) >> n);
    } else {
      splitTicks(hi, lo, iface.units);
    }
    pkt.tsSec = ts.sec + iface.offsetSec;
    pkt.tsNsec = ts.nsec;
    pkt.tsUs = pkt.tsSec * 1e6 + Math.floor(ts.nsec / 1000);
    pkt.linkType = iface.linkType;
    pkt.ifIndex = ifId;
    pkt.off = off;
    pkt.caplen = caplen;
    pkt.origLen = orig;
    this.packets++;
    sink.onPacket(pkt);
  }

  #readIdb(data: Uint8Array, body: number, bodyEnd: number, at: number): void {
    if (bodyEnd - body < 8) throw new CaptureFileError(this.file, at, 'truncated pcapng interface description');
    const iface: Iface = {
      linkType: this.#u16(data, body),
      snaplen: this.#u32(data, body + 4),
      units: 1e6,
      pow2: false,
      pow2Exp: 0,
      offsetSec: 0,
    };
    let p = body + 8;
    while (p + 4 <= bodyEnd) {
      const code = this.#u16(data, p);
      const olen = this.#u16(data, p + 2);
      if (code === OPT_END) break;
      const v = p + 4;
      if (v + olen > bodyEnd) throw new CaptureFileError(this.file, at, `pcapng option ${code} overruns its block (corrupt file)`);
      if (code === IF_TSRESOL && olen >= 1) {
        const r = data[v]!;
        if (r & 0x80) {
          iface.pow2 = true;
          iface.pow2Exp = r & 0x7f;
          iface.units = 2 ** iface.pow2Exp;
        } else {
          if (r > 15) throw new CaptureFileError(this.file, at, `unsupported if_tsresol 10^-${r}`);
          iface.units = 10 ** r;
        }
      } else if (code === IF_TSOFFSET && olen >= 8) {
        const lo = this.#u32(data, v + (this.#le ? 0 : 4));
        const hi = this.#u32(data, v + (this.#le ? 4 : 0)) | 0; // signed
        iface.offsetSec = hi * 4294967296 + lo;
      }
      p = v + ((olen + 3) & ~3);
    }
    this.#ifaces.push(iface);
    this.linkTypes.add(iface.linkType);
  }
}
