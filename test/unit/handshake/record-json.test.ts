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

/** toBe with a short message: the first differing character and some context (records with long strings are too big to print). */
function same(got: string, want: string): void {
  if (got === want) return;
  let i = 0;
  while (i < got.length && got[i] === want[i]) i++;
  expect(`at ${i} of ${want.length}: ${JSON.stringify(got.slice(Math.max(0, i - 60), i + 40))}`).toBe(`at ${i} of ${want.length}: ${JSON.stringify(want.slice(Math.max(0, i - 60), i + 40))}`);
}

describe('recordToJson: every string field, every optional key, every number (issue 13 serialiser)', () => {
  /** Strings the fast paths must not get wrong: escapes, non-ASCII, lone surrogates, DEL, lengths around the cache's bounds. */
  const HOSTILE = [
    '', 'a', 'plain.example', 'a"b', 'back\\slash', 'tab\there', 'nl\n', '\u0000\u0001\u001f', '\u007f del', 'caf\u00e9.example',
    '\u4f8b\u3048.jp', 'emoji \ud83d\ude00 pair', 'lone high \ud800 x', 'lone low \udc00', 'ends high \udbff', '\u2028\u2029',
    'x'.repeat(7), 'x'.repeat(8), 'y'.repeat(254), 'y'.repeat(255), 'z'.repeat(1000), `${'q'.repeat(40)}"${'q'.repeat(40)}`,
  ];
  const base = async () => (await analyzeCaptures([join(CAPTURES, 'client-think.pcap')])).records[0]!;

  it('matches JSON.stringify with each hostile string in each string field, twice in a row (cache hits) and after a same-length one', async () => {
    const r0 = await base();
    const info = { rdns: 'h.example', provider: 'aws', service: 'EC2', region: 'eu-west-1', asn: 16509, as_org: 'AMAZON-02', prefix: '10.0.0.0/24' };
    const fields = ['client', 'server', 'sni', 'alpn', 'alpn_selected', 'tls_version', 'cipher', 'ja4', 'verdict'] as const;
    const infoFields = ['rdns', 'provider', 'service', 'region', 'as_org', 'prefix'] as const;
    let n = 0;
    for (const s of HOSTILE) {
      // the same length with other text: a cache slot must not answer for it
      const other = s.length > 0 ? String.fromCharCode(s.charCodeAt(0) === 0x41 ? 0x42 : 0x41) + s.slice(1) : s;
      for (const v of [s, s, other, s]) {
        for (const f of fields) {
          const r = { ...r0, [f]: v, client_info: { ...info } };
          same(recordToJson(r), JSON.stringify(r));
          n++;
        }
        for (const f of infoFields) {
          const r = { ...r0, client_info: { ...info, [f]: v } };
          same(recordToJson(r), JSON.stringify(r));
        }
        const r = { ...r0, notes: [v, 'n', v, other], missing: [v, 'syn'], event: { message: v }, pcap: v, reason: v }; // keys in the order the analyzer adds them
        same(recordToJson(r), JSON.stringify(r));
      }
    }
    expect(n).toBe(HOSTILE.length * 4 * fields.length);
  });

  it('matches JSON.stringify with every nullable field null and every optional key present', async () => {
    const r0 = await base();
    const nulls = { ...r0, sni: null, alpn: null, alpn_selected: null, tls_version: null, cipher: null, ja4: null,
      timeline: Object.fromEntries(Object.keys(r0.timeline).map((k) => [k, null])) as typeof r0.timeline,
      phases_ms: Object.fromEntries(Object.keys(r0.phases_ms).map((k) => [k, null])) as typeof r0.phases_ms,
      missing: [], notes: [],
      client_info: { rdns: null, provider: null, service: null, region: null, asn: null, as_org: null, prefix: null } };
    same(recordToJson(nulls), JSON.stringify(nulls));
    // client_info with one field set at a time (the all-null attribution is one constant run)
    const one = { rdns: 'h.example', provider: 'aws', service: 'S3', region: 'eu-west-1', asn: 0, as_org: 'AS', prefix: null };
    for (const [k, x] of Object.entries(one)) {
      const r = { ...nulls, client_info: { ...nulls.client_info, [k]: x } };
      same(recordToJson(r), JSON.stringify(r));
    }
    const all = { ...r0, hrr: true, resumed: true, slow: true, cwnd_stall: true, client_cert: true, tfo: true as const,
      event: { cursor: 's=1', message: 'é "q"', n: [1, 2.5, null] }, event_elapsed_ms: 12.5, proxy_gap_ms: -3.25, proxy_lag_ms: null,
      pcap: '/tmp/out/flow.pcap', capture_complete: false, capture_drops: 7, reason: 'ring too short', estimated: true as const,
      client_info: { rdns: 'host.example', provider: 'gcp', service: 'GCE', region: 'us-east1', asn: 15169, as_org: 'GOOGLE', prefix: '2001:db8::/48' } };
    same(recordToJson(all), JSON.stringify(all));
    // the keys come in this order (tfo right after notes, estimated after reason, client_info last)
    expect(Object.keys(JSON.parse(recordToJson(all)))).toEqual(Object.keys(all));
    const off = { ...all, capture_complete: true, proxy_lag_ms: 0, estimated: undefined, tfo: undefined };
    same(recordToJson(off), JSON.stringify(off));
  });

  it('matches JSON.stringify on numbers of every kind in every number field', async () => {
    const r0 = await base();
    const values = [0, -0, 1, 7, 9, 10, 99, 100, 101, 999, 1000, 9999, 10000, 12345, 99999999, 100000000, 100000001, 123456789,
      2147483647, 2147483648, 4294967296, 1e15, 1750000000000300, 1795452917000000, 2 ** 53 - 1, 2 ** 53, 2 ** 53 + 2, 1e20, 1e21, 1.5e300,
      0.001, 0.002, 0.01, 0.05, 0.1, 0.12, 0.123, 0.999, 1.001, 1.01, 1.1, 7.5, 12.34, 99.999, 304.334, 1234.5, 99999999.999,
      100000000.5, 1e9 + 0.25, 2e9 + 0.125, 0.0005, 0.0001, 1e-6, 1e-7, 5e-324, 1 / 3, 2 / 3, 0.1 + 0.2, 1.0005, 123.4565,
      -1, -2.5, -0.001, -1e21, -1.2345678901234567e-308, -1.2345678901234567e-6, -123456789012345680000,
      NaN, Infinity, -Infinity];
    for (const v of values) {
      const r = {
        ...r0,
        timeline: Object.fromEntries(Object.keys(r0.timeline).map((k) => [k, v])) as typeof r0.timeline,
        phases_ms: Object.fromEntries(Object.keys(r0.phases_ms).map((k) => [k, v])) as typeof r0.phases_ms,
        retransmits: { client: v, server: v }, event_elapsed_ms: v, proxy_gap_ms: v, proxy_lag_ms: v, capture_drops: v,
        client_info: { rdns: null, provider: null, service: null, region: null, asn: v, as_org: null, prefix: null },
      };
      same(recordToJson(r), JSON.stringify(r));
    }
  });

  it('grows a small buffer for the longest numbers and strings (the per-record bound holds)', async () => {
    const r0 = await base();
    const long = -1.2345678901234567e-308;
    const worst = {
      ...r0,
      timeline: Object.fromEntries(Object.keys(r0.timeline).map((k) => [k, long])) as typeof r0.timeline,
      phases_ms: Object.fromEntries(Object.keys(r0.phases_ms).map((k) => [k, -0.0000012345678901234567])) as typeof r0.phases_ms,
      retransmits: { client: long, server: long }, notes: ['\u001f'.repeat(10000), '\u4f8b'.repeat(10000), 'x'.repeat(254)], missing: ['"'.repeat(500)],
      tfo: true as const, event: { m: 'é'.repeat(5000) }, event_elapsed_ms: long, proxy_gap_ms: long, proxy_lag_ms: long,
      pcap: '\u0001'.repeat(3000), capture_complete: false, capture_drops: long, reason: '\ud800'.repeat(3000), estimated: true as const,
      client_info: { rdns: '\\'.repeat(700), provider: 'p', service: 's', region: 'r', asn: long, as_org: '\u00e9'.repeat(900), prefix: 'x' },
    };
    // The longest numbers with short strings: FIXED_MAX alone must cover them, at every starting size.
    const numbers = {
      ...worst, sni: null, alpn: null, alpn_selected: null, tls_version: null, cipher: null, ja4: null, notes: [], missing: [], event: undefined, pcap: '', reason: '',
      client_info: { rdns: null, provider: null, service: null, region: null, asn: long, as_org: null, prefix: null },
    };
    const text = JSON.stringify(numbers);
    expect(text.length).toBeGreaterThan(1900);
    for (let size = 1; size < 2 * text.length; size += 3) {
      const o = new JsonOut(size);
      writeRecordJson(numbers, o);
      same(o.buf.toString('utf8', 0, o.pos), text);
    }
    // A long event, then long strings after it: the bound still holds once the buffer grew for the event.
    const after = { ...numbers, event: { m: 'e'.repeat(3000) }, pcap: 'p'.repeat(2000), reason: '\u0001'.repeat(3000) };
    const afterText = JSON.stringify(after);
    for (let size = 1; size < 2 * afterText.length; size += 97) {
      const o = new JsonOut(size);
      writeRecordJson(after, o);
      same(o.buf.toString('utf8', 0, o.pos), afterText);
    }
    for (const size of [1, 64, 4096, 5000]) {
      const o = new JsonOut(size);
      let want = '';
      for (let i = 0; i < 3; i++) {
        writeRecordJson(worst, o);
        writeRecordJson(r0, o);
        want += JSON.stringify(worst) + JSON.stringify(r0);
      }
      same(o.buf.toString('utf8', 0, o.pos), want);
    }
  });
});
