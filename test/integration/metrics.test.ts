/**
 * Prometheus metrics of measured handshakes, scraped over HTTP from the metrics server on
 * loopback: `promtool check metrics` (Debian's prometheus package, installed by
 * scripts/install.sh) accepts them, and the counts equal the records of the bundled captures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures, type FlowRecord } from '../../src/index.js';
import { HandshakeMetrics, MetricsServer } from '../../src/sinks/prometheus.js';
import { CAPTURES } from '../helpers/cli.js';
import { metric } from '../helpers/prom.js';

let records: FlowRecord[];
let server: MetricsServer;
let url: string;
let metrics: HandshakeMetrics;

beforeAll(async () => {
  const files = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CAPTURES, f));
  records = (await analyzeCaptures(files, { slowMs: 200 })).records;
  metrics = new HandshakeMetrics();
  for (const r of records) metrics.observe(r);
  metrics.setCapture({ packets: 1000, bytes: 123456, kernelDrops: 3, ifDrops: 0, ringOverwrites: 10, ringReachSeconds: 42.5 });
  metrics.setCapture({ packets: 1500, bytes: 200000, kernelDrops: 3, ifDrops: 0, ringOverwrites: 12, ringReachSeconds: 40 });
  metrics.setJournal({ entries: 7, events: 5, lagSeconds: 0.25 });
  metrics.setEvidence({ pcapsWritten: 4, writeFailures: 1 });
  server = new MetricsServer(metrics);
  const a = await server.listen('127.0.0.1', 0);
  url = `http://127.0.0.1:${a.port}/metrics`;
});
afterAll(async () => { await server?.close(); });


describe('metrics', () => {
  it('promtool check metrics accepts the scrape', async () => {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect(r.error, 'promtool (Debian package prometheus) must be installed: bash scripts/install.sh').toBeUndefined();
    expect(r.status, `${r.stdout}${r.stderr}`).toBe(0);
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
  });

  it('counts every handshake once, by verdict, TLS version and slow, and each phase', async () => {
    const text = await (await fetch(url)).text();
    expect(metric(text, 'slowshake_handshakes_total')).toBe(records.length);
    for (const v of ['client', 'network', 'server', 'loss', 'incomplete']) {
      expect(metric(text, 'slowshake_handshakes_total', { verdict: v }), v).toBe(records.filter((r) => r.verdict === v).length);
      expect(metric(text, 'slowshake_handshake_duration_seconds_count', { verdict: v })).toBe(records.filter((r) => r.verdict === v && r.phases_ms.total !== null).length);
    }
    expect(metric(text, 'slowshake_handshakes_total', { slow: 'true' })).toBe(records.filter((r) => r.slow).length);
    expect(metric(text, 'slowshake_handshakes_total', { tls_version: '1.2' })).toBe(records.filter((r) => r.tls_version === '1.2').length);
    const think = records.filter((r) => r.phases_ms.client_think !== null);
    expect(metric(text, 'slowshake_handshake_phase_seconds_count', { phase: 'client_think' })).toBe(think.length);
    expect(metric(text, 'slowshake_handshake_phase_seconds_sum', { phase: 'client_think' }))
      .toBeCloseTo(think.reduce((a, r) => a + r.phases_ms.client_think! / 1000, 0), 6);
  });

  it('mirrors the engine totals as counters (no double counting) and levels as gauges', async () => {
    const text = await (await fetch(url)).text();
    expect(metric(text, 'slowshake_capture_packets_total')).toBe(1500);
    expect(metric(text, 'slowshake_capture_kernel_drops_total')).toBe(3);
    expect(metric(text, 'slowshake_ring_overwrites_total')).toBe(12);
    expect(metric(text, 'slowshake_ring_reach_seconds')).toBe(40);
    expect(metric(text, 'slowshake_journal_events_total')).toBe(5);
    expect(metric(text, 'slowshake_evidence_write_failures_total')).toBe(1);
    expect(metric(text, 'slowshake_process_resident_memory_bytes')).toBeGreaterThan(0);
  });

  it('serves /metrics only, on loopback by default', async () => {
    expect((await fetch(url.replace('/metrics', '/'))).status).toBe(404);
    expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    const s = new MetricsServer(metrics);
    const a = await s.listen(undefined, 0);
    expect(a.host).toBe('127.0.0.1');
    await s.close();
  });
});
