/**
 * Which journal cursor a daemon may save (watch): entries arrive in order, and an event's work
 * (its record, its pcap) is done after its hold, possibly after later entries were read. The safe
 * cursor is the newest entry before the oldest event still pending, so a restart (or a crash)
 * reads again only what was not finished. Memory: one element per pending event (bounded by the
 * event queue); entries between events only move a field.
 */
export class CursorTracker {
  readonly #pending: { cursor: string; done: boolean; after: string | null }[] = [];
  readonly #byCursor = new Map<string, { cursor: string; done: boolean; after: string | null }>();
  safe: string | null = null;

  entry(cursor: string | null): void {
    if (cursor === null) return;
    const last = this.#pending[this.#pending.length - 1];
    if (last === undefined) this.safe = cursor;
    else last.after = cursor;
  }

  event(cursor: string | null): void {
    if (cursor === null) return;
    const e = { cursor, done: false, after: null };
    this.#pending.push(e);
    this.#byCursor.set(cursor, e);
  }

  done(cursor: string | null | undefined): void {
    if (cursor == null) return;
    const e = this.#byCursor.get(cursor);
    if (e === undefined) return;
    e.done = true;
    this.#byCursor.delete(cursor);
    while (this.#pending.length > 0 && this.#pending[0]!.done) {
      const f = this.#pending.shift()!;
      this.safe = f.after ?? f.cursor;
    }
  }
}
