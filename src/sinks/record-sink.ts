/**
 * The record stream (--records) as `analyze` and `capture` write it: every record appended
 * through LostResults, so a failed append (a full disk, a file removed under us) never loses the
 * record elsewhere — it goes on saying "record not appended to the record stream: ERROR: PATH"
 * in `reason`, counted under "records" by cause — and the next append tries again.
 *
 * 1. The stream is either opened at start (an existing file is checked there; capture opens it
 *    before dropping root) or, given none, created at the first record (a run that makes no
 *    record leaves no file), its directory too (0700).
 * 2. close() fsyncs. A failed final fsync is its own cause ("records fsync") and only when this
 *    run appended something: then what was appended may not be on disk. With nothing appended
 *    there is nothing to lose (a --records file that cannot be fsynced, such as /proc/version,
 *    is not a lost result).
 */
import { dirname } from 'node:path';
import type { FlowRecord } from '../handshake/record.js';
import type { LostResults } from './lost-results.js';
import { ensurePrivateDir } from './pcap-writer.js';
import { RecordStreamWriter } from './protobuf-records.js';

export class RecordSink {
  #writer: RecordStreamWriter | null;

  /** `writer`: the stream opened at start, or null to create `path` at the first record. */
  constructor(readonly path: string, writer: RecordStreamWriter | null, readonly lost: LostResults) {
    this.#writer = writer;
  }

  /** The stream file is open (opened at start, or created by an append). */
  get opened(): boolean {
    return this.#writer !== null;
  }

  /** Records appended by this run. */
  get appended(): number {
    return this.#writer?.records ?? 0;
  }

  /** Appends `rec`; a failure is noted on it and counted (see the file comment). */
  append(rec: FlowRecord): void {
    this.lost.attempt(rec, 'records', 'record not appended to the record stream', this.path, () => {
      if (this.#writer === null) {
        ensurePrivateDir(dirname(this.path));
        this.#writer = RecordStreamWriter.open(this.path);
      }
      this.#writer.append(rec);
    });
  }

  /** fsyncs and closes; returns the error of a failed final fsync that put appended records at risk, else null. */
  close(): unknown {
    const w = this.#writer;
    if (w === null) return null;
    try {
      w.close();
      return null;
    } catch (err) {
      if (w.records === 0) return null; // nothing of this run to lose
      this.lost.add('records fsync', this.path, err);
      return err;
    }
  }
}
