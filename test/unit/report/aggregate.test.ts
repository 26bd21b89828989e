/**
 * The report's aggregation and layout over real records (the bundled captures through the built
 * `analyze`): histogram bins, counts and percentiles against a direct computation; phase spans
 * consecutive on the time axis and covering their values.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { CAPTURES, runCli } from '../../helpers/cli.js';
import type { FlowRecord } from '../../../src/handshake/record.js';
import { aggregate, BIN_EDGES, binOf, CHART_PHASES, slowestFirst } from '../../../src/report/aggregate.js';
import { phaseSpans } from '../../../src/report/waterfall.js';
import { canonicalOrder } from '../../../src/report/inputs.js';

let records: FlowRecord[] = [];
beforeAll(() => {
  const files = readdirSync(CAPTURES).sort().map((f) => join(CAPTURES, f));
  const a = runCli(['analyze', ...files, '--format', 'ndjson', '--no-progress']);
  expect(a.status, a.stderr).toBe(0);
  records = a.stdout.trimEnd().split('\n').map((l) => JSON.parse(l) as FlowRecord);
  expect(records.length).toBeGreaterThan(50);
});

describe('histogram bins', () => {
  it('zero has its own bin; four log bins per decade; values land in [edge, next edge)', () => {
    expect(binOf(0)).toBe(0);
    expect(binOf(0.000001)).toBe(1);
    expect(BIN_EDGES[1]).toBe(0.01);
    expect(BIN_EDGES[BIN_EDGES.indexOf(1) + 4]).toBe(10);
    for (const v of [0.01, 0.0177, 0.0178, 0.5, 1, 9.99, 10, 200, 999.9, 1000, 99_999, 100_000, 1e7]) {
      const i = binOf(v);
      expect(BIN_EDGES[i]!).toBeLessThanOrEqual(v);
      if (i + 1 < BIN_EDGES.length) expect(v).toBeLessThan(BIN_EDGES[i + 1]!);
    }
    expect(binOf(1e9)).toBe(BIN_EDGES.length - 1);
  });
});

describe('aggregate', () => {
  it('verdict counts, and per phase n, bin sums and nearest-rank percentiles equal a direct computation', () => {
    const agg = aggregate(records);
    expect(agg.records).toBe(records.length);
    expect(agg.slow).toBe(records.filter((r) => r.slow).length);
    for (const v of ['client', 'network', 'server', 'loss', 'incomplete'] as const) {
      expect(agg.verdicts[v]).toBe(records.filter((r) => r.verdict === v).length);
      expect(agg.slowVerdicts[v]).toBe(records.filter((r) => r.slow && r.verdict === v).length);
    }
    expect(agg.phases.map((d) => d.phase)).toEqual([...CHART_PHASES]);
    for (const d of agg.phases) {
      const xs = records.map((r) => r.phases_ms[d.phase]).filter((v): v is number => v !== null).sort((a, b) => a - b);
      expect(d.n, d.phase).toBe(xs.length);
      expect(d.bins.reduce((s, c) => s + c, 0)).toBe(xs.length);
      expect(d.bins[0]).toBe(xs.filter((x) => x === 0).length);
      const rank = (q: number): number => xs[Math.ceil(q * xs.length) - 1]!;
      expect(d.p50).toBe(rank(0.5));
      expect(d.p90).toBe(rank(0.9));
      expect(d.p99).toBe(rank(0.99));
      expect(d.max).toBe(xs[xs.length - 1]);
    }
    // the hrr phases are measured only on HRR flows
    expect(agg.phases.find((d) => d.phase === 'hrr_rtt')!.n).toBe(records.filter((r) => r.phases_ms.hrr_rtt !== null).length);
    expect(agg.phases.find((d) => d.phase === 'hrr_rtt')!.n).toBeLessThan(records.length);
  });

  it('slowest first: by total, records without one last, ties in canonical order', () => {
    const sorted = slowestFirst([...records].sort(canonicalOrder));
    for (let i = 1; i < sorted.length; i++) {
      const a = sorted[i - 1]!.phases_ms.total ?? -1;
      const b = sorted[i]!.phases_ms.total ?? -1;
      expect(a).toBeGreaterThanOrEqual(b);
      if (a === b) expect(canonicalOrder(sorted[i - 1]!, sorted[i]!)).toBeLessThanOrEqual(0);
    }
  });
});

describe('phase spans', () => {
  it('consecutive, inside [start, done], each covering its value; together SYN to done', () => {
    let checked = 0;
    for (const r of records) {
      if (r.phases_ms.total === null || r.timeline.syn === null) continue;
      // A refused TCP Fast Open hello: the wait from the SYN to its copy is charged to
      // client_hello_xfer out of the phases it overlaps (as loss is), so that value is not a span.
      if (r.notes.some((n) => n.includes('TCP Fast Open: the server did not accept'))) continue;
      const spans = phaseSpans(r);
      let prev = r.timeline.syn;
      for (const s of spans) {
        expect(s.from).toBeGreaterThanOrEqual(prev);
        expect(s.to).toBeGreaterThanOrEqual(s.from);
        expect(s.to).toBeLessThanOrEqual(r.timeline.done!);
        // a phase's value is its span less the loss and stalls inside it (rounding: 1 µs)
        expect((s.to - s.from) / 1000 + 0.0015).toBeGreaterThanOrEqual(r.phases_ms[s.phase]!);
        prev = s.to;
      }
      const covered = spans.reduce((t, s) => t + (s.to - s.from), 0) / 1000;
      const lossAndStall = (r.phases_ms.loss ?? 0) + (r.phases_ms.cwnd_stall ?? 0);
      const values = spans.reduce((t, s) => t + r.phases_ms[s.phase]!, 0);
      expect(Math.abs(values + lossAndStall - r.phases_ms.total), `${r.client} values`).toBeLessThan(0.02);
      if (!r.notes.some((n) => n.includes('flight_rtt split'))) expect(Math.abs(covered - r.phases_ms.total), `${r.client} spans`).toBeLessThan(0.02);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });
});
