/**
 * The output record (design.md "Output record", snake_case, stable contract) built from a finished
 * tracker. Timeline values are µs since the epoch exactly as captured; phases are ms with µs
 * precision.
 */
import { versionName } from '../decode/tls-hello.js';
import { formatEndpoint } from './addr.js';
import { MAX_HOLES } from '../flow/tcp-stream.js';
import { cipherName } from './ciphers.js';
import { computePhasesInto, flowRtt, newBreakdown, PHASES, type PhaseBreakdown, type PhaseName } from './phases.js';
import { T, TIMELINE_POINTS, type Timeline, type TimelinePoint } from './timeline.js';
import { MAX_KEPT_PACKETS, type HandshakeTracker } from './tracker.js';
import { decideVerdict, type Verdict } from './verdict.js';

export type PhasesMs = Record<PhaseName | 'loss' | 'cwnd_stall' | 'total', number | null>;

/** Who the client is (`client_info`, set by src/enrich after the record is built); null where unknown. */
export interface ClientInfo {
  /** PTR name of the client address; null: not looked up (rDNS off), no name, or no answer in time (a note says which). */
  rdns: string | null;
  /** Range file the address is in: "aws" (ip-ranges.json), "gcp" (Google Cloud cloud.json), "google" (goog.json). */
  provider: string | null;
  service: string | null;
  region: string | null;
  asn: number | null;
  as_org: string | null;
  /** The matched provider range, else the client's /24 (IPv4) or /48 (IPv6). */
  prefix: string | null;
}

export interface FlowRecord {
  client: string;
  server: string;
  sni: string | null;
  /** ALPN protocols the client offered, comma-joined (visible in every TLS version). */
  alpn: string | null;
  /** The server's ALPN choice where it is visible (TLS ≤ 1.2; TLS 1.3 encrypts it). */
  alpn_selected: string | null;
  tls_version: string | null;
  cipher: string | null;
  ja4: string | null;
  hrr: boolean;
  resumed: boolean;
  slow: boolean;
  cwnd_stall: boolean;
  /**
   * The client sent a certificate (mutual TLS): TLS 1.2 from its Certificate message; TLS 1.3
   * inferred from the size of its encrypted flight before the Finished (a note says so).
   */
  client_cert: boolean;
  timeline: Record<TimelinePoint, number | null>;
  phases_ms: PhasesMs;
  retransmits: { client: number; server: number };
  verdict: Verdict;
  /** Timeline points that were expected but not captured, and why the record may be partial. */
  missing: string[];
  notes: string[];
  event?: unknown;
  event_elapsed_ms?: number | null;
  /** Proxy-measured elapsed minus wire total: time before the proxy started its clock. */
  proxy_gap_ms?: number | null;
  /**
   * Proxy-measured elapsed minus the wire time over the span the proxy measures (accept → done,
   * or SYN → done): time inside the edge host, invisible on the wire; positive lag is charged to
   * `server`.
   */
  proxy_lag_ms?: number | null;
  pcap?: string;
  /** Spot checks: false when the capture dropped packets inside this flow's time window. */
  capture_complete?: boolean;
  capture_drops?: number;
  /** Spot checks: why the flow's packets are missing or partial (ring too short, filter, no flow). */
  reason?: string;
  /**
   * Live capture behind the classic kernel filter (kernel_filter.mode "classic", or "auto" where
   * eBPF could not load): it passes only SYN/FIN/RST and segments starting a handshake record, so
   * pure ACKs and continuation segments are missing and the phases are estimates. Set (true) only
   * then; absent otherwise.
   */
  estimated?: boolean;
  /**
   * The client's SYN carried data (TCP Fast Open, RFC 7413): the ClientHello started in the SYN.
   * Set (true) only then; absent otherwise. A SYN that only asks for a cookie is not TFO.
   */
  tfo?: boolean;
  /** Client attribution (src/enrich): on every record of analyze, capture and watch. */
  client_info?: ClientInfo;
}

/** A record for an event whose flow could not be found: every measured field null. */
export function missingFlowRecord(client: string, server: string, sni: string | null, reason: string): FlowRecord {
  const timeline = {} as FlowRecord['timeline'];
  for (const p of TIMELINE_POINTS) timeline[p] = null;
  const phases = {} as PhasesMs;
  for (const p of PHASES) phases[p] = null;
  phases.loss = null;
  phases.cwnd_stall = null;
  phases.total = null;
  return {
    client, server, sni, alpn: null, alpn_selected: null, tls_version: null, cipher: null, ja4: null, hrr: false, resumed: false,
    slow: true, cwnd_stall: false, client_cert: false, timeline, phases_ms: phases, retransmits: { client: 0, server: 0 }, verdict: 'incomplete',
    missing: [...TIMELINE_POINTS], notes: [reason], reason,
  };
}

const ms = (us: number | null): number | null => (us === null ? null : Math.round(us) / 1000);

const at = (v: number): number | null => (v >= 0 ? v : null);

/**
 * The record's timeline as one object literal in TIMELINE_POINTS order (the JSON key order): one
 * shape for every record, not fourteen keyed stores per record (issue 13: the loop was most of
 * buildRecord's own time). timeline-shape.test.ts checks the order against TIMELINE_POINTS.
 */
export function timelineObject(tl: Timeline): Record<TimelinePoint, number | null> {
  return {
    syn: at(tl[T.SYN]!), syn_ack: at(tl[T.SYN_ACK]!), ack: at(tl[T.ACK]!), client_hello: at(tl[T.CLIENT_HELLO]!),
    client_hello_end: at(tl[T.CLIENT_HELLO_END]!), hello_retry_request: at(tl[T.HELLO_RETRY_REQUEST]!),
    client_hello2: at(tl[T.CLIENT_HELLO2]!), client_hello2_end: at(tl[T.CLIENT_HELLO2_END]!),
    server_hello: at(tl[T.SERVER_HELLO]!), server_flight_end: at(tl[T.SERVER_FLIGHT_END]!), client_ack: at(tl[T.CLIENT_ACK]!),
    client_finished: at(tl[T.CLIENT_FINISHED]!), client_flight_end: at(tl[T.CLIENT_FLIGHT_END]!), done: at(tl[T.DONE]!),
  };
}

/** `phases_ms` as one object literal in PHASES order, then loss, cwnd_stall, total (as timelineObject). */
export function phasesObject(b: PhaseBreakdown): PhasesMs {
  const p = b.phases;
  return {
    syn_ack_delay: ms(p.syn_ack_delay), tcp_rtt: ms(p.tcp_rtt), client_hello_wait: ms(p.client_hello_wait),
    client_hello_xfer: ms(p.client_hello_xfer), server_hello_delay: ms(p.server_hello_delay), hrr_rtt: ms(p.hrr_rtt),
    hrr_server_delay: ms(p.hrr_server_delay), server_flight: ms(p.server_flight), flight_rtt: ms(p.flight_rtt),
    client_think: ms(p.client_think), client_flight_xfer: ms(p.client_flight_xfer), server_finish: ms(p.server_finish),
    loss: ms(b.loss), cwnd_stall: ms(b.cwndStall), total: ms(b.total),
  };
}

/** buildRecord's breakdown, overwritten per record: read within the call, never kept. */
const scratchBreakdown = newBreakdown();

export function buildRecord(t: HandshakeTracker, slowThresholdMs: number): FlowRecord {
  const tl = t.timeline;
  const b = computePhasesInto(scratchBreakdown, tl, t.firstTs, t.loss, t.stalls, t.tfoRefused ? t.tfoResentTs : -1);
  const timeline = timelineObject(tl);
  const missing: string[] = [];
  for (let i = 0; i < TIMELINE_POINTS.length; i++) {
    const v = tl[i]!;
    const name = TIMELINE_POINTS[i]!;
    const hrrPoint = i === T.HELLO_RETRY_REQUEST || i === T.CLIENT_HELLO2 || i === T.CLIENT_HELLO2_END;
    if (v < 0 && (!hrrPoint || t.hrr)) missing.push(name);
  }
  // The verdict needs the handshake's end and its ServerHello; earlier points may be missing (a
  // capture that starts mid-handshake), in which case it covers the phases that were captured.
  const complete = tl[T.DONE]! >= 0 && tl[T.SERVER_HELLO]! >= 0;
  const phases = phasesObject(b);
  const observed = t.lastTs - b.start;
  const slow = b.total !== null ? b.total >= slowThresholdMs * 1000 : observed >= slowThresholdMs * 1000;
  const notes: string[] = [];
  if (tl[T.SYN]! < 0) notes.push('capture starts after the SYN: total counts from the first packet seen');
  if (tl[T.CLIENT_HELLO]! < 0 && tl[T.SERVER_HELLO]! >= 0) notes.push('capture starts mid-handshake: phases before the ServerHello are unknown');
  if (t.closed && tl[T.DONE]! < 0) notes.push(`handshake not completed: ${t.closeReason.replace(/_/g, ' ')}`);
  if (t.evictedAt > 0) {
    const limit = `evicted to stay within the analyzer's limit of ${t.evictedAt} tracked flows (--max-flows)`;
    notes.push(tl[T.DONE]! < 0 ? `handshake not completed: ${limit}; its later packets were not analysed` : `${limit} after the handshake completed`);
  } else if (!t.closed && tl[T.DONE]! < 0) notes.push('handshake not completed within the capture');
  if (t.clientCertInferred) notes.push('client_cert inferred from the size of the client\'s encrypted flight before its Finished (TLS 1.3)');
  if (t.finishedFallback) {
    notes.push('client Finished not found by its record size under the negotiated suite: client_flight_end is the last client record completed before the server\'s next data');
  }
  if (b.flightSplit > 0) {
    const rtt = tl[T.HELLO_RETRY_REQUEST]! >= 0 ? 'hrr_rtt' : 'tcp_rtt';
    notes.push(`flight_rtt split (estimated): the client's first ACK of the server flight was its second flight; flight_rtt is capped at the flow's ${rtt} (${ms(flowRtt(tl))} ms) and the other ${ms(b.flightSplit)} ms are client_think`);
  }
  if (t.tfo) {
    notes.push(t.tfoRefused
      ? 'TCP Fast Open: the server did not accept the ClientHello sent in the SYN (its SYN-ACK acknowledged only the SYN); the client sent it again once connected, a retransmission of the ClientHello: the wait from the SYN to that copy is client_hello_xfer, not loss'
      : 'TCP Fast Open: the ClientHello came in the SYN; where the server answered before the client\'s ACK, each phase starts where the previous one ended (clipped at zero)');
  }
  if (t.tlsError) notes.push(`TLS parsing stopped (${t.tlsError})`);
  const untimed = t.cli.untimedHoles + t.srv.untimedHoles;
  if (untimed > 0) notes.push(`${untimed} sequence hole(s) not timed (more than ${MAX_HOLES} open at once): loss may be undercounted`);
  if (t.inferredLosses > 0) notes.push(`${t.inferredLosses} segment(s) lost before the capture point, inferred from gaps in the sender's IPv4 IDs (charged to loss)`);
  if (t.cli.contentLost || t.srv.contentLost) notes.push('payload bytes cut by the capture snaplen');
  if (t.startMayBeEvicted) notes.push('first seen mid-connection after the analyzer had evicted flows (--max-flows): its start may have been evicted');
  if (t.keptDropped > 0) notes.push(`${t.keptDropped} packet(s) not kept for the per-flow pcap (limit ${MAX_KEPT_PACKETS} per flow)`);
  if (t.keptLostEarly > 0) {
    notes.push(`${t.keptLostEarly} packet(s) from before the first payload not kept for the per-flow pcap (the area they waited in, shared by all flows without payload, was reused by newer flows)`);
  }
  const sh = t.shSeen;
  const resumed = sh && (t.shVersion === 0x0304 ? t.shPskAccepted : t.abbreviated);
  const rec: FlowRecord = {
    client: formatEndpoint(t.clientAddr, t.clientPort),
    server: formatEndpoint(t.serverAddr, t.serverPort),
    sni: t.sni,
    alpn: t.alpnOffered,
    alpn_selected: t.shAlpn,
    tls_version: sh ? versionName(t.shVersion) : null,
    cipher: sh && !t.shHrr ? cipherName(t.shCipherSuite) : null,
    ja4: t.ja4,
    hrr: t.hrr,
    resumed,
    slow,
    cwnd_stall: b.cwndStall > 0,
    client_cert: t.clientCert,
    timeline,
    phases_ms: phases,
    retransmits: { client: t.cli.retransmits, server: t.srv.retransmits },
    verdict: decideVerdict(b, complete),
    missing,
    notes,
  };
  if (t.tfo) rec.tfo = true;
  return rec;
}
