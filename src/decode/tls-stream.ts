/**
 * TLS record layer over one direction's in-order TCP byte stream (RFC 8446 §5.1, RFC 5246 §6.2).
 *
 * State machine (small integers): READ_HEADER → READ_BODY → READ_HEADER …
 * - Record headers are 5 bytes and may straddle segments; they are validated (content type 20–24,
 *   version 3.x, length ≤ 2^14 + 2048) before anything trusts the length.
 * - Plaintext handshake records feed a second state machine that reassembles handshake messages
 *   across records and segments; only ClientHello and ServerHello bodies are kept (capped), the
 *   rest are skipped by length.
 * - "Encrypted" follows the negotiated version: TLS 1.3 protects everything in application_data
 *   (23) records (CCS is a no-op); TLS 1.2 protects every record after the sender's CCS.
 * Nothing throws: a bad header stops parsing this direction and reports `onTlsError`.
 */
import { Anomaly } from '../telemetry/anomalies.js';

export const CT_CHANGE_CIPHER_SPEC = 20;
export const CT_ALERT = 21;
export const CT_HANDSHAKE = 22;
export const CT_APPLICATION_DATA = 23;
const CT_HEARTBEAT = 24;
const MAX_RECORD = 16384 + 2048; // RFC 5246 §6.2.3 TLSCiphertext limit
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
/** Largest ClientHello/ServerHello body kept (post-quantum key shares make CHs a few KB). */
const MAX_HELLO = 64 * 1024;

const READ_HEADER = 0;
const READ_BODY = 1;
const FAILED = 2;

export interface TlsStreamOwner {
  /** A record header completed; `ts` is the capture time of the packet carrying its first byte. */
  onTlsRecord(fromClient: boolean, contentType: number, encrypted: boolean, ts: number): void;
  /**
   * A record's last byte arrived: `len` is its length from the header, `ts` the capture time of
   * the packet that completed it (the same packet as onTlsRecord's for a record in one segment).
   */
  onTlsRecordEnd(fromClient: boolean, contentType: number, encrypted: boolean, len: number, ts: number): void;
  /**
   * A plaintext handshake message completed. Its body is `body[bodyOff, bodyOff + bodyLen)`;
   * `body` is null for messages not kept. It is only valid during the call: a body that arrived in
   * one segment is the packet's own buffer (parsed in place, not copied).
   */
  onTlsHandshake(fromClient: boolean, hsType: number, body: Uint8Array | null, bodyOff: number, bodyLen: number, ts: number): void;
  onTlsError(fromClient: boolean, anomaly: Anomaly): void;
}

export class TlsStream {
  #state = READ_HEADER;
  /**
   * A record header split across segments: its first four bytes big-endian in #hdrWord, the
   * fifth in #hdrLast (integer fields, not a 5-byte Uint8Array per stream: issue 13).
   */
  #hdrWord = 0;
  #hdrLast = 0;
  #hdrHave = 0;
  /**
   * Capture time of a split header's first byte (null: none pending). Tagged, not a number field:
   * V8 boxes a number field holding µs timestamps in a heap number per stream, two per flow, where
   * only a header split across segments needs one (issue 13).
   */
  #splitTs: number | null = null;
  #recType = 0;
  #recLeft = 0;
  #recLen = 0;
  #recEnc = false;
  #ccsSeen = false;
  /** Set by the owner once the negotiated version is known to be TLS 1.3. */
  tls13 = false;
  // handshake message reassembly; a header split across records or segments gathers in #hsHdrWord
  #hsHdrWord = 0;
  #hsHdrHave = 0;
  #hsType = 0;
  #hsLeft = 0;
  #hsLen = 0;
  #hsBody: Uint8Array | null = null;
  #hsBodyHave = 0;
  records = 0;

  constructor(readonly fromClient: boolean, readonly owner: TlsStreamOwner) {}

  get failed(): boolean {
    return this.#state === FAILED;
  }

  /** No record is in progress: the bytes so far end on a record boundary. */
  get atRecordBoundary(): boolean {
    return this.#state === READ_HEADER && this.#hdrHave === 0;
  }

  stop(): void {
    this.#state = FAILED;
  }

  /** True when the next record of this direction will be protected under the current rules. */
  #encrypted(type: number): boolean {
    if (type === CT_APPLICATION_DATA) return true;
    return !this.tls13 && this.#ccsSeen && type !== CT_CHANGE_CIPHER_SPEC;
  }

  /** Consumes in-order stream bytes buf[off, end) carried by a packet captured at `ts`. */
  push(buf: Uint8Array, off: number, end: number, ts: number): void {
    while (off < end) {
      if (this.#state === READ_HEADER) {
        let w: number, last: number, startTs = ts;
        if (this.#hdrHave === 0 && off + 5 <= end) { // the whole header in this segment: read in place
          w = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
          last = buf[off + 4]!;
          off += 5;
        } else {
          if (this.#hdrHave === 0) this.#splitTs = ts;
          while (this.#hdrHave < 4 && off < end) { this.#hdrWord = ((this.#hdrWord << 8) | buf[off++]!) >>> 0; this.#hdrHave++; }
          if (this.#hdrHave === 4 && off < end) { this.#hdrLast = buf[off++]!; this.#hdrHave++; }
          if (this.#hdrHave < 5) return;
          w = this.#hdrWord;
          last = this.#hdrLast;
          this.#hdrWord = 0;
          startTs = this.#splitTs!;
          this.#splitTs = null;
        }
        this.#hdrHave = 0;
        // RFC 8446 §5.1: type u8, legacy_record_version u16, length u16
        const type = w >>> 24;
        const len = ((w & 0xff) << 8) | last;
        if (type < CT_CHANGE_CIPHER_SPEC || type > CT_HEARTBEAT || ((w >>> 16) & 0xff) !== 3 || ((w >>> 8) & 0xff) > 4 || len > MAX_RECORD) {
          this.#state = FAILED;
          this.owner.onTlsError(this.fromClient, Anomaly.BAD_TLS_RECORD);
          return;
        }
        this.#recType = type;
        this.#recLeft = len;
        this.#recLen = len;
        this.#recEnc = this.#encrypted(type);
        this.records++;
        this.#state = READ_BODY;
        this.owner.onTlsRecord(this.fromClient, type, this.#recEnc, startTs);
        if (this.#state !== READ_BODY) return; // owner stopped us
        if (len === 0) this.#endRecord(ts);
      } else if (this.#state === READ_BODY) {
        const n = Math.min(this.#recLeft, end - off);
        if (this.#recType === CT_HANDSHAKE && !this.#encrypted(CT_HANDSHAKE)) this.#feedHandshake(buf, off, off + n, ts);
        off += n;
        this.#recLeft -= n;
        if (this.#recLeft === 0) this.#endRecord(ts);
      } else {
        return;
      }
    }
  }

  #endRecord(ts: number): void {
    if (this.#recType === CT_CHANGE_CIPHER_SPEC) this.#ccsSeen = true;
    if (this.#state !== READ_BODY) return;
    this.#state = READ_HEADER;
    this.owner.onTlsRecordEnd(this.fromClient, this.#recType, this.#recEnc, this.#recLen, ts);
  }

  /** Handshake message layer (RFC 8446 §4: type u8, length u24, body), spanning records. */
  #feedHandshake(buf: Uint8Array, off: number, end: number, ts: number): void {
    while (off < end && this.#state !== FAILED) {
      if (this.#hsLeft === 0 && this.#hsHdrHave < 4) {
        let w: number;
        if (this.#hsHdrHave === 0 && off + 4 <= end) { // the whole header here: read in place
          w = ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0;
          off += 4;
          this.#hsHdrHave = 4;
        } else {
          while (this.#hsHdrHave < 4 && off < end) { this.#hsHdrWord = ((this.#hsHdrWord << 8) | buf[off++]!) >>> 0; this.#hsHdrHave++; }
          if (this.#hsHdrHave < 4) return;
          w = this.#hsHdrWord;
          this.#hsHdrWord = 0;
        }
        this.#hsType = w >>> 24;
        this.#hsLen = w & 0xffffff;
        this.#hsLeft = this.#hsLen;
        this.#hsBodyHave = 0;
        this.#hsBody = null;
        if (this.#hsType === HS_CLIENT_HELLO || this.#hsType === HS_SERVER_HELLO) {
          if (this.#hsLen > MAX_HELLO) this.owner.onTlsError(this.fromClient, Anomaly.TLS_MESSAGE_TOO_LARGE);
          else if (off + this.#hsLen <= end) {
            // The whole body is in this segment (the common case): the owner parses it in place.
            const bodyOff = off;
            off += this.#hsLen;
            this.#hsLeft = 0;
            this.#hsHdrHave = 0;
            this.owner.onTlsHandshake(this.fromClient, this.#hsType, buf, bodyOff, this.#hsLen, ts);
            continue;
          } else this.#hsBody = new Uint8Array(this.#hsLen); // reassembled across segments or records
        }
        if (this.#hsLen === 0) { this.#endMessage(ts); continue; }
      }
      const n = Math.min(this.#hsLeft, end - off);
      const body = this.#hsBody;
      if (body !== null) {
        // a byte loop, not set(buf.subarray(…)): no view object per segment
        for (let i = 0, h = this.#hsBodyHave; i < n; i++) body[h + i] = buf[off + i]!;
        this.#hsBodyHave += n;
      }
      off += n;
      this.#hsLeft -= n;
      if (this.#hsLeft === 0) this.#endMessage(ts);
    }
  }

  #endMessage(ts: number): void {
    this.#hsHdrHave = 0;
    const body = this.#hsBody;
    this.#hsBody = null;
    this.owner.onTlsHandshake(this.fromClient, this.#hsType, body, 0, this.#hsLen, ts);
  }
}
