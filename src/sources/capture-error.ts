/** A capture file that cannot be read further: names the file and the byte offset. */
export class CaptureFileError extends Error {
  readonly code = 'SLOWSHAKE_ERR_CAPTURE_FILE';
  /** `options.cause`: the system error behind it, when there is one (ENOENT, EACCES, …). */
  constructor(readonly file: string, readonly offset: number, readonly reason: string, options?: ErrorOptions) {
    super(`${file}: byte ${offset}: ${reason}`, options);
    this.name = 'CaptureFileError';
  }
}

/** Sink of raw packets: the reader fills the reusable packet's raw fields and calls `onPacket`. */
export interface PacketSink {
  onPacket(pkt: import('../decode/packet.js').DecodedPacket): void;
}

/** libpcap's cap on a single record (pcap-int.h MAXIMUM_SNAPLEN); larger lengths mean corruption. */
export const MAX_RECORD_BYTES = 262_144;
