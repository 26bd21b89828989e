/**
 * tshark cross-check of the analyzer on every scenario capture (captures/expected/*.json): an
 * independent dissector (Wireshark 4.0) must see the same TLS connections, and every timestamp in
 * every record must be the capture time of a real frame of that connection, sent by the side the
 * timeline point belongs to. The points tshark can identify on its own are compared exactly; see
 * tshark-handshake.ts for the rules and tshark-frames.ts for tshark's semantics.
 *
 * Timestamps are compared as integers: tshark's `frame.time_epoch` text truncated to whole µs
 * (decimal arithmetic, no float) against the record's µs. One tshark run per capture.
 */
import { describe, expect, it } from 'vitest';
import { analyzeCaptures, type AnalyzeResult, type FlowRecord } from '../../src/index.js';
import { TIMELINE, loadScenarios, type ExpectedFlow, type Scenario, type TimelineName } from '../helpers/scenario-expected.js';
import { HS_CLIENT_HELLO, epochToUs, tsharkConnections, type TsharkConn, type TsharkFrame } from '../helpers/tshark-frames.js';
import { tsharkHandshake, type TsharkHandshake } from '../helpers/tshark-handshake.js';

const scenarios = loadScenarios();

const analyses = new Map<string, Promise<AnalyzeResult>>();
function analysisOf(s: Scenario): Promise<AnalyzeResult> {
  let p = analyses.get(s.capturePath);
  if (p === undefined) analyses.set(s.capturePath, (p = analyzeCaptures([s.capturePath])));
  return p;
}
const recordsOf = async (s: Scenario): Promise<FlowRecord[]> => (await analysisOf(s)).records;

/** Which side sends the packet a timeline point names (design.md "Handshake timeline"). */
function sideOf(point: TimelineName, r: FlowRecord): 'client' | 'server' {
  switch (point) {
    case 'syn_ack': case 'hello_retry_request': case 'server_hello': case 'server_flight_end':
      return 'server';
    case 'done':
      // TLS 1.3 and TLS 1.2 resumed: the client's Finished; TLS 1.2 full: the server's Finished.
      return r.tls_version === '1.3' || r.resumed ? 'client' : 'server';
    default:
      return 'client';
  }
}

interface Matched { r: FlowRecord; conn: TsharkConn; hs: TsharkHandshake }

/** The record of `flow` and its tshark connection (by endpoints; by SYN time if a 4-tuple repeats). */
async function matched(s: Scenario, flow: ExpectedFlow): Promise<Matched> {
  const recs = (await recordsOf(s)).filter((r) => r.client === flow.client);
  expect(recs, `one record for ${flow.client}`).toHaveLength(1);
  const r = recs[0]!;
  const first = r.timeline.syn ?? r.timeline.client_hello ?? r.timeline.server_hello;
  const conns = tsharkConnections(s.capturePath).filter((c) => c.client === r.client && c.server === r.server);
  const conn = conns.length === 1 ? conns[0] : conns.find((c) => c.frames.some((f) => f.tsUs === first));
  expect(conn, `tshark connection ${r.client} -> ${r.server} (${conns.length} candidates)`).toBeDefined();
  return { r, conn: conn!, hs: tsharkHandshake(conn!) };
}

const at = (f: TsharkFrame | null): number | null => (f === null ? null : f.tsUs);
const frameRef = (f: TsharkFrame | null): string => (f === null ? 'none' : `#${f.no} ${f.epoch}`);

describe('epochToUs', () => {
  it('truncates the decimal text to whole µs without a float', () => {
    expect(epochToUs('1763916244.123456789')).toBe(1763916244123456);
    expect(epochToUs('1763916244.999999999')).toBe(1763916244999999);
    expect(epochToUs('1763916244.1')).toBe(1763916244100000);
    expect(epochToUs('1763916244')).toBe(1763916244000000);
    // Through a double this one becomes ...000002 (nanosecond captures have such fractions).
    expect(Math.floor(Number.parseFloat('1795452311.000001999') * 1e6)).toBe(1795452311000002);
    expect(epochToUs('1795452311.000001999')).toBe(1795452311000001);
  });
});

for (const s of scenarios) {
  describe(`${s.scenario} (${s.capture})`, () => {
    it('tshark sees the same TLS connections: each has one record, no other TCP connection has one', async () => {
      const conns = tsharkConnections(s.capturePath);
      const tls = conns.filter((c) => c.frames.some((f) => f.src === c.client && f.hsTypes.includes(HS_CLIENT_HELLO)));
      const key = (c: { client: string; server: string }): string => `${c.client} -> ${c.server}`;
      const recs = await recordsOf(s);
      expect(recs.map(key).sort()).toEqual(tls.map(key).sort());
      const nonTls = new Set(conns.filter((c) => !tls.includes(c)).map(key));
      expect(recs.map(key).filter((k) => nonTls.has(k))).toEqual([]);
    });

    it('the analyzer counts as many TLS and other TCP flows as tshark sees', async () => {
      const conns = tsharkConnections(s.capturePath);
      const tls = conns.filter((c) => c.frames.some((f) => f.src === c.client && f.hsTypes.includes(HS_CLIENT_HELLO))).length;
      // Printed by the CLI summary as "N TLS flows, M other TCP flows". Segments a peer sends after
      // the other side's FIN belong to the same flow (regression: they were once counted as new flows).
      const stats = (await analysisOf(s)).analyzer.stats;
      expect(stats.tlsFlows).toBe(tls);
      expect(stats.nonTlsFlows).toBe(conns.length - tls);
    });

    for (const flow of s.flows) {
      describe(flow.client, () => {
        it('every timeline timestamp is a frame of this connection, from the right side', async () => {
          const { r, conn } = await matched(s, flow);
          const bad: string[] = [];
          for (const point of TIMELINE) {
            const v = r.timeline[point];
            if (v === null) continue;
            const side = sideOf(point, r) === 'client' ? conn.client : conn.server;
            if (!conn.frames.some((f) => f.tsUs === v && f.src === side)) {
              const any = conn.frames.filter((f) => f.tsUs === v).map((f) => `#${f.no} from ${f.src}`);
              bad.push(`${point}=${v}: no frame from ${side} at that µs${any.length ? ` (only ${any.join(', ')})` : ''}`);
            }
          }
          expect(bad).toEqual([]);
        });

        it('TCP points: syn, syn_ack, ack', async () => {
          const { r, hs } = await matched(s, flow);
          expect({ syn: r.timeline.syn, syn_ack: r.timeline.syn_ack, ack: r.timeline.ack }, `frames ${frameRef(hs.syn)}, ${frameRef(hs.synAck)}, ${frameRef(hs.ack)}`)
            .toEqual({ syn: at(hs.syn), syn_ack: at(hs.synAck), ack: at(hs.ack) });
        });

        it('TCP Fast Open: tfo exactly where the SYN carries payload; refused data said in a note', async () => {
          const { r, hs } = await matched(s, flow);
          expect({ tfo: r.tfo === true, refused: r.notes.some((n) => n.startsWith('TCP Fast Open: the server did not accept')) }, `SYN ${frameRef(hs.syn)}`)
            .toEqual({ tfo: hs.tfo, refused: hs.tfoRefused });
        });

        it('ClientHello: first segment and the frame tshark shows it in', async () => {
          const { r, hs } = await matched(s, flow);
          expect({ client_hello: r.timeline.client_hello, client_hello_end: r.timeline.client_hello_end }, `frames ${frameRef(hs.clientHello)}, ${frameRef(hs.clientHelloEnd)}`)
            .toEqual({ client_hello: at(hs.clientHello), client_hello_end: at(hs.clientHelloEnd) });
        });

        it('HelloRetryRequest and second ClientHello', async () => {
          const { r, hs } = await matched(s, flow);
          expect(r.hrr, `tshark HRR frame ${frameRef(hs.hrrMessage)}`).toBe(hs.hrrMessage !== null);
          expect({ hello_retry_request: r.timeline.hello_retry_request, client_hello2_end: r.timeline.client_hello2_end },
            `frames ${frameRef(hs.helloRetryRequest)}, ${frameRef(hs.clientHello2End)}`)
            .toEqual({ hello_retry_request: at(hs.helloRetryRequest), client_hello2_end: at(hs.clientHello2End) });
          if (hs.hrrMessage !== null) {
            // The HRR's first segment is the first server data after the ClientHello; tshark shows the
            // message where it completes, which is that segment unless the HRR spans several.
            expect(r.timeline.hello_retry_request!).toBeLessThanOrEqual(hs.hrrMessage.tsUs);
            // The second ClientHello starts after the HRR and ends where tshark shows it.
            expect(r.timeline.client_hello2).not.toBeNull();
            expect(r.timeline.client_hello2!).toBeGreaterThan(r.timeline.hello_retry_request!);
            expect(r.timeline.client_hello2!).toBeLessThanOrEqual(r.timeline.client_hello2_end!);
          } else {
            expect(r.timeline.client_hello2).toBeNull();
          }
        });

        it('ServerHello: first server data after the (last) ClientHello', async () => {
          const { r, hs } = await matched(s, flow);
          expect(r.timeline.server_hello, `frame ${frameRef(hs.serverHello)}`).toBe(at(hs.serverHello));
          // tshark shows the ServerHello message in that frame or, if it spans segments, a later one.
          expect(hs.serverHelloMessage, 'tshark ServerHello').not.toBeNull();
          expect(hs.serverHelloMessage!.tsUs).toBeGreaterThanOrEqual(r.timeline.server_hello!);
        });

        it('server flight end, client ACK, client second flight', async () => {
          const { r, hs } = await matched(s, flow);
          expect({ server_flight_end: r.timeline.server_flight_end, client_ack: r.timeline.client_ack, client_finished: r.timeline.client_finished },
            `frames ${frameRef(hs.serverFlightEnd)}, ${frameRef(hs.clientAck)}, ${frameRef(hs.clientFinished)}`)
            .toEqual({ server_flight_end: at(hs.serverFlightEnd), client_ack: at(hs.clientAck), client_finished: at(hs.clientFinished) });
        });

        // Where no client record has a Finished's length (padded records) the analyzer falls back to
        // the last client record completed before the server's next data and says so: then the
        // point is bounded, not exact — from tshark's Finished frame to before that server data
        // (the client's first application data may come in between).
        const fellBack = (r: FlowRecord): boolean => r.notes.some((n) => n.startsWith('client Finished not found by its record size'));
        const expectFlightEnd = (v: number | null, r: FlowRecord, conn: TsharkConn, hs: TsharkHandshake, what: string, want: TsharkFrame | null): void => {
          const ref = `frame ${frameRef(want)} (${hs.decrypted ? 'decrypted with the key log' : 'by record length'})`;
          if (!fellBack(r) || want === null) {
            expect(v, `${what}: ${ref}`).toBe(at(want));
            return;
          }
          const nextServer = conn.frames.find((f) => f.no > want.no && f.src === conn.server && f.len > 0);
          expect(v!, `${what} (fallback) from ${ref}`).toBeGreaterThanOrEqual(want.tsUs);
          if (nextServer !== undefined) expect(v!, `${what} (fallback) before server data ${frameRef(nextServer)}`).toBeLessThanOrEqual(nextServer.tsUs);
        };

        it('client_flight_end: the frame completing the client\'s Finished', async () => {
          const { r, conn, hs } = await matched(s, flow);
          expectFlightEnd(r.timeline.client_flight_end, r, conn, hs, 'client_flight_end', hs.clientFlightEnd);
        });

        it('done: the client\'s Finished (TLS 1.3, resumed 1.2) or the server\'s (TLS 1.2 full)', async () => {
          const { r, conn, hs } = await matched(s, flow);
          if (hs.version === '1.3' || hs.resumed) expectFlightEnd(r.timeline.done, r, conn, hs, 'done', hs.done);
          else expect(r.timeline.done, `frame ${frameRef(hs.done)} (TLS ${hs.version}${hs.resumed ? ' resumed' : ''})`).toBe(at(hs.done));
        });

        it('version, resumption, SNI and ALPN as tshark dissects them', async () => {
          const { r, hs } = await matched(s, flow);
          expect({ tls_version: r.tls_version, resumed: r.resumed, sni: r.sni, alpn: r.alpn, alpn_selected: r.alpn_selected })
            .toEqual({ tls_version: hs.version, resumed: hs.resumed, sni: hs.sni, alpn: hs.alpnOffered.length ? hs.alpnOffered.join(',') : null, alpn_selected: hs.alpnSelected });
        });

        it('retransmissions per direction inside [syn, done] match tshark', async () => {
          const { r, conn } = await matched(s, flow);
          expect(r.timeline.done).not.toBeNull();
          const start = r.timeline.syn ?? conn.frames[0]!.tsUs;
          const inWindow = conn.frames.filter((f) => f.tsUs >= start && f.tsUs <= r.timeline.done!);
          // tshark flags a segment re-sending bytes already seen as a retransmission (SYN and SYN-ACK
          // re-sends included, as the analyzer counts them), and one filling a hole that opened less
          // than an RTT earlier as out-of-order (the analyzer's hole fill): together, the analyzer's
          // count. A spurious retransmission carries both the retransmission and spurious flags in
          // tshark 4.0 and is counted once, as in the analyzer (it cannot tell spurious from lost).
          // Pure ACKs are never flagged. FIN re-sends would be counted by tshark only; they come after
          // `done` in a handshake and fall outside the window.
          const count = (side: string): number => inWindow.filter((f) => f.src === side && (f.retransmission || f.outOfOrder)).length;
          const frames = (side: string): string[] => inWindow.filter((f) => f.src === side && (f.retransmission || f.outOfOrder)).map((f) => frameRef(f));
          expect({ client: r.retransmits.client, server: r.retransmits.server },
            `tshark client ${frames(conn.client).join(' ')}; server ${frames(conn.server).join(' ')}`)
            .toEqual({ client: count(conn.client), server: count(conn.server) });
        });

        const segMin = flow.expect.client_hello_segments_min;
        if (segMin !== undefined) {
          it(`ClientHello spans ≥ ${segMin} client segments`, async () => {
            const { r, conn, hs } = await matched(s, flow);
            const segs = conn.frames.filter((f) => f.src === conn.client && f.len > 0 && !f.retransmission &&
              f.tsUs >= r.timeline.client_hello! && f.tsUs <= r.timeline.client_hello_end!);
            expect(segs.length).toBeGreaterThanOrEqual(segMin);
            // tshark: the ClientHello is shown in the last of them.
            expect(segs.at(-1)?.no).toBe(hs.clientHelloEnd?.no);
          });
        }

        const cfMin = flow.expect.client_flight_segments_min;
        if (cfMin !== undefined) {
          it(`the client's second flight spans ≥ ${cfMin} client segments, ending with the Finished`, async () => {
            const { r, conn, hs } = await matched(s, flow);
            const segs = conn.frames.filter((f) => f.src === conn.client && f.len > 0 && !f.retransmission &&
              f.tsUs >= r.timeline.client_finished! && f.tsUs <= r.timeline.client_flight_end!);
            // The generator keeps the server's key log for these captures: tshark decrypted the Finished.
            expect(hs.decrypted, 'captures/keys/ key log used').toBe(true);
            expect(segs.length).toBeGreaterThanOrEqual(cfMin);
            expect(segs.at(-1)?.no).toBe(hs.clientFlightEnd?.no);
            // The transfer is all in client_flight_xfer (network), none of it in server_finish.
            expect(r.phases_ms.client_flight_xfer).toBeCloseTo((r.timeline.client_flight_end! - r.timeline.client_finished!) / 1000, 6);
          });
        }
      });
    }
  });
}
