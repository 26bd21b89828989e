import { describe, expect, it } from 'vitest';
import { CursorTracker } from '../../../src/live/cursor-tracker.js';

describe('CursorTracker', () => {
  it('follows entries while no event is pending', () => {
    const t = new CursorTracker();
    expect(t.safe).toBeNull();
    t.entry('c1');
    t.entry('c2');
    expect(t.safe).toBe('c2');
  });

  it('holds the cursor before the oldest pending event until its work is done, then moves past what followed', () => {
    const t = new CursorTracker();
    t.entry('c1');
    t.event('e2');
    t.entry('c3');
    t.event('e4');
    t.entry('c5');
    expect(t.safe).toBe('c1'); // e2 not done: a restart must read it again
    t.done('e4'); // out of order: e2 still pending
    expect(t.safe).toBe('c1');
    t.done('e2'); // both done: everything up to the last entry read is finished
    expect(t.safe).toBe('c5');
    t.entry('c6');
    expect(t.safe).toBe('c6');
  });

  it('ignores unknown and repeated completions (records without a journal event, duplicates)', () => {
    const t = new CursorTracker();
    t.event('e1');
    t.done(undefined);
    t.done(null);
    t.done('nope');
    expect(t.safe).toBeNull();
    t.done('e1');
    t.done('e1');
    expect(t.safe).toBe('e1');
  });
});
