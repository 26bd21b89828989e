/**
 * Issue 10: `analyze` attributes every record's client (client_info: provider, service, region
 * from range files; asn, as_org from a .mmdb; rdns from a real DNS server with --rdns; prefix)
 * in every output format, and its summary shows "Top slow networks". The capture's clients
 * span AWS, Google Cloud, a test ASN and an unattributed /24 (captures/enrich/multi-net.pcap).
 * The record stream carries client_info and `records` shows the same section. Bad files are
 * one-line errors, exit 2.
 *
 * Before issue 10, analyze refused --ranges as an unknown option (exit 2) and records had no
 * client_info: every test here fails on that code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowRecord } from '../../src/handshake/record.js';
import { expectOneLineError, runCli, tempDir } from '../helpers/cli.js';
import { startDnsmasq, type Dnsmasq } from '../helpers/dns.js';
import { AWS_RANGES, GCP_RANGES, MULTI_NET, writeAsnMmdb } from '../helpers/mmdb.js';

const dir = tempDir('slowshake-issue10-');
const ASN = writeAsnMmdb(join(dir, 'asn.mmdb'));
const ATTR = ['--ranges', AWS_RANGES, '--ranges', GCP_RANGES, '--asn-db', ASN];
const EC2 = 'ec2-3-5-140-2.compute-1.amazonaws.com';
const GCE = '5.0.80.34.bc.googleusercontent.com';
let dns: Dnsmasq;

beforeAll(async () => {
  dns = await startDnsmasq([['3.5.140.2', EC2], ['34.80.0.5', GCE]]);
});
afterAll(async () => {
  await dns?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const ndjson = (out: string): FlowRecord[] => out.trim().split('\n').map((l) => JSON.parse(l) as FlowRecord);
const byClientIp = (recs: FlowRecord[]): Map<string, FlowRecord['client_info']> =>
  new Map(recs.map((r) => [r.client.replace(/:\d+$/, ''), r.client_info]));

describe('analyze attributes every record', () => {
  it('ndjson: client_info from the range files and the ASN database on every record; no rDNS by default', () => {
    const before = dns.ptrQueries();
    const r = runCli(['analyze', '--format', 'ndjson', ...ATTR, '--dns-server', dns.server, MULTI_NET]);
    expect(r.status).toBe(0);
    const recs = ndjson(r.stdout);
    expect(recs).toHaveLength(23);
    expect(recs.every((x) => x.client_info !== undefined)).toBe(true);
    const ci = byClientIp(recs);
    expect(ci.get('3.5.140.2')).toEqual({ rdns: null, provider: 'aws', service: 'EC2', region: 'us-east-1', asn: 16509, as_org: 'AMAZON-02', prefix: '3.5.140.0/22' });
    expect(ci.get('[2600:1f18:4abc::2]')).toEqual({ rdns: null, provider: 'aws', service: 'EC2', region: 'us-east-1', asn: 16509, as_org: 'AMAZON-02', prefix: '2600:1f18:4000::/36' });
    expect(ci.get('34.80.0.5')).toEqual({ rdns: null, provider: 'gcp', service: 'Google Cloud', region: 'asia-east1', asn: 396982, as_org: 'GOOGLE-CLOUD-PLATFORM', prefix: '34.80.0.0/15' });
    expect(ci.get('192.0.2.10')).toEqual({ rdns: null, provider: null, service: null, region: null, asn: 64500, as_org: 'Example Transit', prefix: '192.0.2.0/24' });
    expect(ci.get('100.64.7.9')).toEqual({ rdns: null, provider: null, service: null, region: null, asn: null, as_org: null, prefix: '100.64.7.0/24' });
    // rDNS is off for analyze unless asked: the DNS server saw nothing
    expect(dns.ptrQueries()).toBe(before);
    expect(r.stderr).toMatch(/Top slow networks/);
  });

  it('--rdns asks the --dns-server, once per address (cache), and names land in client_info.rdns', () => {
    const before = { ec2: dns.ptrQueries('3.5.140.2'), all: dns.ptrQueries() };
    const r = runCli(['analyze', '--format', 'ndjson', ...ATTR, '--rdns', '--dns-server', dns.server, MULTI_NET]);
    expect(r.status).toBe(0);
    const recs = ndjson(r.stdout);
    const ci = byClientIp(recs);
    expect(ci.get('3.5.140.2')!.rdns).toBe(EC2);
    expect(ci.get('34.80.0.5')!.rdns).toBe(GCE);
    expect(ci.get('192.0.2.10')!.rdns).toBeNull(); // NXDOMAIN: no note
    expect(recs.flatMap((x) => x.notes).filter((n) => n.startsWith('rdns:'))).toEqual([]);
    // seven client addresses in the capture, 23 records: one query each
    expect(dns.ptrQueries('3.5.140.2') - before.ec2).toBe(1);
    expect(dns.ptrQueries() - before.all).toBe(7);
    expect(r.stderr).toMatch(/^Reverse DNS: 7 queries, 16 cache hits, 2 answered, 5 no name, 0 timeouts, 0 failures,/m);
  });

  it('table: a network column and "Top slow networks" grouped by provider/region, ASN, prefix', () => {
    const r = runCli(['analyze', '--format', 'table', ...ATTR, '--rdns', '--dns-server', dns.server, MULTI_NET]);
    expect(r.status).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[1]).toMatch(/\bnetwork$/);
    expect(lines.find((l) => l.startsWith('3.5.140.2:40302'))).toMatch(/aws us-east-1 EC2 ec2-3-5-140-2\.compute-1\.amazonaws\.com$/);
    const top = r.stdout.slice(r.stdout.indexOf('Top slow networks'));
    const rows = top.split('\n').slice(2).filter((l) => l.trim() !== '');
    expect(rows.map((l) => l.trim().split(/\s{2,}/).slice(0, 3))).toEqual([
      ['aws us-east-1 EC2', '7', 'client 3, network 2, server 1, loss 1'],
      ['AS64500 Example Transit', '3', 'network 2, loss 1'],
      ['gcp asia-east1 Google Cloud', '2', 'server 2'],
      ['100.64.7.0/24', '1', 'network 1'],
    ]);
    // the server-delay network's median total and its largest phase are visible in its line
    expect(rows[2]).toMatch(/total 30[0-9]: server_hello_delay 30[0-9].*\(e\.g\. 5\.0\.80\.34\.bc\.googleusercontent\.com\)$/);
    expect(rows[1]).toMatch(/total 40[0-9]: (tcp_rtt|flight_rtt) 200/);
  });

  it('json: client_info in flows, top_slow_networks and the counters in the summary; --records keeps client_info for `records`', () => {
    const pb = join(dir, 'recs.pb');
    const r = runCli(['analyze', '--format', 'json', ...ATTR, '--records', pb, MULTI_NET]);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { flows: FlowRecord[]; summary: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    expect(j.flows.every((f) => f.client_info !== undefined)).toBe(true);
    expect(j.summary.top_slow_networks.map((x: { network: string; count: number }) => [x.network, x.count])).toEqual([
      ['aws us-east-1 EC2', 7], ['AS64500 Example Transit', 3], ['gcp asia-east1 Google Cloud', 2], ['100.64.7.0/24', 1],
    ]);
    expect(j.summary.enrich).toMatchObject({ records: 23, range_matches: 15, asn_matches: 20 });
    expect(j.summary.ranges.map((f: { format: string }) => f.format)).toEqual(['aws', 'gcp']);
    expect(statSync(pb).mode & 0o777).toBe(0o600);
    const back = runCli(['records', '--format', 'ndjson', pb]);
    expect(back.status).toBe(0);
    expect(ndjson(back.stdout).map((x) => x.client_info)).toEqual(j.flows.map((f) => f.client_info));
    const table = runCli(['records', '--format', 'table', pb]);
    expect(table.stdout).toMatch(/Top slow networks[^\n]*\n[^\n]*\n\s+aws us-east-1 EC2\s+7\s/);
  });

  it('SLOWSHAKE_RANGES and SLOWSHAKE_ASN_DB are the environment twins', () => {
    const r = runCli(['analyze', '--format', 'ndjson', MULTI_NET], { env: { SLOWSHAKE_RANGES: `${AWS_RANGES},${GCP_RANGES}`, SLOWSHAKE_ASN_DB: ASN } });
    expect(r.status).toBe(0);
    expect(byClientIp(ndjson(r.stdout)).get('34.80.0.5')).toMatchObject({ provider: 'gcp', asn: 396982 });
  });
});

describe('bad files and options are one line, exit 2', () => {
  it.each([
    ['a range file that is not JSON', '{"prefixes": [', /^slowshake: --ranges .*bad\.json: not an AWS ip-ranges\.json or Google cloud\.json file \(not JSON: /],
    ['a JSON file of another kind', '{"name": "x"}', /^slowshake: --ranges .*bad\.json: not an AWS ip-ranges\.json or Google cloud\.json file \(no "prefixes" list; keys: "name"\)$/],
    ['a bad prefix', '{"prefixes":[{"ipv4Prefix":"34.80.0.0/99","scope":"x"}]}', /^slowshake: --ranges .*bad\.json: Google range file entry prefixes\[0\]\.ipv4Prefix: "34\.80\.0\.0\/99" is not an IPv4 CIDR prefix$/],
  ])('%s', (_n, text, re) => {
    const f = join(dir, 'bad.json');
    writeFileSync(f, text);
    expectOneLineError(runCli(['analyze', '--ranges', AWS_RANGES, '--ranges', f, MULTI_NET]), re);
  });

  it('an ASN database that is not one, a missing file, a bad --dns-server, --rdns with --no-rdns', () => {
    expectOneLineError(runCli(['analyze', '--asn-db', AWS_RANGES, MULTI_NET]), /^slowshake: --asn-db .*aws-ip-ranges\.json: not a MaxMind DB \(\.mmdb\) file/);
    expectOneLineError(runCli(['analyze', '--ranges', join(dir, 'missing.json'), MULTI_NET]), /^slowshake: --ranges .*missing\.json: cannot read: no such file$/);
    expectOneLineError(runCli(['analyze', '--dns-server', 'ns1.example', MULTI_NET]), /^slowshake: --dns-server: expected an IP address with an optional port.*got "ns1\.example"$/);
    expectOneLineError(runCli(['analyze', '--rdns-timeout', 'soon', MULTI_NET]), /^slowshake: --rdns-timeout: expected /);
    expectOneLineError(runCli(['analyze', '--rdns', '--no-rdns', MULTI_NET]), /^slowshake: --rdns and --no-rdns: give one of them$/);
  });
});
