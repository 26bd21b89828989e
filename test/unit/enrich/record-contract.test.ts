/**
 * client_info in the record contract: ndjson text equal to JSON.stringify, exact protobuf round
 * trips (field 30, nulls as unset optional fields), records without it (streams written before
 * it existed) decoding without the key, and an off-contract shape carried in `extra`. And the
 * TopNetworks aggregate: grouping, verdict mix, medians, and its bounds.
 */
import { describe, expect, it } from 'vitest';
import { recordToJson } from '../../../src/handshake/record-json.js';
import { missingFlowRecord, type ClientInfo, type FlowRecord } from '../../../src/handshake/record.js';
import { analyzeCaptures } from '../../../src/index.js';
import { decodeRecord, encodeRecord } from '../../../src/sinks/protobuf-records.js';
import { recordToMessage } from '../../../src/sinks/record-codec.js';
import { groupOf, renderTopNetworks, SAMPLE_ROW, sampleRow, TopNetworks } from '../../../src/enrich/top-networks.js';
import { Enricher } from '../../../src/enrich/enricher.js';
import { RangeSet } from '../../../src/enrich/ranges.js';
import { AWS_RANGES, MULTI_NET } from '../../helpers/mmdb.js';

const FULL: ClientInfo = { rdns: 'ec2-3-5-140-2.compute-1.amazonaws.com', provider: 'aws', service: 'EC2', region: 'us-east-1', asn: 16509, as_org: 'AMAZON-02 "quoted" \u00e9', prefix: '3.5.140.0/22' };
const NULLS: ClientInfo = { rdns: null, provider: null, service: null, region: null, asn: null, as_org: null, prefix: '2001:db8:1::/48' };

function withInfo(ci: unknown): FlowRecord {
  const r = missingFlowRecord('3.5.140.2:1', '203.0.113.1:443', 'app.example', 'x');
  (r as unknown as Record<string, unknown>).client_info = ci;
  return r;
}

describe('client_info in ndjson and the record stream', () => {
  it.each([['every field set', FULL], ['nulls', NULLS], ['asn 0 and empty strings', { ...NULLS, asn: 0, rdns: '', prefix: null }]])('%s: exact round trip, typed field', (_n, ci) => {
    const r = withInfo(ci);
    expect(recordToJson(r)).toBe(JSON.stringify(r));
    const msg = recordToMessage(r);
    expect(msg.client_info).toBeDefined();
    expect(msg.extra).toBeUndefined();
    const back = decodeRecord(encodeRecord(r));
    expect(back).toStrictEqual(r);
    expect(JSON.stringify(back)).toBe(JSON.stringify(r));
  });

  it('a record without client_info (a stream from before it) decodes without the key', () => {
    const r = missingFlowRecord('3.5.140.2:1', '203.0.113.1:443', null, 'x');
    const back = decodeRecord(encodeRecord(r));
    expect('client_info' in back).toBe(false);
    expect(back).toStrictEqual(r);
  });

  it('a client_info of another shape travels in extra, unchanged', () => {
    for (const odd of [{ ...FULL, asn: 2 ** 40 }, { rdns: 'x' }, 'text', null]) {
      const r = withInfo(odd);
      expect(recordToMessage(r).client_info).toBeUndefined();
      expect(decodeRecord(encodeRecord(r))).toStrictEqual(r);
    }
  });

  it('real records from a capture, attributed, print as JSON.stringify does and round-trip', async () => {
    const e = new Enricher({ ranges: RangeSet.load([AWS_RANGES]) });
    const { records } = await analyzeCaptures([MULTI_NET]);
    for (const r of records) {
      e.attribute(r);
      expect(recordToJson(r)).toBe(JSON.stringify(r));
      expect(decodeRecord(encodeRecord(r))).toStrictEqual(r);
    }
  });
});

function slow(ci: Partial<ClientInfo>, verdict: FlowRecord['verdict'], total: number, phase: 'client_think' | 'tcp_rtt'): FlowRecord {
  const r = missingFlowRecord('3.5.140.2:1', '203.0.113.1:443', null, 'x');
  r.slow = true;
  r.verdict = verdict;
  r.phases_ms.total = total;
  r.phases_ms[phase] = total - 1;
  r.client_info = { ...NULLS, prefix: null, ...ci };
  return r;
}

describe('TopNetworks', () => {
  it('groups by provider+region+service, else ASN, else prefix; counts, verdict mix, medians', () => {
    const t = new TopNetworks();
    for (const total of [300, 400, 500]) t.add(slow({ provider: 'aws', region: 'us-east-1', service: 'EC2' }, 'client', total, 'client_think'));
    t.add(slow({ provider: 'aws', region: 'us-east-1', service: 'EC2' }, 'network', 900, 'tcp_rtt'));
    for (const total of [250, 260]) t.add(slow({ asn: 64500, as_org: 'Example Transit', prefix: '192.0.2.0/24' }, 'network', total, 'tcp_rtt'));
    t.add(slow({ prefix: '100.64.7.0/24' }, 'server', 220, 'tcp_rtt'));
    const r = missingFlowRecord('1.2.3.4:1', '5.6.7.8:443', null, 'x');
    t.add(r); // no client_info
    const rows = t.top(10);
    expect(rows.map((x) => [x.network, x.kind, x.count, x.verdicts])).toEqual([
      ['aws us-east-1 EC2', 'provider', 4, { client: 3, network: 1 }],
      ['AS64500 Example Transit', 'asn', 2, { network: 2 }],
      ['100.64.7.0/24', 'prefix', 1, { server: 1 }],
    ]);
    expect(rows[0]!.median_ms.total).toBe(450);
    expect(rows[0]!.median_ms.client_think).toBe(349); // 299, 399, 499 and the network record's 0
    expect(rows[0]!.median_ms.tcp_rtt).toBe(0);
    expect(rows[1]!.median_ms.tcp_rtt).toBe(254);
    expect(t.unattributed).toBe(1);
    const text = renderTopNetworks(rows, { unattributed: t.unattributed });
    expect(text.split('\n')[2]).toMatch(/^ {2}aws us-east-1 EC2\s+4 {2}client 3, network 1\s+total 450: client_think 349$/);
    expect(text).toMatch(/\(1 slow handshakes without client_info not grouped\)$/);
  });

  it('top(n) sums the rest as other; beyond maxGroups the smallest group moves to other and a heavy newcomer still climbs in', () => {
    const t = new TopNetworks(3);
    const add = (net: string, n: number): void => { for (let k = 0; k < n; k++) t.add(slow({ prefix: net }, 'network', 300, 'tcp_rtt')); };
    add('10.0.1.0/24', 30);
    add('10.0.2.0/24', 25);
    add('10.0.3.0/24', 1);
    expect(t.top(2).map((x) => [x.network, x.count, x.error])).toEqual([['10.0.1.0/24', 30, 0], ['10.0.2.0/24', 25, 0], ['other (1 more network)', 1, 0]]);
    // a stream of one-off networks churns only the smallest slot
    for (let i = 0; i < 20; i++) add(`10.9.${i}.0/24`, 1);
    add('10.0.7.0/24', 40); // heavy, but arrives late: it takes the churned slot (error 1 + 20) and keeps it
    expect(t.groups).toBe(3);
    expect(t.evictions).toBe(21);
    const rows = t.top(3);
    expect(rows.map((x) => [x.network, x.count, x.error])).toEqual([
      ['10.0.7.0/24', 40, 21], ['10.0.1.0/24', 30, 0], ['10.0.2.0/24', 25, 0], ['other (0 more networks, 21 evicted)', 21, 0],
    ]);
    // every slow handshake is counted exactly once
    expect(rows.reduce((n, x) => n + x.count, 0)).toBe(30 + 25 + 1 + 20 + 40);
    const text = renderTopNetworks(rows);
    expect(text).toMatch(/\n {2}10\.0\.7\.0\/24 +\d+\+ /);
    expect(text).toMatch(/\(\+: the network may have more slow handshakes/);
  });

  it('addParts (what analyze --threads sends instead of a record) aggregates exactly as add', () => {
    // Many groups in a small table (evictions), samples past SAMPLES (Algorithm R), unmeasured
    // records (no total), an rDNS example, and records without client_info.
    const recs: FlowRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      const r = slow(i % 7 === 0 ? { asn: 64500 + (i % 3), as_org: i % 2 ? 'Example' : null } : { prefix: `10.${i % 11}.${i % 5}.0/24` }, i % 3 ? 'network' : 'client', 200 + (i % 97) + 0.125 * (i % 8), i % 2 ? 'tcp_rtt' : 'client_think');
      const ph = r.phases_ms as Record<string, number | null>;
      for (const k of Object.keys(ph)) if (k !== 'total') ph[k] = i % 5 === 0 && k.startsWith('hrr') ? null : ((i * 7 + k.length * 3) % 50) + 0.5;
      if (i % 13 === 0) r.phases_ms.total = null;
      if (i % 17 === 0) r.client_info!.rdns = `host-${i}.example`;
      if (i % 29 === 0) delete r.client_info;
      recs.push(r);
    }
    const whole = new TopNetworks(8), parts = new TopNetworks(8);
    const rows = new Float64Array(recs.length * SAMPLE_ROW);
    recs.forEach((r, i) => {
      whole.add(r);
      sampleRow(r, rows, i * SAMPLE_ROW);
      const g = groupOf(r);
      parts.addParts(g?.key ?? null, g?.kind ?? 'prefix', r.verdict, r.client_info?.rdns ?? null, rows, i * SAMPLE_ROW);
    });
    expect(parts.top(20)).toStrictEqual(whole.top(20));
    expect([parts.unattributed, parts.evictions, parts.groups]).toEqual([whole.unattributed, whole.evictions, whole.groups]);
    expect(whole.evictions).toBeGreaterThan(0);
    expect(whole.unattributed).toBeGreaterThan(0);
  });

  it('the sample per group is bounded while counts stay exact', () => {
    const t = new TopNetworks();
    for (let i = 0; i < 10_000; i++) t.add(slow({ prefix: '10.1.0.0/24' }, 'client', 200 + (i % 100), 'client_think'));
    const [row] = t.top(1);
    expect(row!.count).toBe(10_000);
    expect(row!.median_ms.total).toBeGreaterThanOrEqual(230);
    expect(row!.median_ms.total).toBeLessThanOrEqual(270);
  });
});
