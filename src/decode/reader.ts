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





/**
 * A copy of buf[start, end). Use this, never `.slice`, on packet buffers: they may be Node
 * Buffers, whose `slice` is a view, and the file reader reuses its buffer for the next chunk.
 */
export function copyBytes(buf: Uint8Array, start: number, end: number): Uint8Array {
  const n = end - start;
  const out = new Uint8Array(n);
  // Short copies (addresses) by a loop: set(buf.subarray(…)) made a view object for each.
  if (n <= COPY_LOOP_MAX) for (let i = 0; i < n; i++) out[i] = buf[start + i]!;
  else out.set(buf.subarray(start, end));
  return out;
}

const COPY_LOOP_MAX = 64;
