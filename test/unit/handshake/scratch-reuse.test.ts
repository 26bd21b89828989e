/**
 * Issue 13's reuse of per-call scratch, checked against the allocating forms on real captures:
 * computePhasesInto with one breakdown reused across flows gives what computePhases gives fresh,
 * and scanServerHello (the tracker's parse into the module scratch) reads every ServerHello and
 * HelloRetryRequest as decodeServerHello does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyzeCaptures } from '../../../src/index.js';
import { computePhases, computePhasesInto, newBreakdown } from '../../../src/handshake/phases.js';
import { TIMELINE_POINTS } from '../../../src/handshake/timeline.js';
import { decodeServerHello, scanServerHello } from '../../../src/decode/tls-hello.js';
import { CAPTURES } from '../../helpers/cli.js';
import { readPcap } from '../../helpers/capture-variants.js';

const FILES = ['fast-tls13.pcap', 'fast-tls12.pcap', 'hrr.pcap', 'loss-server-flight.pcap', 'cwnd-stall.pcap', 'resumption.pcap', 'tfo.pcap', 'mtls.pcap', 'ipv6.pcap'];

describe('computePhasesInto with a reused breakdown', () => {
  it('equals computePhases for every flow of the captures, whatever the previous flow left in it', async () => {
    const r = await analyzeCaptures(FILES.map((f) => join(CAPTURES, f)));
    expect(r.records.length).toBeGreaterThan(10);
    const reused = newBreakdown();
    let n = 0;
    for (const rec of r.records) {
      const tl = TIMELINE_POINTS.map((p) => rec.timeline[p] ?? -1);
      const first = tl.find((v) => v >= 0) ?? 0;
      // Loss and stall pairs from the flow's own points, so the merge paths run too.
      const cases: [number[], number[], number][] = [[[], [], -1], [[first, first + 500], [first + 100, first + 900], -1], [[], [], first + 200]];
      for (const [loss, stalls, tfo] of cases) {
        const fresh = computePhases(tl, first, loss, stalls, tfo);
        expect(computePhasesInto(reused, tl, first, loss, stalls, tfo)).toEqual(fresh);
        n++;
      }
    }
    expect(n).toBe(3 * r.records.length);
  });
});

/** Bodies of the ServerHello messages (type 2) that start a segment's first record, by a plain Ethernet/IPv4|IPv6/TCP walk. */
function serverHelloBodies(file: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const p of readPcap(readFileSync(join(CAPTURES, file))).packets) {
    const d = p.data;
    const et = (d[12]! << 8) | d[13]!;
    let t: number;
    if (et === 0x0800 && d[23] === 6) t = 14 + (d[14]! & 15) * 4;
    else if (et === 0x86dd && d[20] === 6) t = 54;
    else continue;
    const pay = t + (d[t + 12]! >> 4) * 4;
    if (d.length < pay + 9 || d[pay] !== 22 || d[pay + 1] !== 3 || d[pay + 5] !== 2) continue;
    const len = (d[pay + 6]! << 16) | (d[pay + 7]! << 8) | d[pay + 8]!;
    if (pay + 9 + len <= d.length) out.push(d.subarray(pay + 9, pay + 9 + len));
  }
  return out;
}

describe('scanServerHello', () => {
  it('reads the ServerHellos and HRRs of the captures as decodeServerHello does', () => {
    let n = 0, hrr = 0, tls12 = 0;
    for (const f of FILES) {
      for (const body of serverHelloBodies(f)) {
        const d = decodeServerHello(body, 0, body.length);
        expect(d).not.toBeNull();
        const x = scanServerHello(body, 0, body.length)!;
        expect({ version: x.version, cipherSuite: x.cipherSuite, hrr: x.hrr, psk: x.psk, alpn: x.selected, legacyVersion: x.legacyVersion, sessionIdLength: x.sessionIdLength, extensions: x.exts.slice(0, x.nExts) })
          .toEqual({ version: d!.version, cipherSuite: d!.cipherSuite, hrr: d!.hrr, psk: d!.pskAccepted, alpn: d!.alpn, legacyVersion: d!.legacyVersion, sessionIdLength: d!.sessionIdLength, extensions: d!.extensions });
        n++;
        if (d!.hrr) hrr++;
        if (d!.version === 0x0303) tls12++;
      }
    }
    expect(n).toBeGreaterThan(10);
    expect(hrr).toBeGreaterThan(0);
    expect(tls12).toBeGreaterThan(0);
  });

  it('fails on a truncated ServerHello as decodeServerHello does', () => {
    const body = serverHelloBodies('fast-tls13.pcap')[0]!;
    for (const cut of [0, 10, 34, 36, 38, body.length - 1]) {
      expect(scanServerHello(body, 0, cut) === null).toBe(decodeServerHello(body, 0, cut) === null);
    }
  });
});
