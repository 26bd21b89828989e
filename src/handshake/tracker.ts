/**
 * Per-flow handshake tracker: turns one TCP flow's packets into the design.md timeline.
 *
 * 1. TCP: SYN / SYN-ACK / first ACK; each direction's data segments are classified (new, hole
 *    fill, retransmission) by TcpStream, which also records loss repair intervals. A SYN with
 *    payload (TCP Fast Open, issue 15) starts the client's stream: its bytes wait until the
 *    server's answer shows whether they were accepted (#synData, #resolveSynData).
 * 2. Segment-level points come from *when* data moves: the first client data is the ClientHello,
 *    the first server data after the (last) ClientHello is the ServerHello or HRR, the last server
 *    data before the client's next data ends the server flight, and so on.
 * 3. Content-level points come from the TLS parser fed with in-order bytes: ClientHello end,
 *    HRR vs ServerHello, version/cipher/resumption, CCS, and the end of the client's second flight
 *    (`client_flight_end`): the segment completing its Finished, found without decryption — TLS
 *    1.2: the encrypted handshake record after its CCS; TLS 1.3: the encrypted record of a
 *    Finished's length under the negotiated suite (ciphers.ts). When no record fits, the flight
 *    ends with the last client record completed before the server's next data (`finishedFallback`).
 * 4. A server pause inside its flight that ends right after a client ACK is a congestion-window
 *    stall: the wait is recorded so it can be charged to the network (`cwnd_stall`).
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, type DecodedPacket } from '../decode/packet.js';
import { TlsStream, CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE, HS_CLIENT_HELLO, HS_SERVER_HELLO, type TlsStreamOwner } from '../decode/tls-stream.js';
import { scanClientHello, scanServerHello } from '../decode/tls-hello.js';
import { ja4OfScan } from '../decode/ja4.js';
import { TcpStream, SEG_NEW, SEG_RETRANSMIT } from '../flow/tcp-stream.js';
import { IpIdSequence } from '../flow/ip-id.js';
import { copyBytes } from '../decode/reader.js';
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';
import { T, type Timeline } from './timeline.js';
import { tls13FinishedRecordLength } from './ciphers.js';

/** A server segment this soon after a client ACK was released by that ACK (cwnd stall test). */
const STALL_TRIGGER_US = 2000;
/** Handshakes that drag on for more packets than this are abandoned (not a TLS handshake). */
export const MAX_HANDSHAKE_PACKETS = 20_000;
/** Packets kept per flow for its pcap and ladder at most; the rest are counted (`keptDropped`). */
export const MAX_KEPT_PACKETS = 4096;
const HS_CERTIFICATE = 11;
/** An empty client Certificate is 8 bytes (TLS 1.2: 3): a longer one carries a certificate. */
const EMPTY_CERTIFICATE_BODY = 3;
/**
 * TLS 1.3: the client sent a certificate when its flight holds two or more encrypted records before
 * the Finished (Certificate, CertificateVerify), or one longer than this (both in one record).
 * Without a certificate there is at most an empty Certificate (a 25-byte record unpadded).
 */
const NO_CERT_FLIGHT_MAX = 64;

/** The tracker's own capture times, in its timeline array after the T points (see `timeline`). */
const W_FIRST_TS = T.COUNT;
const W_LAST_TS = T.COUNT + 1;
const W_TFO_RESENT = T.COUNT + 2;
/** First server data after the first ClientHello completed: ServerHello or HRR, decided on parse. */
const W_FIRST_SERVER_AFTER_CH = T.COUNT + 3;
/** Last new server data (flight end candidate). */
const W_LAST_SERVER_DATA = T.COUNT + 4;
/** Last server data incl. retransmissions (stall test). */
const W_LAST_SERVER_SEG = T.COUNT + 5;
/** Last client ACK that acknowledged new server data. */
const W_LAST_CLIENT_ACK = T.COUNT + 6;
const W_CLIENT_ACK_CANDIDATE = T.COUNT + 7;
const W_SERVER_CCS = T.COUNT + 8;
const W_FIRST_CLIENT_DATA = T.COUNT + 9;
/** Capture time of a TCP Fast Open SYN whose data waits in #synDataBuf. */
const W_SYN_DATA = T.COUNT + 10;
/** Completing segment of the last client record of its second flight. */
const W_LAST_CLI_REC_END = T.COUNT + 11;

/** A timeline (all -1) with the W_ slots after it, double elements from the start (the 0.5 makes it so). */
function newTrackerTimes(): Timeline {
  const a = [0.5, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1];
  a[0] = -1;
  return a;
}
// The literal above has one element per slot: a new T point or W_ slot must grow it.
if (newTrackerTimes().length !== W_LAST_CLI_REC_END + 1) throw new Error('tracker.ts: newTrackerTimes() has the wrong length'); // broken invariant

/**
 * Recently joined ALPN lists: the names come interned from the hello parser (tls-hello.ts
 * latin1), so a list equal to a cached one has the very same strings, and its comma-joined form
 * is reused instead of concatenated again per flow (a few lists repeat across all clients).
 */
const ALPN_CACHE = 8;
const alpnParts: (readonly string[])[] = new Array<readonly string[]>(ALPN_CACHE).fill([]);
const alpnJoined: string[] = new Array<string>(ALPN_CACHE).fill('');
let alpnNext = 0;

function joinedAlpn(names: readonly string[], n: number): string {
  for (let k = 0; k < ALPN_CACHE; k++) {
    const parts = alpnParts[k]!;
    if (parts.length !== n) continue;
    let i = 0;
    while (i < n && parts[i] === names[i]) i++;
    if (i === n) return alpnJoined[k]!;
  }
  let a = names[0]!;
  for (let i = 1; i < n; i++) a += ',' + names[i]!;
  const k = alpnNext;
  alpnNext = (k + 1) % ALPN_CACHE;
  alpnParts[k] = names.slice(0, n);
  alpnJoined[k] = a;
  return a;
}

export const TLS_UNKNOWN = 0;
export const TLS_YES = 1;
export const TLS_NO = 2;

/** A packet kept for per-flow pcaps and ladders (only when asked for). */
export interface KeptPacket {
  tsSec: number;
  tsNsec: number;
  tsUs: number;
  origLen: number;
  linkType: number;
  fromClient: boolean;
  data: Uint8Array;
  /** Offsets of the TCP fields inside `data`, for the ladder. */
  flags: number;
  seq: number;
  ack: number;
  payloadLen: number;
}

export class HandshakeTracker implements TlsStreamOwner {
  /**
   * The timeline (indices T), then the tracker's own capture times (W_…, after T.COUNT): one
   * array of double elements rather than a number field each, which V8 boxes in a heap number
   * per field per flow (issue 13). Readers of the timeline index it by T only.
   */
  readonly timeline: Timeline = newTrackerTimes();
  readonly cli: TcpStream;
  readonly srv: TcpStream;
  readonly tlsCli: TlsStream;
  readonly tlsSrv: TlsStream;
  /** TLS_UNKNOWN until the first payload says whether this is a TLS handshake. */
  tls = TLS_UNKNOWN;
  /** Loss repair intervals [start, end, …] and cwnd-stall waits, µs. */
  readonly loss: number[] = [];
  readonly stalls: number[] = [];
  /**
   * From the first ClientHello, taken when it is parsed (nothing of the hello is kept): its
   * server_name, its ALPN list comma-joined (null: none offered), its JA4. All null without one.
   */
  sni: string | null = null;
  alpnOffered: string | null = null;
  ja4: string | null = null;
  /**
   * From the ServerHello (or the HelloRetryRequest until one follows), kept as scalars, not the
   * decoded object (issue 13: an object and an array per flow, alive as long as the flow).
   * `shSeen` false: none parsed, and the others are 0/false/null.
   */
  shSeen = false;
  /** Negotiated version: supported_versions when present, else legacy_version. */
  shVersion = 0;
  shCipherSuite = 0;
  /** The kept hello is a HelloRetryRequest. */
  shHrr = false;
  /** pre_shared_key in it: the server accepted TLS 1.3 PSK resumption. */
  shPskAccepted = false;
  /** Its ALPN selection (visible in TLS ≤ 1.2), null: none. */
  shAlpn: string | null = null;
  hrr = false;
  /** TLS 1.2 abbreviated handshake: the server's CCS came in its first flight. */
  abbreviated = false;
  /** The client sent a certificate (TLS 1.2: its Certificate message seen; TLS 1.3: inferred). */
  clientCert = false;
  /** clientCert was inferred from the size of the client's encrypted flight (TLS 1.3). */
  clientCertInferred = false;
  /** client_flight_end is the last client record before the server's next data, not a Finished found by its size. */
  finishedFallback = false;
  /** Capture time of the flow's first and last packet (µs). */
  get firstTs(): number { return this.timeline[W_FIRST_TS]!; }
  set firstTs(v: number) { this.timeline[W_FIRST_TS] = v; }
  get lastTs(): number { return this.timeline[W_LAST_TS]!; }
  packets = 0;
  /** Set when the flow closed (FIN/RST) or was abandoned before `done`. */
  closed = false;
  closeReason = '';
  tlsError = '';
  kept: KeptPacket[] | null = null;
  /** Packets not kept because `kept` reached MAX_KEPT_PACKETS (noted on the record). */
  keptDropped = 0;
  /**
   * Packets from before the flow's first payload not kept because the area they waited in, shared
   * by all flows without payload (pre-tls.ts PreTlsKept), was reused by newer flows (noted).
   */
  keptLostEarly = 0;
  /** Set (to the limit) when the analyzer evicted this flow to stay within its flow bound. */
  evictedAt = 0;
  /** First seen mid-connection after the analyzer had evicted flows: its start may have been one. */
  startMayBeEvicted = false;
  /** Losses before the capture point inferred from IPv4 ID gaps (see flow/ip-id.ts). */
  inferredLosses = 0;
  /** The client's SYN carried payload (TCP Fast Open, RFC 7413): the ClientHello starts in the SYN. */
  tfo = false;
  /** The server did not accept the SYN's data (its SYN-ACK acknowledged only the SYN). */
  tfoRefused = false;
  /** Capture time of the client's copy of the refused SYN data (the ClientHello sent again), -1 until seen. */
  get tfoResentTs(): number { return this.timeline[W_TFO_RESENT]!; }

  // --- working state
  #chCount = 0;
  #clientAckRel = 0;
  /** TCP Fast Open data of the SYN until the server's answer says whether it was accepted (null: none pending). */
  #synDataBuf: Uint8Array | null = null;
  #synDataLen = 0;
  /** TLS 1.3: length of the client's Finished record under the negotiated suite (0: unknown). */
  #finishedLen = 0;
  /** Client records completed in its second flight: last one's completing segment, encrypted bytes before the Finished. */
  #cliFlightEncRecs = 0;
  #cliFlightEncBytes = 0;
  #lastCliEncLen = 0;
  readonly cliIds = new IpIdSequence();
  readonly srvIds = new IpIdSequence();
  /** MSS each side announced in its SYN: the peer's segments are at most this long. */
  #cliMss = 0;
  #srvMss = 0;

  constructor(
    readonly ipVersion: number,
    /** Address bytes (4 or 16); may be shared with other trackers (analyzer.ts internV4): never modify. */
    readonly clientAddr: Uint8Array,
    readonly serverAddr: Uint8Array,
    readonly clientPort: number,
    readonly serverPort: number,
    readonly an: AnomalyCounters,
  ) {
    this.cli = new TcpStream(an);
    this.srv = new TcpStream(an);
    this.tlsCli = new TlsStream(true, this);
    this.tlsSrv = new TlsStream(false, this);
  }

  /**
   * Takes over state kept before this tracker existed (pre-tls.ts): the MSS each side announced,
   * and the highest position the client acknowledged in the server's stream with the time of that
   * ACK (0 and -1: none).
   */
  restore(cliMss: number, srvMss: number, clientAckRel: number, clientAckTs: number): void {
    this.#cliMss = cliMss;
    this.#srvMss = srvMss;
    this.#clientAckRel = clientAckRel;
    this.timeline[W_LAST_CLIENT_ACK] = clientAckTs;
  }

  get done(): boolean {
    return this.timeline[T.DONE]! >= 0;
  }

  /** Feeds one packet of this flow. */
  onPacket(p: DecodedPacket, fromClient: boolean): void {
    const ts = p.tsUs;
    const tl = this.timeline;
    if (tl[W_FIRST_TS]! < 0) tl[W_FIRST_TS] = ts;
    tl[W_LAST_TS] = ts;
    this.packets++;
    if (this.kept !== null) this.#keep(p, fromClient);
    const flags = p.flags;
    if (flags & TCP_RST || flags & TCP_FIN) {
      if (tl[T.DONE]! < 0) {
        this.closed = true;
        this.closeReason = flags & TCP_RST ? (fromClient ? 'client_reset' : 'server_reset') : fromClient ? 'client_fin' : 'server_fin';
      }
    }
    if (fromClient) this.#clientPacket(p, ts, flags, tl);
    else this.#serverPacket(p, ts, flags, tl);
    if (this.packets > MAX_HANDSHAKE_PACKETS && tl[T.DONE]! < 0 && !this.closed) {
      this.closed = true;
      this.closeReason = 'handshake_too_long';
    }
  }

  #clientPacket(p: DecodedPacket, ts: number, flags: number, tl: Timeline): void {
    const s = this.cli;
    const idGap = this.cliIds.observe(p.ipId, p.payloadLen, this.#srvMss, ts);
    if (flags & TCP_SYN) {
      if (flags & TCP_ACK) return; // simultaneous open: not modelled
      if (p.mss > 0) this.#cliMss = p.mss;
      if (tl[T.SYN]! < 0) {
        tl[T.SYN] = ts;
        s.setIsn(p.seq);
        if (p.payloadLen > 0) this.#synData(p);
      } else if (p.seq === s.isn) s.synRetransmit(tl[T.SYN]!, ts, this.loss);
      return;
    }
    // TCP Fast Open data whose fate no SYN-ACK told: the client's next sequence number does.
    if (this.#synDataBuf !== null) this.#resolveSynData(s.rel(p.seq) >= this.#synDataLen);
    if (flags & TCP_ACK) {
      if (tl[T.SYN_ACK]! >= 0 && tl[T.ACK]! < 0) tl[T.ACK] = ts;
      this.#clientAck(p.ack, ts, tl, p.payloadLen === 0);
    }
    if (p.payloadLen === 0) return;
    this.#clientData(s.rel(p.seq), p.payloadLen, p.buf, p.payloadOff, p.payloadAvail, ts, idGap);
  }

  /** Client payload [rel, rel+len) seen at `ts` (`avail` bytes of it captured, from buf[off]). */
  #clientData(rel: number, len: number, buf: Uint8Array, off: number, avail: number, ts: number, idGap: number): void {
    const s = this.cli, tl = this.timeline;
    const inOrder = rel === s.maxRel;
    const kind = s.classify(rel, len, ts, this.loss);
    if (idGap > 0 && kind === SEG_NEW && inOrder && tl[T.DONE]! < 0) this.#inferLoss(this.cliIds.prevTs, ts);
    if (kind !== SEG_RETRANSMIT) {
      if (tl[W_FIRST_CLIENT_DATA]! < 0) tl[W_FIRST_CLIENT_DATA] = ts;
      if (this.tls === TLS_UNKNOWN) this.#recognise(buf, off, avail, rel, true, tl, ts);
      if (tl[T.CLIENT_HELLO]! < 0 && this.tls === TLS_YES && this.#chCount === 0 && tl[T.SERVER_HELLO]! < 0) {
        // The first client data, even when it arrived ahead of a ClientHello segment lost earlier.
        tl[T.CLIENT_HELLO] = tl[W_FIRST_CLIENT_DATA]!;
      } else if (tl[T.SERVER_HELLO]! >= 0 && tl[T.CLIENT_FINISHED]! < 0) this.#clientFinished(ts, tl);
      if (this.tfoRefused && rel === 0 && tl[W_TFO_RESENT]! < 0) tl[W_TFO_RESENT] = ts;
    }
    if (this.tls === TLS_NO) return;
    s.deliver(rel, len, buf, off, avail, ts, this.tlsCli);
  }

  /**
   * A SYN with payload (TCP Fast Open, RFC 7413 §3): its bytes start the client's stream at
   * relative offset 0. Whether the server accepted them shows in its SYN-ACK (an ACK past the
   * SYN's sequence number + 1) or, without one, in the client's next sequence number; until then
   * they wait here (a copy: the packet buffer is reused).
   */
  #synData(p: DecodedPacket): void {
    this.tfo = true;
    const b = p.buf, o = p.payloadOff;
    if (!(p.payloadAvail >= 6 && b[o] === 22 && b[o + 1] === 3 && b[o + 5] === HS_CLIENT_HELLO)) {
      // Not a ClientHello: not TLS, decided now; nothing is copied (a flood of SYNs with data
      // costs no more than one of SYNs without).
      this.#clientData(0, p.payloadLen, b, o, p.payloadAvail, p.tsUs, 0);
      return;
    }
    this.timeline[W_SYN_DATA] = p.tsUs;
    this.#synDataLen = p.payloadLen;
    this.#synDataBuf = copyBytes(p.buf, p.payloadOff, p.payloadOff + Math.min(p.payloadAvail, p.payloadLen));
  }

  /**
   * Accepted SYN data is the client's first data, timed at the SYN. Refused data (the SYN-ACK
   * acknowledges only the SYN) never reached the server's stream: the client sends it again once
   * connected, and that copy is the stream's first data — a retransmission of the ClientHello, not
   * a loss of the SYN. The ClientHello still started with the SYN (`client_hello`); the wait until
   * the copy arrived is the ClientHello's transfer (phases.ts `tfoResend`).
   */
  #resolveSynData(accepted: boolean): void {
    const buf = this.#synDataBuf!, tl = this.timeline;
    this.#synDataBuf = null;
    if (accepted) {
      this.#clientData(0, this.#synDataLen, buf, 0, buf.length, tl[W_SYN_DATA]!, 0);
      return;
    }
    this.tfoRefused = true;
    this.cli.retransmits++;
    if (tl[W_FIRST_CLIENT_DATA]! < 0) tl[W_FIRST_CLIENT_DATA] = tl[W_SYN_DATA]!;
  }

  /** The client's second flight starts: close the server flight and pick client_ack. */
  #clientFinished(ts: number, tl: Timeline): void {
    tl[T.CLIENT_FINISHED] = ts;
    tl[T.SERVER_FLIGHT_END] = tl[W_LAST_SERVER_DATA]! >= 0 ? tl[W_LAST_SERVER_DATA]! : tl[T.SERVER_HELLO]!;
    tl[T.CLIENT_ACK] = tl[W_CLIENT_ACK_CANDIDATE]! >= 0 ? tl[W_CLIENT_ACK_CANDIDATE]! : ts;
  }

  #clientAck(ack: number, ts: number, tl: Timeline, pure: boolean): void {
    const rel = this.srv.ackRel(ack);
    if (rel < 0 && !this.srv.baseKnown) return;
    if (rel > this.#clientAckRel) {
      this.#clientAckRel = rel;
      if (pure) tl[W_LAST_CLIENT_ACK] = ts;
    }
    if (tl[T.SERVER_HELLO]! >= 0 && tl[T.CLIENT_FINISHED]! < 0 && tl[W_CLIENT_ACK_CANDIDATE]! < 0 && rel >= this.srv.maxRel) {
      tl[W_CLIENT_ACK_CANDIDATE] = ts;
    }
  }

  #inferLoss(from: number, to: number): void {
    if (from < 0) return;
    this.loss.push(from, to);
    this.inferredLosses++;
  }

  #serverPacket(p: DecodedPacket, ts: number, flags: number, tl: Timeline): void {
    const s = this.srv;
    // Linux sends the SYN-ACK from the request socket with ID 0: the counter starts after it.
    const idGap = flags & TCP_SYN ? 0 : this.srvIds.observe(p.ipId, p.payloadLen, this.#cliMss, ts);
    if (flags & TCP_SYN) {
      if (!(flags & TCP_ACK)) return;
      if (p.mss > 0) this.#srvMss = p.mss;
      if (tl[T.SYN_ACK]! < 0) { tl[T.SYN_ACK] = ts; s.setIsn(p.seq); }
      else if (p.seq === s.isn) s.synRetransmit(tl[T.SYN_ACK]!, ts, this.loss);
      if (this.#synDataBuf !== null) this.#resolveSynData(this.cli.ackRel(p.ack) >= this.#synDataLen);
      return;
    }
    if (this.#synDataBuf !== null && flags & TCP_ACK) this.#resolveSynData(this.cli.ackRel(p.ack) >= this.#synDataLen);
    if (p.payloadLen === 0) return;
    const rel = s.rel(p.seq);
    const inOrder = rel === s.maxRel;
    const kind = s.classify(rel, p.payloadLen, ts, this.loss);
    if (idGap > 0 && kind === SEG_NEW && inOrder && tl[T.DONE]! < 0) this.#inferLoss(this.srvIds.prevTs, ts);
    if (kind !== SEG_RETRANSMIT) {
      if (this.tls === TLS_UNKNOWN) this.#recognise(p.buf, p.payloadOff, p.payloadAvail, rel, false, tl, ts);
      if (this.tls === TLS_NO) return;
      const inFlight = tl[T.SERVER_HELLO]! >= 0 && tl[T.CLIENT_FINISHED]! < 0;
      if (inFlight && tl[W_LAST_CLIENT_ACK]! > tl[W_LAST_SERVER_SEG]! && tl[W_LAST_SERVER_SEG]! >= 0 &&
          ts - tl[W_LAST_CLIENT_ACK]! <= STALL_TRIGGER_US && tl[W_LAST_CLIENT_ACK]! - tl[W_LAST_SERVER_SEG]! > STALL_TRIGGER_US) {
        this.stalls.push(tl[W_LAST_SERVER_SEG]!, tl[W_LAST_CLIENT_ACK]!);
      }
      if (tl[T.CLIENT_HELLO2_END]! >= 0) {
        if (tl[T.SERVER_HELLO]! < 0) tl[T.SERVER_HELLO] = ts;
      } else if (tl[T.CLIENT_HELLO_END]! >= 0 && !this.hrr && tl[T.SERVER_HELLO]! < 0 && tl[W_FIRST_SERVER_AFTER_CH]! < 0) {
        tl[W_FIRST_SERVER_AFTER_CH] = ts;
      }
      if (tl[T.CLIENT_FINISHED]! >= 0 && tl[T.CLIENT_FLIGHT_END]! < 0 && tl[W_LAST_CLI_REC_END]! >= 0 && this.tlsCli.atRecordBoundary) {
        this.#clientFlightEnd(tl[W_LAST_CLI_REC_END]!, true); // the server answers: the client's flight is over
      }
      if (tl[T.CLIENT_FINISHED]! < 0) {
        tl[W_LAST_SERVER_DATA] = ts;
        tl[W_CLIENT_ACK_CANDIDATE] = -1; // new server data is not yet acknowledged
      }
    }
    tl[W_LAST_SERVER_SEG] = ts;
    if (this.tls === TLS_NO) return;
    s.deliver(rel, p.payloadLen, p.buf, p.payloadOff, p.payloadAvail, ts, this.tlsSrv);
    // ServerHello bytes missing (not captured or unparsable): the first server data still counts.
    if (tl[W_FIRST_SERVER_AFTER_CH]! >= 0 && tl[T.SERVER_HELLO]! < 0 && !this.hrr && (this.tlsSrv.failed || s.contentLost)) {
      tl[T.SERVER_HELLO] = tl[W_FIRST_SERVER_AFTER_CH]!;
    }
  }

  /**
   * Content-based recognition (any port): the client's stream starts with a handshake record
   * holding a ClientHello, or — for a capture that starts mid-handshake — the server's with a
   * ServerHello.
   */
  #recognise(b: Uint8Array, o: number, avail: number, rel: number, fromClient: boolean, tl: Timeline, ts: number): void {
    const want = fromClient ? HS_CLIENT_HELLO : HS_SERVER_HELLO;
    if (fromClient && this.cli.isn >= 0 && rel > 0) return; // start of stream not seen yet: decide when it arrives
    if (!fromClient && tl[W_FIRST_CLIENT_DATA]! >= 0) return; // the client spoke first; wait for its stream start
    const startOfStream = fromClient || (tl[T.SYN]! < 0 && tl[T.SYN_ACK]! < 0);
    if (avail >= 6 && b[o] === 22 && b[o + 1] === 3 && b[o + 5] === want && startOfStream) {
      this.tls = TLS_YES;
      // Mid-handshake start: no ClientHello seen. The server stream is parsed from this
      // ServerHello, and the client's stream from its next flight, which starts on a record boundary.
      if (!fromClient) tl[T.SERVER_HELLO] = ts;
    } else {
      this.tls = TLS_NO;
    }
  }

  // --- TlsStreamOwner

  onTlsRecord(fromClient: boolean, contentType: number, encrypted: boolean, ts: number): void {
    const tl = this.timeline;
    if (fromClient && contentType === CT_HANDSHAKE && this.hrr && tl[T.CLIENT_HELLO2]! < 0) tl[T.CLIENT_HELLO2] = ts;
    if (contentType === CT_CHANGE_CIPHER_SPEC && !fromClient && tl[W_SERVER_CCS]! < 0) {
      tl[W_SERVER_CCS] = ts;
      if (tl[T.CLIENT_FINISHED]! < 0 && !this.tlsSrv.tls13) this.abbreviated = true;
    }
    if (!encrypted || tl[T.DONE]! >= 0 || tl[T.SERVER_HELLO]! < 0) return;
    const v = this.shVersion;
    if (fromClient) {
      // TLS 1.3 and TLS 1.2 resumption: the client's encrypted flight (ending with its Finished,
      // onTlsRecordEnd) completes the handshake.
      if ((v === 0x0304 || this.abbreviated || v === 0) && tl[T.CLIENT_FINISHED]! < 0) this.#clientFinished(ts, tl);
    } else if (!this.abbreviated && v !== 0x0304 && tl[T.CLIENT_FINISHED]! >= 0) {
      if (tl[T.CLIENT_FLIGHT_END]! < 0 && tl[W_LAST_CLI_REC_END]! >= 0) this.#clientFlightEnd(tl[W_LAST_CLI_REC_END]!, true);
      tl[T.DONE] = ts; // TLS 1.2 full handshake: the server's Finished is sent
    }
  }

  onTlsRecordEnd(fromClient: boolean, contentType: number, encrypted: boolean, len: number, ts: number): void {
    const tl = this.timeline;
    if (!fromClient || tl[T.CLIENT_FINISHED]! < 0 || tl[T.CLIENT_FLIGHT_END]! >= 0) return;
    if (contentType !== CT_HANDSHAKE && contentType !== CT_APPLICATION_DATA && contentType !== CT_CHANGE_CIPHER_SPEC) return;
    tl[W_LAST_CLI_REC_END] = ts;
    if (!encrypted) return; // TLS 1.2: Certificate, ClientKeyExchange, CertificateVerify, CCS; TLS 1.3: CCS
    if (this.shVersion === 0x0304) {
      if (contentType === CT_APPLICATION_DATA && this.#finishedLen > 0 && len === this.#finishedLen) this.#clientFlightEnd(ts, false);
      else {
        this.#cliFlightEncRecs++;
        this.#cliFlightEncBytes += len;
        this.#lastCliEncLen = len;
      }
    } else if (contentType === CT_HANDSHAKE) {
      this.#clientFlightEnd(ts, false); // TLS 1.2: the one encrypted handshake record of the flight is its Finished
    }
  }

  /** The client's second flight is complete at `ts`; for TLS 1.3 and resumed 1.2 so is the handshake. */
  #clientFlightEnd(ts: number, fallback: boolean): void {
    const tl = this.timeline;
    tl[T.CLIENT_FLIGHT_END] = ts;
    this.finishedFallback = fallback;
    const v = this.shVersion;
    if (v === 0x0304 && !this.clientCert) {
      // The fallback took the flight's last encrypted record as the Finished: the rest came before it.
      const recs = fallback ? this.#cliFlightEncRecs - 1 : this.#cliFlightEncRecs;
      const bytes = fallback ? this.#cliFlightEncBytes - this.#lastCliEncLen : this.#cliFlightEncBytes;
      if (recs >= 2 || (recs === 1 && bytes > NO_CERT_FLIGHT_MAX)) {
        this.clientCert = true;
        this.clientCertInferred = true;
      }
    }
    if ((v === 0x0304 || this.abbreviated || v === 0) && tl[T.DONE]! < 0) tl[T.DONE] = ts;
  }

  onTlsHandshake(fromClient: boolean, hsType: number, body: Uint8Array | null, bodyOff: number, bodyLen: number, ts: number): void {
    const tl = this.timeline;
    if (fromClient) {
      if (hsType === HS_CERTIFICATE && bodyLen > EMPTY_CERTIFICATE_BODY) this.clientCert = true; // TLS 1.2, in the clear
      if (hsType !== HS_CLIENT_HELLO) return;
      this.#chCount++;
      if (this.#chCount === 1) {
        tl[T.CLIENT_HELLO_END] = ts;
        if (body !== null) {
          const ch = scanClientHello(body, bodyOff, bodyOff + bodyLen);
          if (ch === null) this.an.bump(Anomaly.BAD_TLS_HANDSHAKE);
          else {
            this.sni = ch.sni;
            if (ch.nAlpn > 0) this.alpnOffered = joinedAlpn(ch.alpn, ch.nAlpn);
            this.ja4 = ja4OfScan(ch);
          }
        }
      } else if (this.#chCount === 2 && this.hrr) {
        tl[T.CLIENT_HELLO2_END] = ts;
        if (tl[T.CLIENT_HELLO2]! < 0) tl[T.CLIENT_HELLO2] = ts;
      }
      return;
    }
    if (hsType !== HS_SERVER_HELLO || body === null) return;
    const sh = scanServerHello(body, bodyOff, bodyOff + bodyLen);
    if (sh === null) {
      this.an.bump(Anomaly.BAD_TLS_HANDSHAKE);
      return;
    }
    if (sh.version === 0x0304) {
      this.tlsCli.tls13 = true;
      this.tlsSrv.tls13 = true;
      this.#finishedLen = tls13FinishedRecordLength(sh.cipherSuite);
    }
    if (sh.hrr && !this.hrr && tl[T.SERVER_HELLO]! < 0) {
      this.hrr = true;
      tl[T.HELLO_RETRY_REQUEST] = tl[W_FIRST_SERVER_AFTER_CH]! >= 0 ? tl[W_FIRST_SERVER_AFTER_CH]! : ts;
      this.#takeServerHello(sh.version, sh.cipherSuite, true, sh.psk, sh.selected);
      return;
    }
    if (sh.hrr) return;
    this.#takeServerHello(sh.version, sh.cipherSuite, false, sh.psk, sh.selected);
    if (tl[T.SERVER_HELLO]! < 0) tl[T.SERVER_HELLO] = tl[W_FIRST_SERVER_AFTER_CH]! >= 0 && !this.hrr ? tl[W_FIRST_SERVER_AFTER_CH]! : ts;
  }

  #takeServerHello(version: number, cipherSuite: number, hrr: boolean, psk: boolean, alpn: string | null): void {
    this.shSeen = true;
    this.shVersion = version;
    this.shCipherSuite = cipherSuite;
    this.shHrr = hrr;
    this.shPskAccepted = psk;
    this.shAlpn = alpn;
  }

  onTlsError(fromClient: boolean, anomaly: Anomaly): void {
    this.an.bump(anomaly);
    if (!this.tlsError) this.tlsError = `${fromClient ? 'client' : 'server'}: ${anomaly === Anomaly.BAD_TLS_RECORD ? 'bad TLS record header' : 'handshake message too large'}`;
  }

  #keep(p: DecodedPacket, fromClient: boolean): void {
    const kept = this.kept!;
    if (kept.length >= MAX_KEPT_PACKETS) {
      this.keptDropped++;
      return;
    }
    kept.push({
      tsSec: p.tsSec, tsNsec: p.tsNsec, tsUs: p.tsUs, origLen: p.origLen, linkType: p.linkType, fromClient,
      data: copyBytes(p.buf, p.off, p.off + p.caplen), flags: p.flags, seq: p.seq, ack: p.ack, payloadLen: p.payloadLen,
    });
  }

  /** Drops parsing state once the record is out; keeps what the record builder reads. */
  release(): void {
    this.cli.release();
    this.srv.release();
    this.tlsCli.stop();
    this.tlsSrv.stop();
  }
}
