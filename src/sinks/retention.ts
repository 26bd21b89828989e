/**
 * Retention of an evidence directory (issue 9 §5): bounded by total bytes and by age, oldest
 * deleted first, every deletion counted.
 *
 * 1. `scan()` (at start) lists the files slowshake wrote there before (isOutName: per-flow
 *    pcap/pcapng/json, snapshots) with their sizes and modification times; nothing else in the
 *    directory is ever touched or counted.
 * 2. `added(name)` records a file the sinks just wrote (newest last).
 * 3. `enforce(nowMs)` (on the status clock, never per packet) deletes the oldest files while the
 *    total is above `maxBytes` or the oldest is older than `maxAgeMs`. A flow's pcap and its
 *    .json share a name stem and go together (one map lookup per stem), so no record is left
 *    without its capture or the reverse. The newest stem is never deleted for the byte bound: a
 *    single file larger than the bound (a whole-ring snapshot) is counted as `oversize` instead of
 *    emptying the directory for it. A deletion that fails is counted with its error and the file
 *    is dropped from the books (retrying a broken file forever would stall retention).
 */
import { lstatSync, readdirSync, unlinkSync } from 'node:fs';
import { isOutName, OutputDir } from './pcap-writer.js';

export interface RetentionOptions {
  /** Total bytes the directory's evidence may take; null: no bound. */
  maxBytes: number | null;
  /** Oldest evidence kept, in ms; null: no bound. */
  maxAgeMs: number | null;
}

export interface RetentionStats {
  files: number;
  bytes: number;
  deletedFiles: number;
  deletedBytes: number;
  deleteFailures: number;
  /** Times the newest evidence alone was larger than maxBytes (kept, not deleted). */
  oversize: number;
  lastError: string | null;
}

interface Entry { name: string; stem: string; bytes: number; mtimeMs: number }

const stemOf = (name: string): string => name.replace(/\.(?:pcapng|pcap|json)$/, '');

export class EvidenceRetention {
  readonly stats: RetentionStats = { files: 0, bytes: 0, deletedFiles: 0, deletedBytes: 0, deleteFailures: 0, oversize: 0, lastError: null };
  readonly #dir: OutputDir;
  /** Oldest first; deleted entries stay until #head passes them (bytes = -1). */
  #files: Entry[] = [];
  #head = 0;
  /** Entries of each name stem still on the books. */
  #stems = new Map<string, Entry[]>();

  constructor(dir: OutputDir | string, readonly opts: RetentionOptions) {
    this.#dir = typeof dir === 'string' ? new OutputDir(dir) : dir;
  }

  /** Takes stock of the evidence already in the directory (a missing directory holds none). */
  scan(): void {
    let names: string[];
    try { names = readdirSync(this.#dir.at('.')); } catch { names = []; }
    const found: Entry[] = [];
    for (const name of names) {
      if (!isOutName(name)) continue;
      const e = this.#stat(name);
      if (e !== null) found.push(e);
    }
    found.sort((a, b) => a.mtimeMs - b.mtimeMs || (a.name < b.name ? -1 : 1));
    this.#files = [];
    this.#head = 0;
    this.#stems.clear();
    this.stats.files = 0;
    this.stats.bytes = 0;
    for (const e of found) this.#book(e);
  }

  /** A file the sinks wrote just now (its name inside the directory). */
  added(name: string): void {
    const e = this.#stat(name);
    if (e !== null) this.#book(e);
  }

  #book(e: Entry): void {
    this.#files.push(e);
    const list = this.#stems.get(e.stem);
    if (list) list.push(e);
    else this.#stems.set(e.stem, [e]);
    this.stats.files++;
    this.stats.bytes += e.bytes;
  }

  /** Deletes the oldest evidence while a bound is exceeded; returns the files deleted. */
  enforce(nowMs: number): number {
    const { maxBytes, maxAgeMs } = this.opts;
    const newest = this.#files.length > 0 ? this.#files[this.#files.length - 1]!.stem : null;
    let deleted = 0;
    while (this.#head < this.#files.length) {
      const oldest = this.#files[this.#head]!;
      if (oldest.bytes < 0) { this.#head++; continue; }
      const overBytes = maxBytes !== null && this.stats.bytes > maxBytes;
      const overAge = maxAgeMs !== null && nowMs - oldest.mtimeMs > maxAgeMs;
      if (!overBytes && !overAge) break;
      if (!overAge && oldest.stem === newest) { this.stats.oversize++; break; } // only the newest is left: keep it
      for (const e of this.#stems.get(oldest.stem) ?? []) {
        if (this.#delete(e)) deleted++;
        this.stats.files--;
        this.stats.bytes -= e.bytes;
        e.bytes = -1; // gone from the books
      }
      this.#stems.delete(oldest.stem);
    }
    if (this.#head > 1024 && this.#head * 2 > this.#files.length) { this.#files = this.#files.slice(this.#head); this.#head = 0; }
    return deleted;
  }

  #delete(e: Entry): boolean {
    try {
      unlinkSync(this.#dir.at(e.name));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return false; // removed by someone else: nothing to count
      this.stats.deleteFailures++;
      this.stats.lastError = `${this.#dir.shown(e.name)}: ${code ?? (err as Error).message}`;
      return false;
    }
    this.stats.deletedFiles++;
    this.stats.deletedBytes += e.bytes;
    return true;
  }

  #stat(name: string): Entry | null {
    try {
      const st = lstatSync(this.#dir.at(name));
      if (!st.isFile()) return null;
      return { name, stem: stemOf(name), bytes: st.size, mtimeMs: st.mtimeMs };
    } catch {
      return null;
    }
  }
}
