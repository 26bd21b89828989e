/**
 * buildRecord's timeline and phases_ms are object literals (issue 13): their keys must stay exactly
 * TIMELINE_POINTS and PHASES + loss, cwnd_stall, total, in that order (the record contract and the
 * JSON key order), and each value must come from its own index.
 */
import { describe, expect, it } from 'vitest';
import { phasesObject, timelineObject } from '../../../src/handshake/record.js';
import { PHASES, type PhaseBreakdown } from '../../../src/handshake/phases.js';
import { T, TIMELINE_POINTS, newTimeline } from '../../../src/handshake/timeline.js';

describe('record shape', () => {
  it('timeline: every point in TIMELINE_POINTS order, each from its own index, -1 as null', () => {
    const tl = newTimeline();
    for (let i = 0; i < T.COUNT; i++) tl[i] = 1_000_000 + i;
    const o = timelineObject(tl);
    expect(Object.keys(o)).toEqual([...TIMELINE_POINTS]);
    TIMELINE_POINTS.forEach((p, i) => expect(o[p]).toBe(1_000_000 + i));
    tl[T.HELLO_RETRY_REQUEST] = -1;
    expect(timelineObject(tl).hello_retry_request).toBeNull();
    expect(newTimeline()).toHaveLength(T.COUNT);
    expect(Object.values(timelineObject(newTimeline())).every((v) => v === null)).toBe(true);
  });

  it('phases_ms: PHASES then loss, cwnd_stall, total, each from its own field, in ms', () => {
    const phases = {} as PhaseBreakdown['phases'];
    PHASES.forEach((p, i) => { phases[p] = i === 5 ? null : (i + 1) * 1000 + 1; });
    const b: PhaseBreakdown = { phases, loss: 7_000, cwndStall: 8_000, total: 99_500, start: 0, flightSplit: 0, byCategory: { client: 0, network: 0, server: 0, loss: 0 } };
    const o = phasesObject(b);
    expect(Object.keys(o)).toEqual([...PHASES, 'loss', 'cwnd_stall', 'total']);
    PHASES.forEach((p, i) => expect(o[p]).toBe(i === 5 ? null : (i + 1) + 0.001));
    expect([o.loss, o.cwnd_stall, o.total]).toEqual([7, 8, 99.5]);
    expect(phasesObject({ ...b, total: null }).total).toBeNull();
  });
});
