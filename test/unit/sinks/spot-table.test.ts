/** The spot check's end table stays bounded however many records a run produces (issue 8). */
import { beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { analyzeCaptures, type FlowRecord } from '../../../src/index.js';
import { renderSpotTable, SpotRecords } from '../../../src/sinks/spot-table.js';
import { CAPTURES } from '../../helpers/cli.js';

describe('SpotRecords', () => {
  let base: FlowRecord[];
  beforeAll(async () => {
    base = (await analyzeCaptures([join(CAPTURES, 'client-think.pcap'), join(CAPTURES, 'server-delay.pcap')], { slowMs: 200 })).records;
  });

  it('keeps the slowest N, counts every record and verdict', () => {
    const spot = new SpotRecords(100);
    const n = 5000;
    for (let i = 0; i < n; i++) {
      const r = structuredClone(base[i % base.length]!);
      r.phases_ms.total = i; // distinct, increasing
      spot.add(r);
    }
    const rows = spot.rows();
    expect(rows).toHaveLength(100);
    expect(rows[0]!.phases_ms.total).toBe(n - 1);
    expect(rows.at(-1)!.phases_ms.total).toBe(n - 100);
    expect(spot.total).toBe(n);
    expect(Object.values(spot.verdicts).reduce((a, b) => a + b, 0)).toBe(n);
    const t = renderSpotTable(spot, { width: null, wide: false });
    expect(t.split('\n')[0]).toMatch(/^Slow TLS handshakes: 5000 \(the slowest 100 shown/);
    const totals = /Totals by verdict: (.*)/.exec(t)![1]!;
    expect(totals.split(', ').map((x) => Number(x.split(' ')[1])).reduce((a, b) => a + b, 0)).toBe(n);
  });
});
