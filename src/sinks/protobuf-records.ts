/**
 * Record stream: FlowRecords appended to a file as length-delimited protobuf (design.md pipeline,
 * "records (protobuf + ndjson)"), for other tools and the daemon to read back.
 *
 * Format: the standard delimited stream — each record is a base-128 varint length followed by a
 * slowshake.v1.FlowRecord message (proto/slowshake.proto). No file header, so `protoc`
 * (--decode on one frame), Java parseDelimitedFrom, Go protodelim and protobufjs decodeDelimited
 * all read it. An empty file is an empty stream.
 *
 * 1. `RecordStreamWriter.open` opens (or creates, mode 0600: records hold client addresses) the
 *    file for appending. An existing file's framing is checked first: appending behind a torn
 *    last record (a writer killed mid-write, a full disk) would make every later record
 *    unreadable, so a torn tail is reported — or cut off with `repairTornTail`.
 *    `capture` opens it before dropping privileges (`owner` chowns a file it creates).
 * 2. `append` writes each record with one write(2) on an O_APPEND descriptor: nothing is buffered
 *    in the process, so a crash loses at most the record being written, and appenders in other
 *    processes do not interleave inside a record (Linux serialises O_APPEND writes to a regular
 *    file on local filesystems). Durability against power loss is separate: `fsyncEvery`
 *    fsyncs after every N records (1 = each record is on disk when append returns; 0, the
 *    default = only at close, the right choice for a one-shot `analyze`). A write that fails
 *    (a full disk) throws RecordWriteError after cutting its partial frame off again, so the
 *    stream stays readable and the next append, once there is space, goes on; only when that cut
 *    fails does the writer refuse further appends.
 * 3. `readRecordStream` yields the records of a file in order. A truncated or corrupt stream
 *    ends with a CaptureFileError naming the file and the byte offset of the bad frame, after
 *    every record before it has been yielded.
 */
import { closeSync, constants, fchownSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { FlowRecord } from '../handshake/record.js';
import { CaptureFileError } from '../sources/capture-error.js';
import { decodeRecord, encodeRecordDelimited, RecordDecodeError } from './record-codec.js';

export { decodeRecord, encodeRecord, encodeRecordDelimited, PROTO_PATH, RecordDecodeError } from './record-codec.js';

/** Largest frame accepted (records are ~0.5–4 KiB); larger lengths mean a corrupt or foreign file. */
export const MAX_RECORD_BYTES = 16 * 1024 * 1024;
const CHUNK = 1024 * 1024;

/**
 * Reads the varint length prefix at `pos` (protobuf encoding: 7 bits per byte, low first, high
 * bit = more). Returns [length, offset after the prefix], 'short' when `end` cuts the prefix, or a
 * reason string when the frame is invalid.
 */
export function readFramePrefix(buf: Uint8Array, pos: number, end: number): [number, number] | 'short' | string {
  let len = 0;
  for (let i = 0; i < 10; i++) {
    if (pos + i >= end) return 'short';
    const b = buf[pos + i]!;
    len += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) {
      if (len === 0) return 'zero-length record (a FlowRecord is never empty: zero-filled or foreign data)';
      if (len > MAX_RECORD_BYTES) return `record length ${len} exceeds the maximum (${MAX_RECORD_BYTES})`;
      return [len, pos + i + 1];
    }
  }
  return 'bad length prefix (varint longer than 10 bytes)';
}

function describeOpenError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT': return 'cannot open: no such file';
    case 'EACCES': case 'EPERM': return 'cannot open: permission denied';
    case 'EISDIR': return 'cannot open: is a directory';
    default: return `cannot open: ${err.code ?? err.message}`;
  }
}

/**
 * Walks the frames of fd's first `size` bytes by their length prefixes only (no decoding).
 * Returns null when the file ends exactly after a frame, else the offset of the first bad frame.
 */
function findBadFrame(fd: number, size: number): { offset: number; reason: string } | null {
  const buf = Buffer.allocUnsafe(CHUNK);
  let pos = 0;
  while (pos < size) {
    const n = readSync(fd, buf, 0, Math.min(CHUNK, size - pos), pos);
    let p = 0;
    for (;;) {
      const r = readFramePrefix(buf, p, n);
      if (r === 'short') {
        if (pos + n >= size) return { offset: pos + p, reason: `truncated length prefix (${n - p} bytes at the end of the file)` };
        break; // the prefix straddles the chunk: read again from it
      }
      if (typeof r === 'string') return { offset: pos + p, reason: r };
      const next = r[1] + r[0];
      if (pos + next > size) return { offset: pos + p, reason: `truncated record: ${r[0]} bytes announced, ${size - pos - r[1]} present` };
      p = next;
      if (p >= n) break;
    }
    pos += p;
  }
  return null;
}

export interface RecordStreamOptions {
  /** fsync after every N records (1 = each record durable when append returns); 0 = only at close. Default 0. */
  fsyncEvery?: number;
  /** An existing file whose last frame is torn or corrupt is cut back to its last good frame instead of refused. */
  repairTornTail?: boolean;
  /** Owner of a file this writer creates (a root process writing for the user it becomes). */
  owner?: { uid: number; gid: number };
}

/** A failed append; `cause` is the system error (ENOSPC, EIO, …). */
export class RecordWriteError extends CaptureFileError {
  constructor(file: string, offset: number, reason: string, override readonly cause: NodeJS.ErrnoException) {
    super(file, offset, reason);
  }
}

/** Appends FlowRecords to a length-delimited protobuf file. Synchronous; one owner at a time per instance. */
export class RecordStreamWriter {
  #fd: number;
  #regular: boolean;
  #fsyncEvery: number;
  #unsynced = 0;
  #failed: Error | null = null;
  /** Records and bytes appended by this writer. */
  records = 0;
  bytes = 0;
  /** Set when open cut a torn tail off an existing file (repairTornTail). */
  readonly repaired: { offset: number; droppedBytes: number; reason: string } | null = null;

  private constructor(readonly path: string, fd: number, created: boolean, opts: RecordStreamOptions) {
    this.#fd = fd;
    this.#fsyncEvery = opts.fsyncEvery ?? 0;
    const st = fstatSync(fd);
    this.#regular = st.isFile();
    if (created && opts.owner) fchownSync(fd, opts.owner.uid, opts.owner.gid);
    if (created && this.#regular) {
      // The new directory entry is made durable now, while the directory can still be opened
      // (after a privilege drop it may be out of reach, e.g. /root).
      const d = openSync(dirname(path), 'r');
      try { fsyncSync(d); } finally { closeSync(d); }
    }
    if (!this.#regular || st.size === 0) return;
    const bad = findBadFrame(fd, st.size);
    if (bad === null) return;
    if (!opts.repairTornTail) {
      closeSync(fd);
      throw new CaptureFileError(path, bad.offset, `${bad.reason}; refusing to append behind it (the records before byte ${bad.offset} are intact: truncate the file there or move it aside)`);
    }
    ftruncateSync(fd, bad.offset);
    this.repaired = { offset: bad.offset, droppedBytes: st.size - bad.offset, reason: bad.reason };
  }

  /** Opens `path` for appending, creating it with mode 0600. Throws CaptureFileError (offset 0 for open failures). */
  static open(path: string, opts: RecordStreamOptions = {}): RecordStreamWriter {
    const flags = constants.O_RDWR | constants.O_APPEND | constants.O_CREAT;
    let fd: number;
    let created = true;
    try {
      try {
        fd = openSync(path, flags | constants.O_EXCL, 0o600);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        created = false;
        fd = openSync(path, flags, 0o600);
      }
    } catch (err) {
      throw new CaptureFileError(path, 0, describeOpenError(err as NodeJS.ErrnoException), { cause: err });
    }
    return new RecordStreamWriter(path, fd, created, opts);
  }

  /**
   * Appends one record (one write(2)). A failed write throws RecordWriteError; its partial frame
   * is cut off first, so later appends can succeed (disk space returned). When the cut itself
   * fails, the tail is torn and the writer refuses every further append.
   */
  append(rec: FlowRecord): void {
    if (this.#failed) throw this.#failed;
    if (this.#fd < 0) throw new Error(`${this.path}: record stream is closed`);
    if (this.#regular && fstatSync(this.#fd).nlink === 0) {
      // Deleted under us (its directory removed): appends would succeed into a file nobody can read.
      throw new RecordWriteError(this.path, this.bytes, 'the file was removed while open; nothing appended would be kept',
        Object.assign(new Error(`${this.path}: removed while open`), { code: 'ENOENT', errno: -2 }));
    }
    const frame = encodeRecordDelimited(rec);
    let off = 0;
    try {
      while (off < frame.length) off += writeSync(this.#fd, frame, off, frame.length - off);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      const failure = new RecordWriteError(this.path, this.bytes, `write failed: ${e.code ?? e.message}`, e);
      if (off > 0) {
        // A short write left part of the frame at the end of the file (O_APPEND: ours are the
        // last `off` bytes); without this cut every later record would be unreadable.
        try {
          ftruncateSync(this.#fd, fstatSync(this.#fd).size - off);
        } catch (cutErr) {
          this.#failed = new RecordWriteError(this.path, this.bytes, `write failed: ${e.code ?? e.message}, and the partial record could not be cut off (${(cutErr as NodeJS.ErrnoException).code ?? String(cutErr)}): the stream ends torn, no further records are appended`, e);
          throw this.#failed;
        }
      }
      throw failure;
    }
    this.records++;
    this.bytes += frame.length;
    if (this.#fsyncEvery > 0 && ++this.#unsynced >= this.#fsyncEvery) this.sync();
  }

  /** fsyncs the file (the directory entry of a file this writer created was fsynced at open). */
  sync(): void {
    this.#unsynced = 0;
    if (!this.#regular || this.#fd < 0) return;
    fsyncSync(this.#fd);
  }

  /** fsyncs and closes. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    try {
      if (this.#failed === null) this.sync();
    } finally {
      closeSync(this.#fd);
      this.#fd = -1;
    }
  }
}

/**
 * Yields every record of a length-delimited record file in order. A truncated or corrupt frame
 * throws CaptureFileError(file, offset of the frame, reason) after the records before it.
 * `stats` (optional) receives the bytes consumed so far.
 */
export async function* readRecordStream(path: string, stats: { bytes: number; records: number } = { bytes: 0, records: 0 }): AsyncGenerator<FlowRecord> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    throw new CaptureFileError(path, 0, describeOpenError(err as NodeJS.ErrnoException));
  }
  const fail = (offset: number, reason: string): CaptureFileError =>
    new CaptureFileError(path, offset, offset === 0 ? `not a slowshake record stream: ${reason}` : reason);
  try {
    let buf = Buffer.allocUnsafe(CHUNK);
    let have = 0; // bytes in buf
    let base = 0; // file offset of buf[0]
    let eof = false;
    for (;;) {
      let p = 0;
      for (;;) {
        const r = readFramePrefix(buf, p, have);
        if (r === 'short') {
          if (eof && p < have) throw fail(base + p, `truncated length prefix (${have - p} bytes at the end of the file)`);
          break;
        }
        if (typeof r === 'string') throw fail(base + p, r);
        const [len, start] = r;
        if (start + len > have) {
          if (eof) throw fail(base + p, `truncated record: ${len} bytes announced, ${have - start} present`);
          if (start + len - p > buf.length) { // grow for a frame larger than the buffer
            const bigger = Buffer.allocUnsafe(start + len - p);
            buf.copy(bigger, 0, p, have);
            buf = bigger;
            base += p;
            have -= p;
            p = 0;
          }
          break;
        }
        let rec: FlowRecord;
        try {
          rec = decodeRecord(buf.subarray(start, start + len));
        } catch (err) {
          throw err instanceof RecordDecodeError ? fail(base + p, err.message) : err;
        }
        p = start + len;
        stats.bytes = base + p;
        stats.records++;
        yield rec;
      }
      if (eof) return;
      // keep the unparsed tail, refill behind it
      buf.copy(buf, 0, p, have);
      base += p;
      have -= p;
      const { bytesRead } = await fh.read(buf, have, buf.length - have, base + have);
      if (bytesRead === 0) eof = true;
      have += bytesRead;
    }
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (err instanceof CaptureFileError || typeof e?.syscall !== 'string') throw err; // not an I/O error
    if (e.code === 'EISDIR') throw new CaptureFileError(path, 0, 'cannot read: is a directory');
    throw new CaptureFileError(path, stats.bytes, `read failed: ${e.code ?? e.message}`);
  } finally {
    await fh.close();
  }
}

/** Every record of a file, plus the error that ended it early (records before it are kept). */
export async function readRecordFile(path: string): Promise<{ records: FlowRecord[]; bytes: number; error: CaptureFileError | null }> {
  const records: FlowRecord[] = [];
  const stats = { bytes: 0, records: 0 };
  try {
    for await (const r of readRecordStream(path, stats)) records.push(r);
  } catch (err) {
    if (err instanceof CaptureFileError) return { records, bytes: stats.bytes, error: err };
    throw err;
  }
  return { records, bytes: stats.bytes, error: null };
}
