/**
 * Issue 11: the client's second flight measured as it is, on real captures (captures/tls/mtls.pcap
 * and client-ack-finished.pcap, made by scripts/gen-captures; truth in captures/expected/).
 *
 * - `done` (TLS 1.3) is the segment completing the client's Finished, which tshark shows decrypted
 *   with the server's key log (captures/keys/mtls.keys) — before the fix it was the flight's first
 *   segment, the start of the client's certificate chain.
 * - The chain's transfer is `client_flight_xfer` (network), not `server_finish`: a TLS 1.2 mTLS
 *   flow over a delayed small-MSS path was a "slow server" before the fix.
 * - When the client's ACK of the server flight rides on its second flight, the client's delay is
 *   moved out of `flight_rtt` (network) into `client_think`, and the record says it is estimated.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { analyzeCaptures, type FlowRecord } from '../../src/index.js';
import { CAPTURES } from '../helpers/cli.js';
import { keylogOf, tsharkConnections } from '../helpers/tshark-frames.js';

const MTLS = join(CAPTURES, 'mtls.pcap');
const ACK_ON_FIN = join(CAPTURES, 'client-ack-finished.pcap');
const HS_FINISHED = 20;

async function records(file: string): Promise<Map<string, FlowRecord>> {
  const recs = (await analyzeCaptures([file])).records;
  return new Map(recs.map((r) => [r.client.replace(/^.*:/, ''), r]));
}

describe('issue 11: mutual TLS client flights (mtls.pcap)', () => {
  it('TLS 1.3 over MSS 300: done is the frame tshark decrypts the client Finished in, after 10+ client segments', async () => {
    expect(keylogOf(MTLS)).not.toBeNull();
    const r = (await records(MTLS)).get('41404')!;
    const conn = tsharkConnections(MTLS).find((c) => c.client === r.client)!;
    const cf = conn.frames.filter((f) => f.src === conn.client && f.tsUs >= r.timeline.client_finished!);
    const fin = cf.find((f) => f.hsTypes.includes(HS_FINISHED))!;
    expect(fin).toBeDefined();
    expect(r.timeline.client_flight_end).toBe(fin.tsUs);
    expect(r.timeline.done).toBe(fin.tsUs);
    const segs = cf.filter((f) => f.len > 0 && f.no <= fin.no);
    expect(segs.length).toBeGreaterThanOrEqual(10);
    expect(r.timeline.done).toBeGreaterThan(r.timeline.client_finished!); // not the flight's first segment
    expect(r.client_cert).toBe(true);
    expect(r.notes.some((n) => n.startsWith('client_cert inferred'))).toBe(true);
  });

  it('TLS 1.2 over a delayed MSS-300 path: the ~800 ms chain transfer is client_flight_xfer, the verdict network, server_finish small', async () => {
    const r = (await records(MTLS)).get('41407')!;
    expect(r.tls_version).toBe('1.2');
    expect(r.phases_ms.client_flight_xfer!).toBeGreaterThan(500);
    expect(r.phases_ms.server_finish!).toBeLessThan(20);
    expect(r.verdict).toBe('network');
    expect(r.client_cert).toBe(true);
    expect(r.notes.filter((n) => n.startsWith('client_cert inferred'))).toEqual([]); // seen in the clear
  });

  it('a client with no certificate to give (empty Certificate) is not flagged, TLS 1.3 and 1.2', async () => {
    const m = await records(MTLS);
    expect([m.get('41412')!.client_cert, m.get('41413')!.client_cert]).toEqual([false, false]);
  });
});

describe('issue 11: the client ACK rides on its second flight (client-ack-finished.pcap)', () => {
  it('the 25 ms the client held its flight is client_think, flight_rtt is capped at tcp_rtt, and the record says so', async () => {
    const m = await records(ACK_ON_FIN);
    for (const port of ['41501', '41502']) {
      const r = m.get(port)!;
      expect(r.timeline.client_ack).toBe(r.timeline.client_finished);
      expect(r.phases_ms.client_think!).toBeGreaterThanOrEqual(22);
      expect(r.phases_ms.flight_rtt!).toBeLessThanOrEqual(r.phases_ms.tcp_rtt!);
      expect(r.verdict).toBe('client');
      expect(r.notes.some((n) => n.startsWith('flight_rtt split (estimated)'))).toBe(true);
    }
    // Over +50 ms each way the round trip stays network: flight_rtt = tcp_rtt, the 30 ms hold is the client's.
    const d = m.get('41503')!;
    expect(d.phases_ms.flight_rtt).toBe(d.phases_ms.tcp_rtt);
    expect(d.phases_ms.client_think!).toBeGreaterThanOrEqual(27);
  });
});
