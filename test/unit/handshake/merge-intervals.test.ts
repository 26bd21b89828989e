/**
 * phases.ts mergeIntervals (issue 13: sorted in place instead of a tuple per pair) against the
 * plain definition it replaced: clip each pair to [lo, hi], drop the empty ones, sort by start,
 * merge overlapping or touching ones. Both the insertion-sort path (≤ 16 pairs) and the
 * Array.sort path (more) are covered.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { mergeIntervals } from '../../../src/handshake/phases.js';

function reference(pairs: readonly number[], lo: number, hi: number): number[] {
  const iv: [number, number][] = [];
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const s = Math.max(pairs[i]!, lo), e = Math.min(pairs[i + 1]!, hi);
    if (e > s) iv.push([s, e]);
  }
  iv.sort((a, b) => a[0] - b[0]);
  const out: number[] = [];
  for (const [s, e] of iv) {
    const n = out.length;
    if (n > 0 && s <= out[n - 1]!) out[n - 1] = Math.max(out[n - 1]!, e);
    else out.push(s, e);
  }
  return out;
}

describe('mergeIntervals', () => {
  it('gives no pairs, or only empty ones after clipping, an empty union', () => {
    expect(mergeIntervals([], 0, 100)).toEqual([]);
    expect(mergeIntervals([5], 0, 100)).toEqual([]);
    expect(mergeIntervals([200, 300, 50, 40], 0, 100)).toEqual([]);
  });

  it('sorts, clips and merges overlapping and touching pairs', () => {
    expect(mergeIntervals([30, 40, -5, 10, 10, 20, 35, 120], 0, 100)).toEqual([0, 20, 30, 100]);
  });

  it('does not modify its input', () => {
    const pairs = [30, 40, 10, 20];
    mergeIntervals(pairs, 0, 100);
    expect(pairs).toEqual([30, 40, 10, 20]);
  });

  const pair = fc.tuple(fc.integer({ min: -50, max: 1050 }), fc.integer({ min: -50, max: 1050 }));
  test.prop([fc.array(pair, { maxLength: 60 }), fc.integer({ min: 0, max: 500 }), fc.integer({ min: 0, max: 1000 })])(
    'equals the plain definition for any pairs (short and long lists)',
    (ps, lo, span) => {
      const flat = ps.flat();
      expect(mergeIntervals(flat, lo, lo + span)).toEqual(reference(flat, lo, lo + span));
    },
  );
});
