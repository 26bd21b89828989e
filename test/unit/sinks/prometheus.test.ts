/**
 * HandshakeMetrics keeps the handshake histograms and counter itself and copies them into
 * prom-client's series when scraped: the exposition must be byte for byte what prom-client's own
 * observe()/inc() per record gives (the code before that change, kept here as the reference).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Counter, Histogram, Registry } from 'prom-client';
import { analyzeCaptures, type FlowRecord } from '../../../src/index.js';
import { PHASES } from '../../../src/handshake/phases.js';
import { HANDSHAKE_BUCKETS, HandshakeMetrics, PHASE_BUCKETS } from '../../../src/sinks/prometheus.js';
import { CAPTURES } from '../../helpers/cli.js';

const PHASE_LABELS = [...PHASES, 'loss', 'cwnd_stall'] as const;

/** prom-client used per record, as HandshakeMetrics.observe did before. */
function reference(): { registry: Registry; observe: (rec: FlowRecord) => void } {
  const r = new Registry();
  const handshakes = new Counter({ name: 'slowshake_handshakes_total', help: 'TLS handshakes measured, each counted once when its record is built.', labelNames: ['verdict', 'tls_version', 'slow'], registers: [r] });
  const duration = new Histogram({ name: 'slowshake_handshake_duration_seconds', help: 'Handshake time on the wire, SYN (or first packet) to done.', labelNames: ['verdict'], buckets: HANDSHAKE_BUCKETS, registers: [r] });
  const phase = new Histogram({ name: 'slowshake_handshake_phase_seconds', help: 'Time of each handshake phase (design.md phase model; loss and cwnd_stall included).', labelNames: ['phase'], buckets: PHASE_BUCKETS, registers: [r] });
  for (const verdict of ['client', 'network', 'server', 'loss', 'incomplete']) {
    for (const slow of ['true', 'false']) for (const tls_version of ['1.2', '1.3']) handshakes.inc({ verdict, tls_version, slow }, 0);
    duration.zero({ verdict });
  }
  for (const p of PHASE_LABELS) phase.zero({ phase: p });
  const versions = new Set(['1.0', '1.1', '1.2', '1.3']);
  return {
    registry: r,
    observe(rec) {
      const tls = rec.tls_version !== null && versions.has(rec.tls_version) ? rec.tls_version : 'unknown';
      handshakes.inc({ verdict: rec.verdict, tls_version: tls, slow: rec.slow ? 'true' : 'false' });
      if (rec.phases_ms.total !== null) duration.observe({ verdict: rec.verdict }, rec.phases_ms.total / 1000);
      for (const p of PHASE_LABELS) {
        const v = rec.phases_ms[p];
        if (v !== null) phase.observe({ phase: p }, v / 1000);
      }
    },
  };
}

/** The three handshake metrics of an exposition. */
function handshakeSeries(text: string): string {
  return text.split('\n').filter((l) => /slowshake_handshake(s_total|_duration_seconds|_phase_seconds)/.test(l)).join('\n');
}

describe('HandshakeMetrics.observe', () => {
  it('exposes exactly what prom-client per record gives, between and after scrapes, new label sets in first-seen order', async () => {
    const files = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CAPTURES, f));
    const records = (await analyzeCaptures(files, { slowMs: 200 })).records;
    expect(records.length).toBeGreaterThan(20);
    // Label sets the constructor does not create: an unknown and an old TLS version.
    const odd = [structuredClone(records[0]!), structuredClone(records[1]!)];
    odd[0]!.tls_version = null;
    odd[1]!.tls_version = '1.0';
    const all = [...records.slice(0, 10), ...odd, ...records.slice(10), ...records];
    const ref = reference();
    const m = new HandshakeMetrics({ processMetrics: false });
    for (let i = 0; i < all.length; i++) {
      ref.observe(all[i]!);
      m.observe(all[i]!);
      if (i % 17 === 0) expect(handshakeSeries(await m.registry.metrics())).toBe(handshakeSeries(await ref.registry.metrics()));
    }
    const text = await m.registry.metrics();
    expect(handshakeSeries(text)).toBe(handshakeSeries(await ref.registry.metrics()));
    expect(text).toContain('tls_version="unknown"');
    // get() (the JSON form) collects too.
    expect(JSON.stringify(await m.registry.getMetricsAsJSON())).toContain('"slowshake_handshake_phase_seconds"');
  });

  it('refuses a value that is not a number as prom-client does', () => {
    const m = new HandshakeMetrics({ processMetrics: false });
    const rec = { verdict: 'client', tls_version: '1.3', slow: false, phases_ms: { total: Number.NaN } } as unknown as FlowRecord;
    expect(() => m.observe(rec)).toThrow(/Value is not a valid number: NaN/);
  });
});
