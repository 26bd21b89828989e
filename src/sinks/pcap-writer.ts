/**
 * Per-flow pcap writer: classic pcap with nanosecond timestamps (magic 0xA1B23C4D), written
 * atomically — temp name in the same directory, fsync, rename, directory fsync — as 0600 files
 * inside 0700 directories, because captures hold client addresses.
 */
import { closeSync, constants, fsyncSync, mkdirSync, openSync, renameSync, statSync, writeSync, chmodSync, existsSync } from 'node:fs';
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
