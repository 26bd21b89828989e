import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures } from '../../../src/index.js';
import { JsonOut, recordToJson, writeRecordJson } from '../../../src/handshake/record-json.js';
import { CAPTURES } from '../../helpers/cli.js';

describe('recordToJson', () => {
  it('equals JSON.stringify for every record of every bundled capture', async () => {
    const files = readdirSync(CAPTURES).map((f) => join(CAPTURES, f));
    const { records } = await analyzeCaptures(files);
    expect(records.length).toBeGreaterThan(40);
    for (const r of records) expect(recordToJson(r)).toBe(JSON.stringify(r));
  });
  it('escapes hostile strings and carries optional fields the same way', async () => {
    const { records } = await analyzeCaptures([join(CAPTURES, 'client-think.pcap')]);
    const r = { ...records[0]!, sni: 'a"b\\c\u0000\u2028é', notes: ['x\ny'], event: { cursor: 's=1', message: 'm "q"' }, event_elapsed_ms: 12.5, proxy_gap_ms: null, pcap: '/tmp/a b.pcap' };
    expect(recordToJson(r)).toBe(JSON.stringify(r));
  });
  it('issue 9: estimated is printed only when true, after reason', async () => {
    const { records } = await analyzeCaptures([join(CAPTURES, 'client-think.pcap')]);
    const r = { ...records[0]!, reason: 'r', estimated: true };
    expect(recordToJson(r)).toBe(JSON.stringify(r));
    expect(JSON.parse(recordToJson(r)).estimated).toBe(true);
    expect(recordToJson(records[0]!)).not.toContain('estimated');
  });
});

describe('recordToJson: tfo (issue 15)', () => {
  it('is printed only when true, right after notes (buildRecord sets it; later keys follow)', async () => {
    const { records } = await analyzeCaptures([join(CAPTURES, 'tfo.pcap')]);
    const tfo = records.filter((r) => r.tfo === true);
    expect(tfo.length).toBeGreaterThanOrEqual(5);
    for (const r of tfo) {
      const full = { ...r, event: { cursor: 'c' }, pcap: '/x.pcap', reason: 'r', estimated: true };
      expect(recordToJson(full)).toBe(JSON.stringify(full));
      expect(recordToJson(r)).toContain('],"tfo":true');
    }
    // The cookie request (41601) is an ordinary handshake: no tfo key.
    const plain = records.find((r) => r.client.endsWith(':41601'))!;
    expect(recordToJson(plain)).not.toContain('tfo');
  });
});

describe('writeRecordJson', () => {
  it('appends the same bytes to a buffer that starts small and grows (issue 13)', async () => {
    const files = readdirSync(CAPTURES).map((f) => join(CAPTURES, f));
    const { records } = await analyzeCaptures(files);
    const o = new JsonOut(64);
    let want = '';
    for (const r of records) {
      writeRecordJson(r, o);
      o.ascii('\n');
      want += JSON.stringify(r) + '\n';
    }
    expect(o.buf.toString('utf8', 0, o.pos)).toBe(want);
  });
});

describe('recordToJson number formatting', () => {
  it('matches JSON.stringify on µs timestamps and millisecond values', async () => {
    const base = (await analyzeCaptures([join(CAPTURES, 'client-think.pcap')])).records[0]!;
    const values = [0, 1, 0.001, 0.01, 0.1, 0.5, 1.25, 304.334, 999.999, 1000, 12345.678, 1e12, 1795452917449832, 1795452917000000, 1795452917000001, 2e9, 0.0005, 1e-7,
      9, 10, 2147483647, 2147483648, 99999999, 100000000, 2 ** 53 - 1, 2 ** 53, 1e21, -1, -0, -2.5, 1e15 + 0.5];
    for (const v of values) {
      const r = { ...base, timeline: { ...base.timeline, syn: v }, phases_ms: { ...base.phases_ms, total: v } };
      expect(recordToJson(r)).toBe(JSON.stringify(r));
    }
  });
});
