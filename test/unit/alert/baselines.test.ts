/**
 * Baselines' medians (sorted in a reused Float64Array) equal telemetry/stats.ts's medianInPlace
 * over the same samples: the window's recent median and the learned baseline, on the phases of
 * the bundled captures' real handshakes (with -0, 0 and repeated values mixed in).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures } from '../../../src/index.js';
import { Baselines } from '../../../src/alert/baselines.js';
import { medianInPlace } from '../../../src/telemetry/stats.js';
import { CAPTURES } from '../../helpers/cli.js';

describe('Baselines medians', () => {
  it('equal medianInPlace over the same samples', async () => {
    const files = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CAPTURES, f));
    const recs = (await analyzeCaptures(files, { slowMs: 200 })).records;
    const tcp = recs.map((r) => r.phases_ms.tcp_rtt).filter((v): v is number => v !== null);
    const flight = recs.map((r) => r.phases_ms.flight_rtt).filter((v): v is number => v !== null);
    expect(tcp.length).toBeGreaterThan(20);
    const extra = [-0, 0, 0, -0, tcp[0]!, tcp[0]!];
    const b = new Baselines({ maxNetworks: 4, halfLifeMs: 3_600_000, minFresh: 1 });
    const seen: number[] = [];
    let now = 1_000_000;
    for (let round = 0; round < 3; round++) {
      for (const [i, v] of [...tcp, ...extra, ...tcp.slice(0, 7)].entries()) {
        now += 10;
        b.observe('10.0.0.0/24', v, flight[i % flight.length] ?? null, now);
        seen.push(v);
        if (i % 5 === 0) {
          for (const windowMs of [50, 400, 1e9]) {
            const want = seen.slice(-256).filter((_, k, a) => now - (now - (a.length - 1 - k) * 10) <= windowMs);
            const r = b.recent('10.0.0.0/24', 'tcp_rtt', windowMs, now);
            expect(r.count).toBe(want.length);
            expect(Object.is(r.median, medianInPlace([...want].reverse()))).toBe(true);
          }
        }
      }
      b.learn(now);
    }
    expect(b.baseline('10.0.0.0/24', 'tcp_rtt', now).value).not.toBeNull();
  });
});
