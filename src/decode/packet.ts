/**
 * The one reusable decode target (stenotype `Block::Next(Packet*)`, Zeek `Packet*`): decoders
 * fill this fixed-shape object in place; consumers copy only what they keep. All fields are
 * initialised in the constructor so V8 keeps one hidden class.
 */
export class DecodedPacket {
  /** Capture timestamp: whole seconds since the epoch and the nanosecond fraction. */
  tsSec = 0;
  tsNsec = 0;
  /** Capture timestamp in whole microseconds since the epoch (exact: < 2^53). */
  tsUs = 0;
  /** Bytes of this packet in `buf`, and its length on the wire. */
  caplen = 0;
  origLen = 0;
  linkType = 0;
  /** Index of the capture interface (pcapng IDB index; 0 for classic pcap). */
  ifIndex = 0;
  buf: Uint8Array = EMPTY;
  /** Packet bytes are buf[off, off + caplen). */
  off = 0;

  // --- network layer
  ipVersion = 0;
  /** IPv4 identification field; -1 for IPv6. */
  ipId = -1;
  /** Offsets in `buf` of the source and destination addresses (4 or 16 bytes). */
  srcAddrOff = 0;
  dstAddrOff = 0;

  // --- TCP
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  /** MSS option on SYN segments, else 0. */
  mss = 0;
  /** Payload starts at buf[payloadOff]; `payloadLen` is the length the IP header declares, `payloadAvail` what was captured. */
  payloadOff = 0;
  payloadLen = 0;
  payloadAvail = 0;
}

const EMPTY = new Uint8Array(0);

// TCP flags (RFC 9293 §3.1)
export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;
