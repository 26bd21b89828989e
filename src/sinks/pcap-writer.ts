/**
 * Per-flow pcap writer: classic pcap with nanosecond timestamps (magic 0xA1B23C4D), written
 * atomically — temp name in the same directory, fsync, rename, directory fsync — as 0600 files
 * inside 0700 directories, because captures hold client addresses.
 *
 * For `capture`'s privilege drop (issue 8) the writers can be set up while still root:
 * - `OutputDir.hold` keeps a directory fd, so a directory the dropped user owns stays usable
 *   below a parent it cannot enter (`/root/spot`); files are still written atomically in it.
 * - `PreopenedFile.create` opens the target itself, for a directory the dropped user cannot
 *   write at all (`--dump-ring /root/ring.pcapng`): what tcpdump does with its -w file.
 * - `ensurePrivateDir(dir, owner)` chowns the directories it creates.
 * - `removeStaleTemps` deletes the `.NAME.PID.tmp` files a SIGKILLed writer left behind (only
 *   names slowshake writes, only files of the user it writes as).
 */
import { closeSync, constants, fchownSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, statSync, writeSync, chmodSync, chownSync, existsSync, unlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { getSystemErrorMap } from 'node:util';
import type { KeptPacket } from '../handshake/tracker.js';

const MAGIC_NS = 0xa1b23c4d;

/** Who owns what a root process creates on behalf of the user it will become. */
export interface FileOwner {
  uid: number;
  gid: number;
}

/**
 * Creates `dir` (0700, and its missing parents 0700) when missing; with `owner`, chowns every
 * directory it created. Returns whether it created any. A path that exists and is not a
 * directory throws with code ENOTDIR.
 */
export function ensurePrivateDir(dir: string, owner?: FileOwner): boolean {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw Object.assign(new Error(`${dir}: exists and is not a directory`), { code: 'ENOTDIR' });
    return false;
  }
  const first = mkdirSync(dir, { recursive: true, mode: 0o700 }) ?? dir;
  // mkdir's mode passes through the umask: set it, and the owner, on each directory made here.
  for (let d = dir; ; d = dirname(d)) {
    chmodSync(d, 0o700);
    if (owner) chownSync(d, owner.uid, owner.gid);
    if (d === first || dirname(d) === d) break;
  }
  return true;
}

/**
 * A directory the writers put files in, by path or through a directory fd held since before a
 * privilege drop. Node has no openat(2), so a held directory's files are named
 * /proc/self/fd/N/NAME: the magic link resolves to the directory without searching its
 * ancestors, so `/root/spot`, chowned to the dropped user, stays writable although /root is
 * 0700; the kernel lets a process use its own /proc/self/fd after setuid (fs/proc/fd.c
 * proc_fd_permission: same thread group). Rename stays inside the directory, so writes stay
 * atomic. Paths shown to the user (`shown`) are always the real ones.
 */
export class OutputDir {
  readonly #fd: number | null;

  constructor(readonly path: string, fd: number | null = null) {
    this.#fd = fd;
  }

  /** Opens and keeps a directory fd for `path` (before a privilege drop). */
  static hold(path: string): OutputDir {
    return new OutputDir(path, openSync(path, constants.O_RDONLY | constants.O_DIRECTORY));
  }

  get held(): boolean {
    return this.#fd !== null;
  }

  /** The name to use in system calls for `name` inside this directory. */
  at(name: string): string {
    return this.#fd === null ? join(this.path, name) : `/proc/self/fd/${this.#fd}/${name}`;
  }

  /** The real path of `name` inside this directory. */
  shown(name: string): string {
    return join(this.path, name);
  }

  /** Creates the directory (0700) when it is not held and missing: a quiet run leaves nothing. */
  ensure(): void {
    if (this.#fd === null) ensurePrivateDir(this.path);
  }

  /** fsyncs the directory (makes a rename durable). */
  sync(): void {
    if (this.#fd !== null) { fsyncSync(this.#fd); return; }
    const dfd = openSync(this.path, constants.O_RDONLY);
    try { fsyncSync(dfd); } finally { closeSync(dfd); }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
  }
}

/** `name` in `dir`, or `name-1`, `name-2`, … before the extension: existing files are never replaced. */
function uniqueName(dir: OutputDir, name: string): string {
  let final = name;
  for (let i = 1; existsSync(dir.at(final)); i++) final = name.replace(/(\.[a-z]+)$/, `-${i}$1`);
  return final;
}

/**
 * A capture file opened (created, 0600, chowned to `owner`) before a privilege drop in a
 * directory the dropped user cannot write: after the drop, neither a temp file nor a rename is
 * possible there, so the file is written in place, as tcpdump writes its -w file (a crash
 * mid-write leaves a partial file under the final name). Used once, by an AtomicCaptureWriter.
 */
export class PreopenedFile {
  private constructor(readonly path: string, readonly fd: number) {}

  static create(dir: string, name: string, owner?: FileOwner): PreopenedFile {
    const d = new OutputDir(dir);
    for (;;) {
      const final = uniqueName(d, name);
      let fd: number;
      try {
        fd = openSync(d.at(final), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // created meanwhile
        throw err;
      }
      if (owner) fchownSync(fd, owner.uid, owner.gid);
      d.sync();
      return new PreopenedFile(d.shown(final), fd);
    }
  }
}

/** `.NAME.PID.tmp`: the temp name a writer here gives NAME while writing it. */
const TEMP_RE = /^\.(.+)\.(\d+)\.tmp$/;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, another user's
  }
}

/**
 * Removes the temp files our writers leave when killed mid-write: `.NAME.PID.tmp` where `ours`
 * accepts NAME (a name slowshake writes in this directory, e.g. isOutName), the file is a regular
 * file owned by `uid` (the user slowshake writes as), and PID no longer runs. Anything else —
 * another program's temp file in a shared directory such as /tmp, another user's, a live
 * process's — is left alone. Call at start, before this process writes: a file carrying our own
 * PID is then from an earlier process that had it. (PIDs are those of this PID namespace.)
 * Returns the names removed.
 */
export function removeStaleTemps(dir: OutputDir, uid: number, ours: (name: string) => boolean): string[] {
  let names: string[];
  try { names = readdirSync(dir.at('')); } catch { return []; }
  const removed: string[] = [];
  for (const n of names) {
    const m = TEMP_RE.exec(n);
    if (!m || !ours(m[1]!)) continue;
    const pid = Number(m[2]);
    if (pid !== process.pid && pidAlive(pid)) continue;
    try {
      const st = lstatSync(dir.at(n));
      if (!st.isFile() || st.uid !== uid) continue;
      unlinkSync(dir.at(n));
      removed.push(n);
    } catch { /* raced, or not ours to remove */ }
  }
  return removed;
}

/** The errno name of a failed write (ENOSPC, EACCES, …), else the error's own code or name. */
export function errorCause(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown }; name?: string } | null;
  if (typeof e?.cause?.code === 'string' && /^E[A-Z0-9]+$/.test(e.cause.code)) return e.cause.code;
  if (typeof e?.code === 'string') return e.code;
  return e?.name ?? 'Error';
}

let errnoText: Map<string, string> | null = null;

/** "ENOSPC (no space left on device)" for system errors, else the error's message. */
export function describeError(err: unknown): string {
  const cause = errorCause(err);
  if (errnoText === null) {
    errnoText = new Map();
    for (const [name, text] of getSystemErrorMap().values()) errnoText.set(name, text);
  }
  const text = errnoText.get(cause);
  return text !== undefined ? `${cause} (${text})` : `${cause}: ${(err as Error)?.message ?? String(err)}`;
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

/** A SIGUSR1 whole-ring snapshot's file name: snapshot-2026-01-01T00-00-00-000Z.pcap. */
export function snapshotFileName(at: Date): string {
  return `snapshot-${at.toISOString().replace(/[:.]/g, '-')}.pcap`;
}

const FLOW_NAME_RE = /^\d{8}T\d{6}\.\d{6}Z_[0-9A-Za-z.\-_]+_[0-9A-Za-z.\-_]+\.(?:pcapng|pcap|json)$/;
const SNAPSHOT_NAME_RE = /^snapshot-\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z\.pcap$/;

/** A name slowshake writes into an output directory (flowFileName, its .json, snapshotFileName). */
export function isOutName(name: string): boolean {
  return FLOW_NAME_RE.test(name) || SNAPSHOT_NAME_RE.test(name);
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

/**
 * Writes `bytes` to dir/name atomically with mode 0600; picks a unique name. Returns the final
 * path. On failure the temp file is removed and the error thrown.
 */
export function writeFileAtomic(dir: string | OutputDir, name: string, bytes: Uint8Array): string {
  const d = typeof dir === 'string' ? new OutputDir(dir) : dir;
  const final = uniqueName(d, name);
  writeAndRename(d.at(`.${name}.${process.pid}.tmp`), d.at(final), bytes);
  d.sync();
  return d.shown(final);
}

/**
 * Writes `bytes` to `tmp` (0600), fsyncs it and renames it to `final` (replacing it); the temp
 * file is removed when anything fails. The caller fsyncs the directory.
 */
export function writeAndRename(tmp: string, final: string, bytes: Uint8Array): void {
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
  try {
    try {
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, final);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* gone */ }
    throw err;
  }
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
 * The staging buffer writers share: a fresh 4 MiB Buffer per file is external memory V8 counts,
 * and watch writing ten flow pcaps a second drove a full mark-compact every ~250 ms (measured
 * with --trace-gc: 27 in 8 s, against 1 without evidence; about a quarter of a core). Writers
 * run synchronously, one at a time in practice; one opened while another holds the buffer gets
 * its own.
 */
let sharedStage: Buffer | null = null;
let sharedStageBusy = false;

/**
 * Streams packets into a pcap (ns) or pcapng (if_tsresol 9) file written atomically: a hidden
 * temp file in the target directory (0600), fsync, rename, directory fsync on close(); abort()
 * removes the temp file. Packets of another link type than the first are skipped and counted.
 * pcapng carries comments: a section comment and per-packet comments, each cut to the 65535
 * bytes an option can hold (pcapng §3.5: 16-bit option length) with a marker saying so.
 * Given a PreopenedFile, it writes that file in place instead (no temp file, no rename).
 */
export class AtomicCaptureWriter {
  readonly #fd: number;
  /** Temp file (null: writing a PreopenedFile in place). */
  readonly #tmp: string | null;
  readonly #final: string;
  readonly #finalAt: string;
  readonly #dir: OutputDir | null;
  #shared = !sharedStageBusy;
  #buf = this.#shared ? (sharedStageBusy = true, sharedStage ??= Buffer.allocUnsafe(STAGE)) : Buffer.allocUnsafe(STAGE);
  #used = 0;
  #linkType = -1;
  packets = 0;
  skipped = 0;

  constructor(target: string | OutputDir | PreopenedFile, name: string, readonly format: 'pcap' | 'pcapng', readonly sectionComment = '', readonly snaplen = 262144,
    /** Link type written for a file that ends up with no packets. */
    readonly emptyLinkType = 1) {
    if (target instanceof PreopenedFile) {
      this.#dir = null;
      this.#final = this.#finalAt = target.path;
      this.#tmp = null;
      this.#fd = target.fd;
      return;
    }
    const dir = typeof target === 'string' ? new OutputDir(target) : target;
    this.#dir = dir;
    const final = uniqueName(dir, name);
    this.#final = dir.shown(final);
    this.#finalAt = dir.at(final);
    this.#tmp = dir.at(`.${name}.${process.pid}.tmp`);
    try {
      this.#fd = openSync(this.#tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, 0o600);
    } catch (err) {
      this.#release();
      throw err;
    }
  }

  /** Gives the shared staging buffer back (one grown for a huge packet is private anyway). */
  #release(): void {
    if (this.#shared) { sharedStageBusy = false; this.#shared = false; }
  }

  /** The path the file gets on close(). */
  get path(): string {
    return this.#final;
  }

  #ensure(n: number): void {
    if (this.#used + n <= this.#buf.length) return;
    this.#flush();
    if (n > this.#buf.length) { this.#release(); this.#buf = Buffer.allocUnsafe(n); }
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
    const comment = optionText(this.sectionComment);
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
      const c = comment ? optionText(comment) : null;
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
    try {
      if (this.#linkType < 0) this.#header(this.emptyLinkType); // empty capture: still a valid file
      this.#flush();
    } finally {
      this.#release();
    }
    fsyncSync(this.#fd);
    closeSync(this.#fd);
    if (this.#tmp !== null) {
      renameSync(this.#tmp, this.#finalAt);
      this.#dir!.sync();
    }
    return this.#final;
  }

  /** Gives up: removes the temp file (a PreopenedFile keeps what was written). */
  abort(): void {
    this.#release();
    try { closeSync(this.#fd); } catch { /* already closed */ }
    if (this.#tmp !== null) { try { unlinkSync(this.#tmp); } catch { /* gone */ } }
  }
}

/** Longest option value: the option length is a 16-bit field (pcapng §3.5). */
export const MAX_OPTION_BYTES = 0xffff;

/**
 * UTF-8 bytes of a comment option, cut to MAX_OPTION_BYTES at a character boundary with a
 * marker naming how much was kept (a journal MESSAGE can be far longer than an option holds).
 */
export function optionText(text: string): Buffer {
  const b = Buffer.from(text, 'utf8');
  if (b.length <= MAX_OPTION_BYTES) return b;
  const marker = (kept: number): string => ` [comment truncated by slowshake: ${kept} of ${b.length} bytes kept]`;
  let kept = MAX_OPTION_BYTES - Buffer.byteLength(marker(MAX_OPTION_BYTES));
  while (kept > 0 && (b[kept]! & 0xc0) === 0x80) kept--; // not inside a UTF-8 sequence
  return Buffer.concat([b.subarray(0, kept), Buffer.from(marker(kept), 'utf8')]);
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
