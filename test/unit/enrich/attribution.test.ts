/**
 * Range files in the providers' published formats (AWS ip-ranges.json, Google Cloud cloud.json,
 * Google goog.json; IPv4 and IPv6), a real .mmdb written with MaxMind's writer and read with
 * mmdb-lib, the Enricher's synchronous attribution, and one clear error per bad file.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AsnDb } from '../../../src/enrich/asn.js';
import { Enricher } from '../../../src/enrich/enricher.js';
import { EnrichInputError } from '../../../src/enrich/errors.js';
import { RangeSet } from '../../../src/enrich/ranges.js';
import { missingFlowRecord } from '../../../src/handshake/record.js';
import { tempDir } from '../../helpers/cli.js';
import { AWS_RANGES, GCP_RANGES, writeAsnMmdb } from '../../helpers/mmdb.js';

const dir = tempDir('slowshake-enrich-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function info(e: Enricher, client: string) {
  const r = missingFlowRecord(client, '203.0.113.1:443', null, 'x');
  e.attribute(r);
  return r.client_info;
}

function errorOf(f: () => unknown): EnrichInputError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(EnrichInputError);
    return err as EnrichInputError;
  }
  throw new Error('no error thrown');
}

describe('range files', () => {
  const ranges = RangeSet.load([AWS_RANGES, GCP_RANGES]);
  const e = new Enricher({ ranges });

  it('recognises both formats by content and counts their prefixes', () => {
    expect(ranges.files.map((f) => [f.format, f.prefixes, f.sync_token, f.created])).toEqual([
      ['aws', 5, '1764537187', '2026-11-30-21-13-07'],
      ['gcp', 3, '1764543600000', '2026-11-30T23:00:00.000000'],
    ]);
  });

  it('the most specific range wins; AWS\'s catch-all AMAZON entry never hides the specific service', () => {
    expect(info(e, '3.5.140.2:1')).toEqual({ rdns: null, provider: 'aws', service: 'EC2', region: 'us-east-1', asn: null, as_org: null, prefix: '3.5.140.0/22' });
    expect(info(e, '3.100.0.1:1')).toMatchObject({ provider: 'aws', service: 'AMAZON', region: 'GLOBAL', prefix: '3.0.0.0/9' });
    expect(info(e, '52.94.77.1:1')).toMatchObject({ service: 'DYNAMODB', region: 'us-west-2' });
    expect(info(e, '[2600:1f18:4abc::2]:443')).toMatchObject({ provider: 'aws', service: 'EC2', region: 'us-east-1', prefix: '2600:1f18:4000::/36' });
    expect(info(e, '34.81.2.3:1')).toMatchObject({ provider: 'gcp', service: 'Google Cloud', region: 'asia-east1', prefix: '34.80.0.0/15' });
    expect(info(e, '[2600:1900:4001::1]:1')).toMatchObject({ provider: 'gcp', region: 'us-central1', prefix: '2600:1900:4000::/44' });
  });

  it('outside every range: provider null, prefix the /24 or /48; IPv4-mapped IPv6 is looked up as IPv4', () => {
    expect(info(e, '198.51.100.2:1')).toEqual({ rdns: null, provider: null, service: null, region: null, asn: null, as_org: null, prefix: '198.51.100.0/24' });
    expect(info(e, '[2001:db8:1:2::5]:1')).toMatchObject({ provider: null, prefix: '2001:db8:1::/48' });
    expect(info(e, '[::ffff:3.5.140.2]:1')).toMatchObject({ provider: 'aws', service: 'EC2' });
  });

  it('goog.json (no service, no scope) is provider google', () => {
    const f = join(dir, 'goog.json');
    writeFileSync(f, JSON.stringify({ syncToken: '1', creationTime: '2026-11-30T23:00:00', prefixes: [{ ipv4Prefix: '8.8.4.0/24' }, { ipv6Prefix: '2001:4860::/32' }] }));
    const g = new Enricher({ ranges: RangeSet.load([f]) });
    expect(info(g, '8.8.4.4:1')).toMatchObject({ provider: 'google', service: null, region: null, prefix: '8.8.4.0/24' });
    expect(info(g, '[2001:4860::8888]:1')).toMatchObject({ provider: 'google', prefix: '2001:4860::/32' });
  });

  it.each([
    ['truncated JSON', '{"prefixes": [', /^bad\.json: not an AWS ip-ranges\.json or Google cloud\.json file \(not JSON: .+\)$/],
    ['an array', '[]', /^bad\.json: not an AWS ip-ranges\.json or Google cloud\.json file \(not a JSON object\)$/],
    ['another JSON file', '{"name":"x","version":"1"}', /^bad\.json: not an AWS ip-ranges\.json or Google cloud\.json file \(no "prefixes" list; keys: "name", "version"\)$/],
    ['entries of neither kind', '{"prefixes":[{"cidr":"1.2.3.0/24"}]}', /^bad\.json: not an AWS .*entries have neither ip_prefix nor ipv4Prefix\/ipv6Prefix\)$/],
    ['a bad AWS prefix', '{"createDate":"x","prefixes":[{"ip_prefix":"3.5.140.0/22","service":"EC2"},{"ip_prefix":"3.5.140.1/22","service":"EC2"}]}',
      /^bad\.json: AWS ip-ranges\.json entry prefixes\[1\]\.ip_prefix: "3\.5\.140\.1\/22" is not an IPv4 CIDR prefix$/],
    ['an IPv4 prefix in ipv6_prefixes', '{"prefixes":[],"ipv6_prefixes":[{"ipv6_prefix":"1.2.3.0/24","service":"EC2"}]}', /ipv6_prefixes\[0\]\.ipv6_prefix: "1\.2\.3\.0\/24" is not an IPv6 CIDR prefix$/],
    ['an AWS entry without service', '{"prefixes":[{"ip_prefix":"3.5.140.0/22"}]}', /^bad\.json: AWS ip-ranges\.json entry prefixes\[0\]: no service$/],
    ['a Google entry with both prefixes', '{"prefixes":[{"ipv4Prefix":"34.80.0.0/15","ipv6Prefix":"2600:1900::/28"}]}', /Google range file entry prefixes\[0\]: needs exactly one of ipv4Prefix, ipv6Prefix$/],
  ])('malformed: %s is one error naming the file', (_n, text, re) => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, text);
    const err = errorOf(() => RangeSet.load([AWS_RANGES, f]));
    expect(err.file).toBe(f);
    expect(err.message.replace(dir + '/', '')).toMatch(re);
    expect(err.message).not.toContain('\n');
  });

  it('a missing file', () => {
    expect(errorOf(() => RangeSet.load([join(dir, 'nope.json')])).message).toBe(`${join(dir, 'nope.json')}: cannot read: no such file`);
  });
});

describe('ASN database (.mmdb written by MaxMind::DB::Writer, read by mmdb-lib)', () => {
  const db = writeAsnMmdb(join(dir, 'asn.mmdb'));
  const asn = AsnDb.open(db);

  it('IPv4 and IPv6 networks give asn and as_org; other addresses null', () => {
    expect(asn.databaseType).toBe('GeoLite2-ASN');
    expect(asn.lookup('192.0.2.10')).toEqual({ asn: 64500, as_org: 'Example Transit' });
    expect(asn.lookup('2001:db8::2')).toEqual({ asn: 64501, as_org: 'Example v6 Net' });
    expect(asn.lookup('3.5.140.2')).toEqual({ asn: 16509, as_org: 'AMAZON-02' });
    expect(asn.lookup('100.64.7.9')).toEqual({ asn: null, as_org: null });
  });

  it('with ranges: client_info carries both; the prefix stays the matched range', () => {
    const e = new Enricher({ ranges: RangeSet.load([AWS_RANGES]), asn });
    expect(info(e, '3.5.140.2:1')).toEqual({ rdns: null, provider: 'aws', service: 'EC2', region: 'us-east-1', asn: 16509, as_org: 'AMAZON-02', prefix: '3.5.140.0/22' });
    expect(info(e, '192.0.2.10:1')).toEqual({ rdns: null, provider: null, service: null, region: null, asn: 64500, as_org: 'Example Transit', prefix: '192.0.2.0/24' });
    expect(e.stats).toMatchObject({ records: 2, range_matches: 1, asn_matches: 2 });
  });

  it('a file that is not a MaxMind DB, a truncated one, and a non-ASN database: one error naming the file', () => {
    expect(errorOf(() => AsnDb.open(AWS_RANGES)).message).toMatch(/aws-ip-ranges\.json: not a MaxMind DB \(\.mmdb\) file \(no metadata marker/);
    const bytes = readFileSync(db);
    const cut = join(dir, 'cut.mmdb');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 40));
    expect(errorOf(() => AsnDb.open(cut)).message).toMatch(/^.*cut\.mmdb: not a MaxMind DB \(\.mmdb\) file \(.+\)$/);
    const city = join(dir, 'city.mmdb');
    writeFileSync(city, bytes.toString('latin1').replace('GeoLite2-ASN', 'GeoLite2-CTY'), 'latin1');
    expect(errorOf(() => AsnDb.open(city)).message).toMatch(/city\.mmdb: not an ASN database: its database_type is "GeoLite2-CTY"/);
    expect(errorOf(() => AsnDb.open(join(dir, 'none.mmdb'))).message).toMatch(/none\.mmdb: cannot read: no such file$/);
  });
});
