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

describe('TcpStream segment rings reused after release (issue 13)', () => {
  it('a new stream never sees a released stream\'s segments, of any ring size', () => {
    for (const n of [3, 20, 100]) {
      const old = new TcpStream(new AnomalyCounters());
      old.setIsn(1000);
      for (let i = 0; i < n; i++) old.classify(i * 100, 100, 1 + i, []);
      old.release();
      old.release(); // twice: the ring goes back once
      const a = new TcpStream(new AnomalyCounters());
      const b = new TcpStream(new AnomalyCounters());
      for (const s of [a, b]) {
        s.setIsn(5000);
        const loss: number[] = [];
        // a retransmission of bytes this stream never sent: no original time to find
        expect(s.classify(0, 100, 500, loss)).toBe(1);
        expect(s.classify(0, 100, 900, loss)).toBe(3);
        expect(loss).toEqual([500, 900]);
        for (let i = 1; i < 300; i++) s.classify(i * 100, 100, 1000 + i, loss);
        expect(s.classify(29_850, 100, 5000, loss)).toBe(3); // the ring grew and wrapped as before
        expect(loss.slice(-2)).toEqual([1298, 5000]);
      }
    }
  });
});
