/**
 * Per-flow pcap writer: classic pcap with nanosecond timestamps (magic 0xA1B23C4D), written
 * atomically — temp name in the same directory, fsync, rename, directory fsync — as 0600 files
 * inside 0700 directories, because captures hold client addresses.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, statSync, writeSync, chmodSync, existsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { KeptPacket } from '../handshake/tracker.js';

const MAGIC_NS = 0xa1b23c4d;

/** Creates `dir` (0700) when missing. Returns whether it was created. */
export function ensurePrivateDir(dir: string): boolean {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new Error(`${dir}: exists and is not a directory`);
    return false;
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  return true;
}

/** File-name-safe endpoint: IPv6 colons become dashes, brackets go. */
export function safeEndpoint(ep: string): string {
  return ep.replace(/^\[/, '').replace(/\]:(\d+)$/, '.$1').replace(/:(\d+)$/, '.$1').replace(/[:]/g, '-').replace(/[^0-9A-Za-z.\-_]/g, '_');
}

export function flowFileName(startUs: number, client: string, server: string, ext = 'pcap'): string {
  const iso = new Date(Math.floor(startUs / 1000)).toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, '');
  const frac = String(startUs % 1_000_000).padStart(6, '0');
  return `${iso}.${frac}Z_${safeEndpoint(client)}_${safeEndpoint(server)}.${ext}`;
}

/** Serialises packets of one link type as a pcap file image. Packets of another link type are skipped. */
export function buildPcap(packets: readonly KeptPacket[], linkType: number, snaplen = 262144): { bytes: Buffer; skipped: number } {
  let size = 24;
  let skipped = 0;
  for (const p of packets) if (p.linkType === linkType) size += 16 + p.data.length;
  const out = Buffer.allocUnsafe(size);
  out.writeUInt32LE(MAGIC_NS, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt16LE(4, 6);
  out.writeInt32LE(0, 8);
  out.writeUInt32LE(0, 12);
  out.writeUInt32LE(snaplen, 16);
  out.writeUInt32LE(linkType, 20);
  let o = 24;
  for (const p of packets) {
    if (p.linkType !== linkType) { skipped++; continue; }
    out.writeUInt32LE(p.tsSec >>> 0, o);
    out.writeUInt32LE(p.tsNsec, o + 4);
    out.writeUInt32LE(p.data.length, o + 8);
    out.writeUInt32LE(Math.max(p.origLen, p.data.length), o + 12);
    out.set(p.data, o + 16);
    o += 16 + p.data.length;
  }
  return { bytes: out, skipped };
}

/** Writes `bytes` to dir/name atomically with mode 0600; picks a unique name. Returns the final path. */
export function writeFileAtomic(dir: string, name: string, bytes: Uint8Array): string {
  let final = join(dir, name);
  for (let i = 1; existsSync(final); i++) final = join(dir, name.replace(/(\.[a-z]+)$/, `-${i}$1`));
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, final);
  const dfd = openSync(dir, constants.O_RDONLY);
  try { fsyncSync(dfd); } finally { closeSync(dfd); }
  return final;
}

/** What the capture writers need of a packet (KeptPacket and RingPacket both fit). */
export interface PcapPacket {
  tsSec: number;
  tsNsec: number;
  origLen: number;
  linkType: number;
  data: Uint8Array;
}

const STAGE = 4 * 1024 * 1024;

/**
 * Streams packets into a pcap (ns) or pcapng (if_tsresol 9) file written atomically: a hidden
 * temp file in the target directory (0600), fsync, rename, directory fsync on close(); abort()
 * removes the temp file. Packets of another link type than the first are skipped and counted.
 * pcapng carries comments: a section comment and per-packet comments.
 */
export class AtomicCaptureWriter {
  readonly #fd: number;
  readonly #tmp: string;
  readonly #final: string;
  readonly #dir: string;
  #buf = Buffer.allocUnsafe(STAGE);
  #used = 0;
  #linkType = -1;
  packets = 0;
  skipped = 0;

  constructor(dir: string, name: string, readonly format: 'pcap' | 'pcapng', readonly sectionComment = '', readonly snaplen = 262144,
    /** Link type written for a file that ends up with no packets. */
    readonly emptyLinkType = 1) {
    this.#dir = dir;
    let final = join(dir, name);
    for (let i = 1; existsSync(final); i++) final = join(dir, name.replace(/(\.[a-z]+)$/, `-${i}$1`));
    this.#final = final;
    this.#tmp = join(dir, `.${name}.${process.pid}.tmp`);
    this.#fd = openSync(this.#tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  }

  #ensure(n: number): void {
    if (this.#used + n <= this.#buf.length) return;
    this.#flush();
    if (n > this.#buf.length) this.#buf = Buffer.allocUnsafe(n);
  }

  #flush(): void {
    let off = 0;
    while (off < this.#used) off += writeSync(this.#fd, this.#buf, off, this.#used - off);
    this.#used = 0;
  }

  #header(linkType: number): void {
    const b = this.#buf;
    if (this.format === 'pcap') {
      this.#ensure(24);
      let o = this.#used;
      b.writeUInt32LE(MAGIC_NS, o); b.writeUInt16LE(2, o + 4); b.writeUInt16LE(4, o + 6);
      b.writeInt32LE(0, o + 8); b.writeUInt32LE(0, o + 12); b.writeUInt32LE(this.snaplen, o + 16); b.writeUInt32LE(linkType, o + 20);
      this.#used += 24;
      return;
    }
    const comment = Buffer.from(this.sectionComment, 'utf8');
    const appl = Buffer.from('slowshake', 'utf8');
    // SHB: 24 fixed bytes, options (comment, userappl, end), trailing length.
    const shbLen = 24 + (comment.length ? 4 + pad4(comment.length) : 0) + 4 + pad4(appl.length) + 4 + 4;
    this.#ensure(shbLen + 32);
    let o = this.#used;
    b.writeUInt32LE(0x0a0d0d0a, o); b.writeUInt32LE(shbLen, o + 4); b.writeUInt32LE(0x1a2b3c4d, o + 8);
    b.writeUInt16LE(1, o + 12); b.writeUInt16LE(0, o + 14); b.writeInt32LE(-1, o + 16); b.writeInt32LE(-1, o + 20);
    o += 24;
    if (comment.length) o = writeOpt(b, o, 1, comment);
    o = writeOpt(b, o, 4, appl); // shb_userappl
    b.writeUInt32LE(0, o); o += 4; // opt_endofopt
    b.writeUInt32LE(shbLen, o); o += 4;
    // IDB with if_tsresol = 9 (nanoseconds)
    const idbLen = 16 + 8 + 4 + 4; // fixed 16, if_tsresol option 8, end 4, trailer 4
    b.writeUInt32LE(1, o); b.writeUInt32LE(idbLen, o + 4); b.writeUInt16LE(linkType, o + 8); b.writeUInt16LE(0, o + 10);
    b.writeUInt32LE(this.snaplen, o + 12); o += 16;
    b.writeUInt16LE(9, o); b.writeUInt16LE(1, o + 2); b.writeUInt32LE(9, o + 4); o += 8; // if_tsresol: 10^-9
    b.writeUInt32LE(0, o); o += 4;
    b.writeUInt32LE(idbLen, o); o += 4;
    this.#used = o;
  }

  write(p: PcapPacket, comment = ''): void {
    if (this.#linkType < 0) {
      this.#linkType = p.linkType;
      this.#header(p.linkType);
    }
    if (p.linkType !== this.#linkType) { this.skipped++; return; }
    const n = p.data.length;
    const b = this.#buf;
    if (this.format === 'pcap') {
      this.#ensure(16 + n);
      const o = this.#used;
      b.writeUInt32LE(p.tsSec >>> 0, o); b.writeUInt32LE(p.tsNsec, o + 4); b.writeUInt32LE(n, o + 8);
      b.writeUInt32LE(Math.max(p.origLen, n), o + 12);
      b.set(p.data, o + 16);
      this.#used += 16 + n;
    } else {
      const c = comment ? Buffer.from(comment, 'utf8') : null;
      const optLen = c ? 4 + pad4(c.length) + 4 : 0;
      const len = 28 + pad4(n) + optLen + 4;
      this.#ensure(len);
      let o = this.#used;
      const ts = BigInt(p.tsSec) * 1_000_000_000n + BigInt(p.tsNsec);
      b.writeUInt32LE(6, o); b.writeUInt32LE(len, o + 4); b.writeUInt32LE(0, o + 8);
      b.writeUInt32LE(Number(ts >> 32n), o + 12); b.writeUInt32LE(Number(ts & 0xffffffffn), o + 16);
      b.writeUInt32LE(n, o + 20); b.writeUInt32LE(Math.max(p.origLen, n), o + 24);
      o += 28;
      b.set(p.data, o);
      b.fill(0, o + n, o + pad4(n));
      o += pad4(n);
      if (c) { o = writeOpt(b, o, 1, c); b.writeUInt32LE(0, o); o += 4; }
      b.writeUInt32LE(len, o); o += 4;
      this.#used = o;
    }
    this.packets++;
  }

  /** Flushes, fsyncs, renames into place, fsyncs the directory. Returns the final path. */
  close(): string {
    if (this.#linkType < 0) this.#header(this.emptyLinkType); // empty capture: still a valid file
    this.#flush();
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    renameSync(this.#tmp, this.#final);
    const dfd = openSync(this.#dir, constants.O_RDONLY);
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
    return this.#final;
  }

  abort(): void {
    try { closeSync(this.#fd); } catch { /* already closed */ }
    try { unlinkSync(this.#tmp); } catch { /* gone */ }
  }
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

function writeOpt(b: Buffer, o: number, code: number, v: Buffer): number {
  b.writeUInt16LE(code, o); b.writeUInt16LE(v.length, o + 2);
  v.copy(b, o + 4);
  b.fill(0, o + 4 + v.length, o + 4 + pad4(v.length));
  return o + 4 + pad4(v.length);
}
