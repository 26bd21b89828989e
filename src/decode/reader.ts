/**
 * Bounds-checked big-endian reads over a byte array (tcpdump `extract.h` GET_* / `ND_TTEST_LEN`).
 *
 * Every decoder reads through these helpers or checks `off + n <= end` itself before indexing.
 * A failed read returns -1 (a value no real field can take), so callers test one sentinel and
 * return a status instead of throwing. `end` is the caller's limit, already narrowed to the
 * declared length of the enclosing layer; it must never exceed `buf.length`.
 */

/** Decoder outcome. Keep truncated (capture cut the bytes) apart from invalid (protocol violation). */
export const enum Status {
  OK = 0,
  TRUNCATED = 1,
  INVALID = 2,
  UNSUPPORTED = 3,
}

export function u8(buf: Uint8Array, off: number, end: number): number {
  return off + 1 <= end ? buf[off]! : -1;
}

export function u16(buf: Uint8Array, off: number, end: number): number {
  return off + 2 <= end ? (buf[off]! << 8) | buf[off + 1]! : -1;
}

export function u24(buf: Uint8Array, off: number, end: number): number {
  return off + 3 <= end ? (buf[off]! << 16) | (buf[off + 1]! << 8) | buf[off + 2]! : -1;
}

/** Unsigned 32-bit read; the result is a non-negative double (`>>> 0`). */
export function u32(buf: Uint8Array, off: number, end: number): number {
  return off + 4 <= end
    ? ((buf[off]! << 24) | (buf[off + 1]! << 16) | (buf[off + 2]! << 8) | buf[off + 3]!) >>> 0
    : -1;
}

/** Little-endian variants, for pcap/pcapng files written on little-endian hosts. */
export function u16le(buf: Uint8Array, off: number, end: number): number {
  return off + 2 <= end ? buf[off]! | (buf[off + 1]! << 8) : -1;
}

export function u32le(buf: Uint8Array, off: number, end: number): number {
  return off + 4 <= end
    ? (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0
    : -1;
}

/**
 * A copy of buf[start, end). Use this, never `.slice`, on packet buffers: they may be Node
 * Buffers, whose `slice` is a view, and the file reader reuses its buffer for the next chunk.
 */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(buf.subarray(start, end));
  return out;
}
