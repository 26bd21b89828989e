/**
 * Reverse DNS against real servers on loopback (issue 10): Debian's dnsmasq answering PTR
 * records, a server that never answers, one that answers garbage and one that answers a name
 * that is not a host name. The cache, the rate limit and the concurrency bound are observed
 * through the number of queries the server saw; every outcome through the resolver's counters
 * and the record's note.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Enricher } from '../../src/enrich/enricher.js';
import { RdnsResolver, type RdnsOptions } from '../../src/enrich/rdns.js';
import { missingFlowRecord, type FlowRecord } from '../../src/handshake/record.js';
import { startDnsmasq, startUdpDns, type Dnsmasq, type UdpDns } from '../helpers/dns.js';
import { until } from '../helpers/wait.js';

const EC2 = 'ec2-3-5-140-2.compute-1.amazonaws.com';
const V6 = 'host-2600-1f18-4abc--2.example.net';
let dns: Dnsmasq;
const others: UdpDns[] = [];

beforeAll(async () => {
  dns = await startDnsmasq([['3.5.140.2', EC2], ['2600:1f18:4abc::2', V6]]);
});
afterAll(async () => {
  await dns?.stop();
  for (const s of others) await s.stop();
});

function resolver(server: string, o: Partial<RdnsOptions> = {}): RdnsResolver {
  return new RdnsResolver({
    server, timeoutMs: 300, cacheSize: 100, cacheTtlMs: 60_000, negativeTtlMs: 60_000, ratePerSec: 1000, concurrency: 16, queue: 100, ...o,
  });
}

const rec = (client: string): FlowRecord => {
  const r = missingFlowRecord(client, '203.0.113.1:443', null, 'test record');
  r.notes = [];
  return r;
};

/** Submits the records and resolves with them in the order they were emitted. */
async function run(e: Enricher, recs: FlowRecord[]): Promise<FlowRecord[]> {
  const out: FlowRecord[] = [];
  for (const r of recs) e.submit(r, (x) => out.push(x));
  await e.drain();
  return out;
}

const rdnsNotes = (r: FlowRecord): string[] => r.notes.filter((n) => n.startsWith('rdns:'));

describe('reverse DNS from dnsmasq', () => {
  it('IPv4 and IPv6 PTR answers land in client_info.rdns; no PTR record is rdns null without a note', async () => {
    const res = resolver(dns.server);
    const e = new Enricher({ rdns: res, rdnsWaitMs: 5000 });
    const out = await run(e, [rec('3.5.140.2:40001'), rec('[2600:1f18:4abc::2]:40002'), rec('198.51.100.77:40003')]);
    e.close();
    expect(out.map((r) => r.client_info!.rdns)).toEqual([EC2, V6, null]);
    expect(out.flatMap(rdnsNotes)).toEqual([]);
    expect(res.stats).toMatchObject({ lookups: 3, answered: 2, not_found: 1, timeouts: 0, failures: 0 });
  });

  it('the cache: one query per address, however many records and however close together', async () => {
    const before = dns.ptrQueries('3.5.140.2');
    const res = resolver(dns.server);
    const e = new Enricher({ rdns: res, rdnsWaitMs: 5000 });
    // five at once (they join the query in flight), then five more once it is answered
    const first = await run(e, Array.from({ length: 5 }, (_, i) => rec(`3.5.140.2:${41000 + i}`)));
    const second = await run(e, Array.from({ length: 5 }, (_, i) => rec(`3.5.140.2:${42000 + i}`)));
    e.close();
    expect([...first, ...second].map((r) => r.client_info!.rdns)).toEqual(Array(10).fill(EC2));
    await until(() => dns.ptrQueries('3.5.140.2') > before);
    expect(dns.ptrQueries('3.5.140.2') - before).toBe(1);
    expect(res.stats).toMatchObject({ lookups: 1, cache_hits: 9 });
  });

  it('the cache is bounded: the least recently used address is evicted (counted) and asked again', async () => {
    const res = resolver(dns.server, { cacheSize: 2 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 5000 });
    await run(e, [rec('198.51.100.1:1'), rec('198.51.100.2:1'), rec('198.51.100.3:1'), rec('198.51.100.1:2')]);
    e.close();
    expect(res.stats).toMatchObject({ lookups: 4, cache_evictions: 2, cache_hits: 0 });
    expect(res.cached).toBe(2);
  });

  it('the rate limit: beyond it lookups wait (counted); records waiting too long go on with rdns null and a note', async () => {
    const ips = ['198.51.101.1', '198.51.101.2', '198.51.101.3', '198.51.101.4', '198.51.101.5'];
    const before = dns.ptrQueries();
    const started = performance.now();
    const res = resolver(dns.server, { ratePerSec: 1 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 300 });
    const out = await run(e, ips.map((ip) => rec(`${ip}:443`)));
    const elapsedS = (performance.now() - started) / 1000;
    e.close();
    expect(res.stats.rate_limited).toBe(4);
    expect(out.slice(1).map(rdnsNotes)).toEqual(Array(4).fill(['rdns: no answer within 300 ms; record emitted without it']));
    expect(e.stats.rdns_wait_expired).toBe(4);
    // one token at the start, one more per second since
    await until(() => dns.ptrQueries() > before);
    expect(dns.ptrQueries() - before).toBeLessThanOrEqual(1 + Math.floor(elapsedS));
    expect(res.stats.lookups).toBe(dns.ptrQueries() - before);
  });
});

describe('servers that fail', () => {
  it('a server that never answers: the query times out (counted), the record says so', async () => {
    const silent = await startUdpDns('silent');
    others.push(silent);
    const res = resolver(silent.server, { timeoutMs: 200 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 10_000 });
    const [r] = await run(e, [rec('3.5.140.2:1')]);
    e.close();
    expect(r!.client_info!.rdns).toBeNull();
    expect(rdnsNotes(r!)).toEqual(['rdns: the DNS server did not answer within 200 ms']);
    expect(res.stats).toMatchObject({ lookups: 1, timeouts: 1, answered: 0 });
    expect(silent.queries).toBe(1);
  });

  it('the concurrency bound and the wait queue: beyond both, lookups are dropped (counted) and never sent', async () => {
    const silent = await startUdpDns('silent');
    others.push(silent);
    const res = resolver(silent.server, { timeoutMs: 200, concurrency: 1, queue: 2 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 10_000 });
    const out = await run(e, ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4', '10.9.0.5'].map((ip) => rec(`${ip}:1`)));
    e.close();
    expect(res.stats).toMatchObject({ waited_for_slot: 2, dropped: 2, lookups: 3, timeouts: 3 });
    expect(out.slice(3).map(rdnsNotes)).toEqual(Array(2).fill(['rdns: not looked up: 2 lookups were already waiting (rate and concurrency bounds)']));
    expect(silent.queries).toBe(3);
  });

  it('a negative outcome is cached too: a dead server is not asked again for the next record', async () => {
    const silent = await startUdpDns('silent');
    others.push(silent);
    const res = resolver(silent.server, { timeoutMs: 100 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 10_000 });
    await run(e, [rec('3.5.140.2:1')]);
    const [again] = await run(e, [rec('3.5.140.2:2')]);
    e.close();
    expect(silent.queries).toBe(1);
    expect(rdnsNotes(again!)).toEqual(['rdns: the DNS server did not answer within 100 ms']);
  });

  it('garbage answers and names that are not host names are failures (counted), never an rdns value', async () => {
    const garbage = await startUdpDns('truncated');
    const badName = await startUdpDns('bad-name');
    others.push(garbage, badName);
    const r1 = resolver(garbage.server);
    const r2 = resolver(badName.server);
    const e1 = new Enricher({ rdns: r1, rdnsWaitMs: 10_000 });
    const e2 = new Enricher({ rdns: r2, rdnsWaitMs: 10_000 });
    const [a] = await run(e1, [rec('3.5.140.2:1')]);
    const [b] = await run(e2, [rec('3.5.140.2:1')]);
    e1.close();
    e2.close();
    expect(a!.client_info!.rdns).toBeNull();
    expect(rdnsNotes(a!)).toHaveLength(1);
    expect(rdnsNotes(a!)[0]).toMatch(/^rdns: lookup failed \(E[A-Z]+\)$/);
    expect(r1.stats).toMatchObject({ lookups: 1, failures: 1, answered: 0 });
    expect(b!.client_info!.rdns).toBeNull();
    expect(rdnsNotes(b!)).toEqual(['rdns: lookup failed (invalid_name)']);
    expect(r2.stats).toMatchObject({ lookups: 1, failures: 1, answered: 0 });
    expect(garbage.queries).toBe(1);
    expect(badName.queries).toBe(1);
  });

  it('records keep their order, and close() emits the ones still waiting at once', async () => {
    const silent = await startUdpDns('silent');
    others.push(silent);
    const res = resolver(silent.server, { timeoutMs: 5000 });
    const e = new Enricher({ rdns: res, rdnsWaitMs: 60_000, maxPending: 2 });
    const out: FlowRecord[] = [];
    const recs = ['10.8.0.1', '10.8.0.2', '10.8.0.3'].map((ip) => rec(`${ip}:1`));
    for (const r of recs) e.submit(r, (x) => out.push(x));
    // maxPending 2: the third record pushed the first out without waiting
    expect(out).toEqual([recs[0]]);
    expect(rdnsNotes(recs[0]!)).toEqual(['rdns: not waited for: 2 records were already waiting for reverse DNS']);
    e.close();
    expect(out).toEqual(recs);
    expect(rdnsNotes(recs[2]!)).toEqual(['rdns: not waited for: enrichment stopped']);
    expect(e.stats).toMatchObject({ rdns_wait_overflow: 1, rdns_wait_closed: 2, rdns_wait_expired: 0, pending: 0 });
    expect(res.stats).toMatchObject({ lookups: 3, cancelled: 3 });
  });
});
