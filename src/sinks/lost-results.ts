/**
 * Results that did not get written, for `analyze` and `capture` alike (issue 8: nothing lost
 * silently when a write fails).
 *
 * 1. Every write of a result goes through `attempt` (or `note`, for a writer that cleans up
 *    first): when it throws, the record goes on with `reason` naming what, the error and the
 *    path ("pcap not written: ENOSPC (no space left on device): PATH"), the failure is counted by
 *    what and cause, and the run carries on: the next write is tried again (space may return).
 * 2. Failures without a record (a snapshot, the ring dump) are counted with `add`; results lost
 *    for other reasons (events dropped with a full queue) with `lose`, a bug with `lose(…, bug)`.
 * 3. `summary` and `headline` say it all at the end; the command exits EXIT_RESULTS_LOST when
 *    anything was lost (EXIT_INTERNAL when a bug was among it).
 * Memory is bounded: counts by cause, the first path per what, the first 20 records.
 */
import type { FlowRecord } from '../handshake/record.js';
import { describeError, errorCause } from './pcap-writer.js';

/** Records with a failed write listed by name in the summary (the rest are counted). */
const LISTED = 20;

interface Lost { n: number; detail: string; bug: boolean }

export class LostResults {
  #counts = new Map<string, Map<string, number>>();
  #first = new Map<string, string>();
  #other = new Map<string, Lost>();
  #lastRecord: FlowRecord | null = null;
  /** The first records whose writes failed (each says why in `reason`). */
  readonly failedRecords: FlowRecord[] = [];
  /** Records with at least one failed write. */
  failedRecordCount = 0;

  /**
   * Runs `write`; when it throws, notes the failure on `rec` ("TEXT: ERROR: PATH") and counts it
   * under `what` by its cause. Returns what `write` returned, or undefined when it failed.
   */
  attempt<T>(rec: FlowRecord | null, what: string, text: string, path: string, write: () => T): T | undefined {
    try {
      return write();
    } catch (err) {
      this.note(rec, what, text, path, err);
      return undefined;
    }
  }

  /** Notes a failed write `err` on `rec` (when given) and counts it (see attempt). */
  note(rec: FlowRecord | null, what: string, text: string, path: string, err: unknown): void {
    this.add(what, path, err);
    if (rec === null) return;
    const line = `${text}: ${describeError(err)}: ${path}`;
    rec.reason = rec.reason ? `${rec.reason}; ${line}` : line;
    if (rec !== this.#lastRecord) { // one record's failures come one after the other
      this.#lastRecord = rec;
      this.failedRecordCount++;
      if (this.failedRecords.length < LISTED) this.failedRecords.push(rec);
    }
  }

  /** Counts a failed write that belongs to no record (a snapshot, the ring dump). */
  add(what: string, path: string, err: unknown): void {
    const m = this.#counts.get(what) ?? new Map<string, number>();
    const cause = errorCause(err);
    m.set(cause, (m.get(cause) ?? 0) + 1);
    this.#counts.set(what, m);
    if (!this.#first.has(what)) this.#first.set(what, `${describeError(err)}: ${path}`);
  }

  /**
   * Counts `n` results lost other than by a failed write, as "LABEL: N (DETAIL)" in the summary
   * (the first detail is kept); `bug` marks a broken invariant rather than the environment.
   */
  lose(label: string, n: number, detail: string, bug = false): void {
    if (n <= 0) return;
    const l = this.#other.get(label);
    if (l) l.n += n;
    else this.#other.set(label, { n, detail, bug });
  }

  /** Failed writes under `what`. */
  count(what: string): number {
    let n = 0;
    for (const v of this.#counts.get(what)?.values() ?? []) n += v;
    return n;
  }

  /** "ENOSPC 2, EIO 1" for `what`. */
  causes(what: string): string {
    return [...this.#counts.get(what) ?? []].map(([c, n]) => `${c} ${n}`).join(', ');
  }

  get empty(): boolean {
    return this.#counts.size === 0 && this.#other.size === 0;
  }

  /** A bug was among the losses (exit EXIT_INTERNAL rather than EXIT_RESULTS_LOST). */
  get bug(): boolean {
    for (const l of this.#other.values()) if (l.bug) return true;
    return false;
  }

  #writes(): { n: number; byCause: string; byWhat: string } {
    const all = new Map<string, number>();
    let n = 0;
    for (const m of this.#counts.values()) for (const [c, k] of m) { all.set(c, (all.get(c) ?? 0) + k); n += k; }
    const sorted = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1)).map(([c, k]) => `${c} ${k}`).join(', ');
    return { n, byCause: sorted(all), byWhat: sorted(new Map([...this.#counts.keys()].map((w) => [w, this.count(w)]))) };
  }

  /** Totals for a JSON summary. */
  toObject(): { writes_failed: number; by_cause: Record<string, number>; by_what: Record<string, number>; lost: Record<string, number> } {
    const byCause: Record<string, number> = {};
    for (const m of this.#counts.values()) for (const [c, k] of m) byCause[c] = (byCause[c] ?? 0) + k;
    return {
      writes_failed: this.#writes().n, by_cause: byCause,
      by_what: Object.fromEntries([...this.#counts.keys()].map((w) => [w, this.count(w)])),
      lost: Object.fromEntries([...this.#other].map(([label, l]) => [label, l.n])),
    };
  }

  /**
   * Summary lines: failed writes by cause and what, the first path of each what, the records
   * that carry a failure (first 20), then the other losses.
   */
  summary(): string[] {
    const out: string[] = [];
    const w = this.#writes();
    if (w.n > 0) {
      out.push(`Write failures: ${w.n} (${w.byCause}; ${w.byWhat})`);
      for (const [what, first] of this.#first) if (what !== 'flow') out.push(`  ${what}: ${first}`);
      for (const r of this.failedRecords) out.push(`  not written: ${r.client} -> ${r.server}: ${r.reason}`);
      const more = this.failedRecordCount - this.failedRecords.length;
      if (more > 0) out.push(`  … and ${more} more records with files not written (each says why in "reason")`);
    }
    for (const [label, l] of this.#other) out.push(`${label[0]!.toUpperCase()}${label.slice(1)}: ${l.n} (${l.detail})`);
    return out;
  }

  /** One line for stderr: "results were lost: 2 writes failed (ENOSPC 2); the summary names each path". */
  headline(): string {
    const w = this.#writes();
    const parts = w.n > 0 ? [`${w.n} writes failed (${w.byCause})`] : [];
    for (const [label, l] of this.#other) parts.push(`${l.n} ${label}`);
    return `results were lost: ${parts.join(', ')}; the summary ${w.n > 0 ? 'names each path' : 'says why'}`;
  }
}
