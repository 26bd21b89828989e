/**
 * The design.md handshake timeline derived from tshark's frames alone, without the analyzer: what
 * each timeline point must be, in terms of frames tshark identifies independently.
 *
 * Rules (design.md "Handshake timeline", server-side vantage point; "after" is file order):
 *   syn                first SYN without ACK from the client
 *   syn_ack            first SYN-ACK
 *   ack                first client frame with ACK after the first SYN-ACK
 *   client_hello       first client frame with payload
 *   client_hello_end   first client frame where tshark shows handshake type 1 (tshark attributes a
 *                      reassembled message to the frame that completes it). TCP Fast Open: a SYN with
 *                      payload is the first client frame with payload; when the first SYN-ACK
 *                      acknowledges only the SYN (the server refused its data), the first client
 *                      frame after that SYN-ACK re-sending all of the SYN's bytes (tshark shows the
 *                      hello in the SYN and flags the copy as a retransmission)
 *   hello_retry_request  first server frame with payload after client_hello_end, when tshark sees an
 *                      HRR (a ServerHello with the RFC 8446 §4.1.3 random) before the next client data
 *   client_hello2_end  second client frame with handshake type 1 (HRR flows)
 *   server_hello       first server frame with payload after the last ClientHello's end
 *   client_finished    first client frame with payload after server_hello
 *   server_flight_end  last server frame with payload, not a retransmission, before client_finished
 *   client_ack         first client frame after server_flight_end whose ACK covers all server data
 *                      sent before it
 *   client_flight_end  the client frame, from client_finished on, that completes the client's
 *                      Finished: with the capture's key log (`<capture>.keys`) the frame where tshark
 *                      shows the decrypted handshake type 20; without it, TLS 1.3: the frame where a
 *                      record of a Finished's length under the ServerHello's suite (tls.record.length:
 *                      4 + hash + 1 + tag) ends, TLS 1.2: the first frame with an encrypted record
 *   done               TLS 1.3 / TLS 1.2 resumed: client_flight_end; TLS 1.2 full: first server frame
 *                      carrying an encrypted record after client_finished
 * An "encrypted record" is a TLS 1.3 opaque type 23 record, an application-data record, or a
 * handshake record following a ChangeCipherSpec from the same side (the TLS 1.2 Finished).
 */
import {
  CT_APPLICATION_DATA, CT_CHANGE_CIPHER_SPEC, CT_HANDSHAKE, EXT_PRE_SHARED_KEY, HS_CLIENT_HELLO, TH_ACK, TH_SYN,
  isHrrFrame, isServerHelloFrame, keylogOf, seqDiff, type TsharkConn, type TsharkFrame,
} from './tshark-frames.js';

/** RFC 8446 §4.4.4 Finished. */
const HS_FINISHED = 20;

/** RFC 8446 §5.2: Finished record length (header 4 + verify_data + content type 1 + AEAD tag), written out per suite. */
function finishedRecordLength(suite: number): number {
  if (suite === 0x1302) return 69; // TLS_AES_256_GCM_SHA384: 4 + 48 + 1 + 16
  if (suite === 0x1305) return 45; // TLS_AES_128_CCM_8_SHA256: 4 + 32 + 1 + 8
  return 53; // SHA-256 suites with a 16-byte tag: 4 + 32 + 1 + 16
}

export interface TsharkHandshake {
  syn: TsharkFrame | null;
  synAck: TsharkFrame | null;
  ack: TsharkFrame | null;
  clientHello: TsharkFrame | null;
  clientHelloEnd: TsharkFrame | null;
  /** The SYN carried payload (TCP Fast Open); `tfoRefused`: the first SYN-ACK acknowledged only the SYN. */
  tfo: boolean;
  tfoRefused: boolean;
  /** The frame tshark shows the HRR in (null without one). */
  hrrMessage: TsharkFrame | null;
  helloRetryRequest: TsharkFrame | null;
  clientHello2End: TsharkFrame | null;
  serverHello: TsharkFrame | null;
  /** The frame tshark shows the (non-HRR) ServerHello in. */
  serverHelloMessage: TsharkFrame | null;
  serverFlightEnd: TsharkFrame | null;
  clientAck: TsharkFrame | null;
  clientFinished: TsharkFrame | null;
  clientFlightEnd: TsharkFrame | null;
  /** client_flight_end was found by tshark's decryption of the Finished (a key log was given). */
  decrypted: boolean;
  done: TsharkFrame | null;
  /** "1.3", "1.2", … from the ServerHello (supported_versions, else its version field). */
  version: string | null;
  /** TLS 1.3: the ServerHello has pre_shared_key; TLS 1.2: the server's CCS precedes any client data after the ServerHello. */
  resumed: boolean;
  sni: string | null;
  alpnOffered: string[];
  /** TLS ≤ 1.2 only: the ALPN protocol in the ServerHello frame. */
  alpnSelected: string | null;
}

const VERSION_NAMES: Record<number, string> = { 0x0304: '1.3', 0x0303: '1.2', 0x0302: '1.1', 0x0301: '1.0', 0x0300: 'SSL 3.0' };

/** Frames of one side that carry an encrypted record, tracking that side's CCS across frames. */
function encryptedFrames(frames: readonly TsharkFrame[]): Set<TsharkFrame> {
  const out = new Set<TsharkFrame>();
  let ccs = false;
  for (const f of frames) {
    if (f.opaqueTypes.includes(CT_APPLICATION_DATA)) out.add(f);
    for (const ct of f.contentTypes) {
      if (ct === CT_CHANGE_CIPHER_SPEC) ccs = true;
      else if (ct === CT_APPLICATION_DATA || (ct === CT_HANDSHAKE && ccs)) out.add(f);
    }
  }
  return out;
}

export function tsharkHandshake(conn: TsharkConn): TsharkHandshake {
  const fr = conn.frames;
  const fromClient = (f: TsharkFrame): boolean => f.src === conn.client;
  const fromServer = (f: TsharkFrame): boolean => f.src === conn.server;
  const after = (f: TsharkFrame | null | undefined, pred: (x: TsharkFrame) => boolean): TsharkFrame | null =>
    f ? (fr.find((x) => x.no > f.no && pred(x)) ?? null) : null;
  const between = (a: TsharkFrame, b: TsharkFrame | null, pred: (x: TsharkFrame) => boolean): TsharkFrame[] =>
    fr.filter((x) => x.no > a.no && (b === null || x.no < b.no) && pred(x));

  const syn = fr.find((f) => fromClient(f) && (f.flags & (TH_SYN | TH_ACK)) === TH_SYN) ?? null;
  const synAck = fr.find((f) => fromServer(f) && (f.flags & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK)) ?? null;
  const ack = after(synAck, (f) => fromClient(f) && (f.flags & TH_ACK) !== 0 && (f.flags & TH_SYN) === 0);
  const clientHello = fr.find((f) => fromClient(f) && f.len > 0) ?? null;
  const chEnds = fr.filter((f) => fromClient(f) && f.hsTypes.includes(HS_CLIENT_HELLO));
  let clientHelloEnd: TsharkFrame | null = chEnds[0] ?? null;
  const tfo = syn !== null && syn.len > 0;
  const tfoRefused = tfo && synAck !== null && seqDiff(synAck.ackRaw, syn.seqRaw + 1) === 0;
  if (tfoRefused) {
    const want = syn.seqRaw + 1 + syn.len;
    clientHelloEnd = after(synAck, (f) => fromClient(f) && f.len > 0 && seqDiff(f.seqRaw, syn.seqRaw + 1) === 0 && seqDiff(f.seqRaw + f.len, want) >= 0);
  }

  let hrrMessage: TsharkFrame | null = null;
  let helloRetryRequest: TsharkFrame | null = null;
  let clientHello2End: TsharkFrame | null = null;
  if (clientHelloEnd !== null) {
    const firstServerData = after(clientHelloEnd, (f) => fromServer(f) && f.len > 0);
    const nextClientData = firstServerData && after(firstServerData, (f) => fromClient(f) && f.len > 0);
    hrrMessage = firstServerData && (between(clientHelloEnd, nextClientData, (f) => fromServer(f) && isHrrFrame(f))[0] ?? null);
    if (hrrMessage !== null) {
      helloRetryRequest = firstServerData;
      clientHello2End = chEnds[1] ?? null;
    }
  }
  const lastChEnd = hrrMessage !== null ? clientHello2End : clientHelloEnd;
  const serverHello = after(lastChEnd, (f) => fromServer(f) && f.len > 0);
  const serverHelloMessage = after(lastChEnd, (f) => fromServer(f) && isServerHelloFrame(f));
  const clientFinished = after(serverHello, (f) => fromClient(f) && f.len > 0);

  let serverFlightEnd: TsharkFrame | null = null;
  let clientAck: TsharkFrame | null = null;
  if (serverHello !== null) {
    const flight = fr.filter((f) => fromServer(f) && f.len > 0 && !f.retransmission && f.no >= serverHello.no &&
      (clientFinished === null || f.no < clientFinished.no));
    serverFlightEnd = flight.at(-1) ?? null;
    if (serverFlightEnd !== null) {
      // Highest server sequence number sent up to the end of the flight.
      let top = serverFlightEnd.seqRaw + serverFlightEnd.len;
      for (const f of fr) {
        if (f.no > serverFlightEnd.no) break;
        if (fromServer(f) && f.len > 0 && seqDiff(f.seqRaw + f.len, top) > 0) top = f.seqRaw + f.len;
      }
      clientAck = after(serverFlightEnd, (f) => fromClient(f) && (f.flags & TH_ACK) !== 0 && seqDiff(f.ackRaw, top) >= 0);
    }
  }

  const sh = serverHelloMessage;
  const sv = sh?.supportedVersions.find((v) => v !== 0) ?? sh?.hsVersions.at(-1);
  const version = sv === undefined ? null : (VERSION_NAMES[sv] ?? `0x${sv.toString(16)}`);
  let resumed = false;
  if (sh !== null && version === '1.3') resumed = sh.extensionTypes.includes(EXT_PRE_SHARED_KEY);
  else if (sh !== null) {
    const nextClient = after(sh, (f) => fromClient(f) && f.len > 0);
    resumed = fr.some((f) => fromServer(f) && f.no >= sh.no && (nextClient === null || f.no < nextClient.no) &&
      f.contentTypes.includes(CT_CHANGE_CIPHER_SPEC));
  }

  let done: TsharkFrame | null = null;
  let clientFlightEnd: TsharkFrame | null = null;
  const decrypted = keylogOf(conn.file) !== null;
  if (clientFinished !== null) {
    const fromCf = (pred: (x: TsharkFrame) => boolean): TsharkFrame | null => fr.find((x) => x.no >= clientFinished.no && pred(x)) ?? null;
    if (decrypted) {
      clientFlightEnd = fromCf((f) => fromClient(f) && f.hsTypes.includes(HS_FINISHED));
    } else if (version === '1.3') {
      const len = finishedRecordLength(sh?.cipherSuites[0] ?? 0);
      clientFlightEnd = fromCf((f) => fromClient(f) && !f.retransmission && f.opaqueTypes.includes(CT_APPLICATION_DATA) && f.recordLengths.includes(len));
    } else {
      const enc = encryptedFrames(fr.filter(fromClient));
      clientFlightEnd = fromCf((f) => enc.has(f));
    }
  }
  if (serverHello !== null) {
    const byClient = version === '1.3' || resumed;
    if (byClient) done = clientFlightEnd;
    else {
      const enc = encryptedFrames(fr.filter(fromServer));
      done = after(clientFinished, (f) => enc.has(f));
    }
  }

  const ch = chEnds[0] ?? null; // where tshark dissected the hello (a refused SYN's: the copy is a retransmission)
  return {
    syn, synAck, ack, clientHello, clientHelloEnd, tfo, tfoRefused, hrrMessage, helloRetryRequest, clientHello2End, serverHello,
    serverHelloMessage, serverFlightEnd, clientAck, clientFinished, clientFlightEnd, decrypted, done, version, resumed,
    sni: ch?.sni ?? null,
    alpnOffered: ch?.alpn ?? [],
    alpnSelected: version !== null && version !== '1.3' ? (sh?.alpn[0] ?? null) : null,
  };
}
