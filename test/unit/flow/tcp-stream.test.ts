/** TcpStream's sequence-hole cap: holes beyond MAX_HOLES are counted, never silently untimed (issue 8). */
import { describe, expect, it } from 'vitest';
import { MAX_HOLES, TcpStream } from '../../../src/flow/tcp-stream.js';
import { AnomalyCounters } from '../../../src/telemetry/anomalies.js';

describe('TcpStream holes', () => {
  it('times up to MAX_HOLES open holes and counts the rest (stream and anomaly)', () => {
    const an = new AnomalyCounters();
    const s = new TcpStream(an);
    const loss: number[] = [];
    const n = MAX_HOLES + 5;
    // Every other 100-byte chunk is missing: segment i (i ≥ 1) opens a hole before it.
    for (let i = 0; i <= n; i++) s.classify(i * 200, 100, 1000 + i, loss);
    expect(s.untimedHoles).toBe(n - MAX_HOLES);
    expect(an.toObject().too_many_sequence_holes).toBe(n - MAX_HOLES);
    // The first MAX_HOLES holes are still timed when filled.
    for (let i = 1; i <= MAX_HOLES; i++) s.classify(i * 200 - 100, 100, 5000 + i, loss);
    expect(loss.length / 2).toBe(MAX_HOLES);
  });

  it('a polite flow counts nothing', () => {
    const an = new AnomalyCounters();
    const s = new TcpStream(an);
    const loss: number[] = [];
    for (let i = 0; i < 100; i++) s.classify(i * 100, 100, i, loss);
    expect(s.untimedHoles).toBe(0);
    expect(an.toObject().too_many_sequence_holes).toBeUndefined();
  });
});
