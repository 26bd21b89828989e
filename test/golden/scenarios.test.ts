/**
 * Scenario suite: every flow of every `captures/expected/*.json` (the capture generator's truth:
 * real openssl/curl/Node handshakes with an injected fault) against the analyzer's record.
 *
 * Per flow: exactly one record; flags, version, SNI and the selected ALPN as generated; the
 * verdict when the generator names one; at least the retransmissions it caused; the breakdown
 * adds up to `total`; the entry the injected fault inflates is the largest one and carries most of
 * the injected time; the generator's per-phase lower bounds hold.
 *
 * Scenarios are read at collection time, so ones the generator adds later are covered as they
 * appear. The tshark cross-checks of the same records live in tshark-crosscheck.test.ts.
 */
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyzeCaptures, type FlowRecord } from '../../src/index.js';
import {
  BREAKDOWN, INFLATED_BY, PHASES, TIMELINE, loadScenarios, type BreakdownName, type ExpectedFlow, type Scenario,
} from '../helpers/scenario-expected.js';

const scenarios = loadScenarios();

/** Share of the injected delay the inflated entry must carry (the rest is scheduling and jitter). */
const INJECTED_SHARE = 0.8;
/** `total` vs the sum of the breakdown: both are rounded to whole µs per entry. */
const SUM_TOLERANCE_MS = 0.01;

const analyses = new Map<string, Promise<FlowRecord[]>>();
function recordsOf(s: Scenario): Promise<FlowRecord[]> {
  let p = analyses.get(s.capturePath);
  if (p === undefined) analyses.set(s.capturePath, (p = analyzeCaptures([s.capturePath]).then((r) => r.records)));
  return p;
}

async function recordFor(s: Scenario, flow: ExpectedFlow): Promise<FlowRecord> {
  const recs = (await recordsOf(s)).filter((r) => r.client === flow.client);
  expect(recs.map((r) => `${r.client} -> ${r.server}`), `records for ${flow.client}`).toEqual([`${flow.client} -> ${flow.server}`]);
  return recs[0]!;
}

const breakdown = (r: FlowRecord, n: BreakdownName): number => r.phases_ms[n] ?? 0;

describe('scenario table', () => {
  it('has scenarios', () => {
    expect(scenarios.length).toBeGreaterThan(0);
  });
  it.each(scenarios.map((s) => [s.scenario, s] as const))('%s: capture exists, flows are unique', (_n, s) => {
    expect(existsSync(s.capturePath), s.capturePath).toBe(true);
    const clients = s.flows.map((f) => f.client);
    expect(new Set(clients).size).toBe(clients.length);
  });
});

for (const s of scenarios) {
  describe(`${s.scenario} (${s.capture})`, () => {
    it('every record of the capture is a listed flow', async () => {
      const listed = new Set(s.flows.map((f) => f.client));
      expect((await recordsOf(s)).map((r) => r.client).filter((c) => !listed.has(c))).toEqual([]);
    });

    for (const flow of s.flows) {
      const ex = flow.expect;
      const inj = flow.injected;
      describe(`${flow.client} (${inj.kind}${inj.ms ? ` ${inj.ms} ms` : ''})`, () => {
        it('exactly one record, to the listed server', async () => {
          await recordFor(s, flow);
        });

        it('version, flags, SNI, selected ALPN', async () => {
          const r = await recordFor(s, flow);
          const want: Record<string, unknown> = {};
          const got: Record<string, unknown> = {};
          const cmp = (k: string, w: unknown, g: unknown): void => {
            if (w === undefined) return;
            want[k] = w;
            got[k] = g;
          };
          cmp('tls_version', flow.tls_version, r.tls_version);
          cmp('sni', flow.sni, r.sni);
          // The record's `alpn` is the client's offer, comma-joined; `alpn_selected` the server's
          // choice where the wire shows it (TLS 1.2 ServerHello; TLS 1.3 encrypts it). Older
          // generator files had only `alpn`, meaning the selected protocol.
          if (flow.alpn_offered !== undefined) cmp('alpn', flow.alpn_offered === null ? null : flow.alpn_offered.join(','), r.alpn);
          cmp('alpn_selected', flow.alpn_selected !== undefined ? flow.alpn_selected : flow.alpn, r.alpn_selected);
          cmp('hrr', ex.hrr, r.hrr);
          cmp('resumed', ex.resumed, r.resumed);
          cmp('slow', ex.slow, r.slow);
          cmp('cwnd_stall', ex.cwnd_stall, r.cwnd_stall);
          // Only the mtls flows send client certificates; every other flow must not be flagged.
          cmp('client_cert', ex.client_cert ?? false, r.client_cert);
          // The Finished is found by its record length everywhere except where records are padded.
          cmp('finished_fallback', ex.finished_fallback ?? false, r.notes.some((n) => n.startsWith('client Finished not found by its record size')));
          // TCP Fast Open (issue 15): `tfo` only on flows whose SYN carried the ClientHello (never
          // on a cookie request); refused SYN data is said in a note.
          cmp('tfo', ex.tfo ?? false, r.tfo === true);
          cmp('tfo_refused', ex.tfo_refused ?? false, r.notes.some((n) => n.startsWith('TCP Fast Open: the server did not accept')));
          expect(got).toEqual(want);
        });

        if (ex.verdict !== undefined) {
          it(`verdict ${ex.verdict}`, async () => {
            const r = await recordFor(s, flow);
            expect(r.verdict, JSON.stringify(r.phases_ms)).toBe(ex.verdict);
          });
        }

        it('retransmissions at least as injected', async () => {
          const r = await recordFor(s, flow);
          expect(r.retransmits.server).toBeGreaterThanOrEqual(ex.retransmits_server_min ?? 0);
          expect(r.retransmits.client).toBeGreaterThanOrEqual(ex.retransmits_client_min ?? 0);
        });

        if (ex.verdict === 'incomplete') return;

        it('complete, and the breakdown adds up to total', async () => {
          const r = await recordFor(s, flow);
          // Unless the generator says otherwise, a flow completes its handshake inside the capture.
          expect(r.verdict).not.toBe('incomplete');
          expect(r.missing).toEqual([]);
          expect(r.timeline.done).not.toBeNull();
          expect(r.phases_ms.total).not.toBeNull();
          for (const n of [...BREAKDOWN, 'total' as const]) {
            const v = r.phases_ms[n];
            if (v !== null) expect(v, n).toBeGreaterThanOrEqual(0);
          }
          // HRR phases exist exactly for HRR flows; the others whenever the record is complete.
          for (const n of PHASES) {
            const hrrPhase = n === 'hrr_rtt' || n === 'hrr_server_delay';
            expect(r.phases_ms[n] === null, `${n} null`).toBe(hrrPhase && !r.hrr);
          }
          const sum = BREAKDOWN.reduce((a, n) => a + breakdown(r, n), 0);
          expect(Math.abs(sum - r.phases_ms.total!), `sum ${sum} vs total ${r.phases_ms.total}`).toBeLessThanOrEqual(SUM_TOLERANCE_MS);
          // total spans syn → done exactly (µs → ms).
          if (r.timeline.syn !== null) expect(r.phases_ms.total).toBeCloseTo((r.timeline.done! - r.timeline.syn) / 1000, 6);
        });

        it('timeline points in handshake order', async () => {
          const r = await recordFor(s, flow);
          if (r.tfo === true) {
            // TCP Fast Open: the ClientHello starts in the SYN, and the server may answer before the
            // client's ACK (design.md); every other point keeps its order.
            expect(r.timeline.client_hello, 'client_hello is the SYN').toBe(r.timeline.syn);
            if (!ex.tfo_refused) expect(r.timeline.client_hello_end, 'the whole hello fits in the SYN').toBe(r.timeline.syn);
          }
          const seen = TIMELINE.filter((n) => r.timeline[n] !== null && !(r.tfo === true && (n === 'ack' || n === 'client_hello' || n === 'client_hello_end')));
          const out = seen.filter((n, i) => i > 0 && r.timeline[n]! < r.timeline[seen[i - 1]!]!);
          expect(out.map((n) => `${n} before ${seen[seen.indexOf(n) - 1]}`), JSON.stringify(r.timeline)).toEqual([]);
        });

        if (inj.kind !== 'none') {
          const inflated = [...new Set<BreakdownName>([
            ...(INFLATED_BY[inj.kind] ?? []),
            ...(Object.keys(ex.phase_min_ms ?? {}) as BreakdownName[]),
          ])];
          it(`${inj.kind} inflates ${inflated.join('/') || '?'} most, by ≥ ${INJECTED_SHARE * 100}% of ${inj.ms} ms`, async () => {
            expect(inflated.length, `no phase known for injected kind ${inj.kind}`).toBeGreaterThan(0);
            const r = await recordFor(s, flow);
            const largest = [...BREAKDOWN].sort((a, b) => breakdown(r, b) - breakdown(r, a))[0]!;
            expect(inflated, `largest entry ${largest} in ${JSON.stringify(r.phases_ms)}`).toContain(largest);
            expect(breakdown(r, largest)).toBeGreaterThanOrEqual(INJECTED_SHARE * inj.ms);
          });
        }

        if (ex.phase_min_ms !== undefined) {
          const mins = ex.phase_min_ms;
          it(`phase lower bounds ${JSON.stringify(mins)}`, async () => {
            const r = await recordFor(s, flow);
            const short = Object.entries(mins).filter(([n, min]) => breakdown(r, n as BreakdownName) < min!);
            expect(short.map(([n, min]) => `${n} ${r.phases_ms[n as BreakdownName]} < ${min}`)).toEqual([]);
          });
        }
      });
    }
  });
}
