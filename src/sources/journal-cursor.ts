/**
 * The journal cursor of a daemon, kept in its state directory so a restart resumes exactly after
 * the last entry it handled (journalctl --after-cursor): the JournalFollower's `cursor` option on
 * start, `update()` after an entry's work is done, `flush()` at stop. Each save is a temp file,
 * two fsyncs and a rename (~0.5 ms here), so `update` writes at most once per `minIntervalMs`:
 * after a crash up to that much is read again, and the correlator's de-duplication drops the
 * repeats. The file is JSON, `{"version":1,"cursor":"…"}`, replaced atomically
 * (sinks/state-file.ts); a failed save is counted and kept for the log, and the next one tries again.
 */
import { readStateFile, StateFileError, writeStateFile } from '../sinks/state-file.js';

export interface CursorStoreStats {
  saves: number;
  failures: number;
  lastError: string | null;
}

export class JournalCursorStore {
  readonly stats: CursorStoreStats = { saves: 0, failures: 0, lastError: null };
  #saved: string | null = null;
  #pending: string | null = null;
  #lastSaveMs = -Infinity;

  constructor(readonly path: string, readonly minIntervalMs = 1000) {}

  /** The saved cursor, or null when none was saved yet. StateFileError when the file is damaged. */
  load(): string | null {
    const text = readStateFile(this.path);
    if (text === null) return null;
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch {
      throw new StateFileError(this.path, 'not a slowshake journal cursor file (not JSON); move it aside to start from the journal\'s tail');
    }
    const o = v as { version?: unknown; cursor?: unknown };
    if (typeof v !== 'object' || v === null || o.version !== 1 || typeof o.cursor !== 'string' || o.cursor === '') {
      throw new StateFileError(this.path, 'not a slowshake journal cursor file (expected {"version":1,"cursor":"…"}); move it aside to start from the journal\'s tail');
    }
    this.#saved = o.cursor;
    return o.cursor;
  }

  /** The newest handled entry's cursor: saved now if the last save is `minIntervalMs` old, else by a later update or flush. */
  update(cursor: string, nowMs: number): void {
    this.#pending = cursor;
    if (nowMs - this.#lastSaveMs >= this.minIntervalMs) {
      this.#lastSaveMs = nowMs;
      if (this.save(cursor)) this.#pending = null;
    }
  }

  /** Saves what update() still holds (at stop, and on the status clock). */
  flush(): boolean {
    if (this.#pending === null) return true;
    const ok = this.save(this.#pending);
    if (ok) this.#pending = null;
    return ok;
  }

  /** Saves `cursor` now unless it is already the saved one; false (counted) when it could not be written. */
  save(cursor: string): boolean {
    if (cursor === this.#saved) return true;
    try {
      writeStateFile(this.path, JSON.stringify({ version: 1, cursor }) + '\n');
    } catch (err) {
      this.stats.failures++;
      this.stats.lastError = `${this.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
      return false;
    }
    this.#saved = cursor;
    this.stats.saves++;
    return true;
  }
}
