/**
 * Live records against offline ones, for tests that run the analyzer on a live capture (ring →
 * follower → analyzer) and `analyze` on tcpdump's full capture of the same traffic.
 */
import { expect } from 'vitest';
import type { LiveCapture } from '../../src/sources/live-capture.js';
import type { FlowRecord } from '../../src/handshake/record.js';
import { parseEndpoint } from '../../src/correlate/journal-event.js';

/** The fields these tests read of a record's JSON. */
export type Rec = {
  client: string; server: string; sni: string | null; hrr: boolean; notes: string[]; retransmits: { client: number; server: number };
  timeline: Record<string, number | null>; phases_ms: Record<string, number | null>;
};

/** Records' JSON texts by "client server". */
export function byFlow(xs: string[]): Map<string, Rec> {
  return new Map(xs.map((j) => { const r = JSON.parse(j) as Rec; return [`${r.client} ${r.server}`, r]; }));
}

/** Marks the record's flow done in the capture's kernel filter, from its "ip:port" strings. */
export function markRecordDone(cap: LiveCapture, r: FlowRecord): void {
  const c = parseEndpoint(r.client), s = parseEndpoint(r.server);
  if (c === null || s === null) throw new Error(`unparsable record endpoints ${r.client} ${r.server}`);
  cap.markDone(c.addr.length === 16 ? 6 : 4, c.addr, c.port, s.addr, s.port);
}

/**
 * Each live record equals the offline one of its flow. Two packet sockets stamp one packet up to
 * a few µs apart (live-capture.test.ts allows 100 µs), so timeline points may differ by 100 µs
 * and phases by 0.3 ms, and notes, which quote durations, are compared without their numbers.
 */
export function expectLiveEqualsOffline(live: Map<string, Rec>, offline: Map<string, Rec>, label = ''): void {
  for (const [k, rec] of live) {
    const o = offline.get(k)!;
    for (const [point, t] of Object.entries(rec.timeline)) {
      const u = o.timeline[point]!;
      if (t === null || u === null) expect(t, `${label}${k} ${point}`).toBe(u);
      else expect(Math.abs(t - u), `${label}${k} ${point}`).toBeLessThanOrEqual(100);
    }
    for (const [phase, v] of Object.entries(rec.phases_ms)) {
      const u = o.phases_ms[phase]!;
      if (v === null || u === null) expect(v, `${label}${k} ${phase}`).toBe(u);
      else expect(Math.abs(v - u), `${label}${k} ${phase}`).toBeLessThanOrEqual(0.3);
    }
    const rest = (x: Rec): unknown => ({ ...x, timeline: undefined, phases_ms: undefined, notes: x.notes.map((n) => n.replace(/\d+(\.\d+)?/g, '#')) });
    expect(rest(rec), `${label}${k}`).toEqual(rest(o));
  }
}
