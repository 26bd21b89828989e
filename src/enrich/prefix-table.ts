/**
 * Longest-prefix match over IPv4 and IPv6 CIDR prefixes (hundreds of thousands of them: the
 * published cloud range files together are ~10k, a full BGP table ~1M).
 *
 * 1. `PrefixTableBuilder.add(prefix, value)` collects prefixes; the same prefix added twice keeps
 *    the later value.
 * 2. `build()` flattens the nested prefixes into disjoint address intervals, each carrying the
 *    value of the longest prefix that covers it: the prefixes sorted by (first address, length)
 *    and swept with a stack of the prefixes that enclose the current one. A prefix inside
 *    another splits its parent's interval in up to three parts, so n prefixes give at most
 *    2n + 1 intervals.
 * 3. A lookup is a binary search for the last interval starting at or before the address:
 *    log2(2n) steps over a typed array (v4: one Uint32Array; v6: four words per start), with no
 *    allocation. Measured with 500k prefixes in scripts/bench/prefix-table.bench.mjs.
 *
 * Values are small non-negative integers (indexes into the caller's own table); -1 is "no match".
 */
import type { Prefix } from './ip.js';

const TWO32 = 2 ** 32;

export class PrefixTable {
  readonly #s4: Uint32Array;
  readonly #v4: Int32Array;
  readonly #s6: Uint32Array;
  readonly #v6: Int32Array;
  /** Prefixes the table was built from (after de-duplication), per family. */
  readonly prefixes: { v4: number; v6: number };

  constructor(s4: Uint32Array, v4: Int32Array, s6: Uint32Array, v6: Int32Array, prefixes: { v4: number; v6: number }) {
    this.#s4 = s4; this.#v4 = v4; this.#s6 = s6; this.#v6 = v6;
    this.prefixes = prefixes;
  }

  /** Intervals the lookups search (both families). */
  get intervals(): number {
    return this.#v4.length + this.#v6.length;
  }

  /** Value of the longest prefix holding the IPv4 address `a` (uint32), or -1. */
  lookup4(a: number): number {
    const s = this.#s4;
    let lo = 0;
    let hi = s.length - 1;
    let r = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid]! <= a) { r = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return r < 0 ? -1 : this.#v4[r]!;
  }

  /** Value of the longest prefix holding the IPv6 address w0:w1:w2:w3 (uint32 words), or -1. */
  lookup6(w0: number, w1: number, w2: number, w3: number): number {
    const s = this.#s6;
    let lo = 0;
    let hi = (s.length >>> 2) - 1;
    let r = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const o = mid << 2;
      // start <= address, word by word
      const a = s[o]!, b = s[o + 1]!, c = s[o + 2]!, d = s[o + 3]!;
      const le = a !== w0 ? a < w0 : b !== w1 ? b < w1 : c !== w2 ? c < w2 : d <= w3;
      if (le) { r = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return r < 0 ? -1 : this.#v6[r]!;
  }

  /** Lookup by address bytes (4 or 16). */
  lookupBytes(a: Uint8Array): number {
    const w = (i: number): number => ((a[i]! << 24) | (a[i + 1]! << 16) | (a[i + 2]! << 8) | a[i + 3]!) >>> 0;
    return a.length === 4 ? this.lookup4(w(0)) : this.lookup6(w(0), w(4), w(8), w(12));
  }
}

export class PrefixTableBuilder {
  /** v4 key start*64+len (exact in a double) -> value; later adds overwrite. */
  readonly #v4 = new Map<number, number>();
  /** v6 key "w0,w1,w2,w3/len" -> prefix and value. (BigInt keys made a 50k-prefix build take 1.8 s.) */
  readonly #v6 = new Map<string, { w: Uint32Array; len: number; value: number }>();

  add(p: Prefix, value: number): void {
    if (!Number.isInteger(value) || value < 0 || value > 0x7fffffff) throw new RangeError(`PrefixTableBuilder.add: value must be an int32 >= 0, got ${value}`);
    if (p.family === 4) {
      this.#v4.set(p.words[0]! * 64 + p.len, value);
    } else {
      const w = p.words;
      this.#v6.set(`${w[0]},${w[1]},${w[2]},${w[3]}/${p.len}`, { w: Uint32Array.from(w), len: p.len, value });
    }
  }

  get size(): number {
    return this.#v4.size + this.#v6.size;
  }

  build(): PrefixTable {
    const v4 = this.#build4();
    const v6 = this.#build6();
    return new PrefixTable(v4.starts, v4.values, v6.starts, v6.values, { v4: this.#v4.size, v6: this.#v6.size });
  }

  /**
   * The sweep (header step 2) over IPv4: prefixes sorted by start then length (a native sort of
   * the numeric keys), a stack of enclosing prefixes (at most 33 deep: each is longer than the
   * one it is inside), runs emitted as (start, value) with equal neighbours merged.
   */
  #build4(): { starts: Uint32Array; values: Int32Array } {
    const keys = Float64Array.from(this.#v4.keys()).sort();
    const starts = new Uint32Array(2 * keys.length + 1);
    const values = new Int32Array(2 * keys.length + 1);
    let n = 0;
    const emit = (at: number, value: number): void => {
      if (n > 0 && starts[n - 1] === at) {
        values[n - 1] = value;
        if (n > 1 && values[n - 2] === value) n--;
        return;
      }
      if (n > 0 && values[n - 1] === value) return;
      starts[n] = at;
      values[n++] = value;
    };
    const stackEnd = new Float64Array(34);
    const stackVal = new Int32Array(34);
    let sp = 0;
    const close = (): void => {
      const end = stackEnd[--sp]!;
      if (end !== TWO32 - 1) emit(end + 1, sp > 0 ? stackVal[sp - 1]! : -1);
    };
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i]!;
      const len = k % 64;
      const start = (k - len) / 64;
      while (sp > 0 && stackEnd[sp - 1]! < start) close();
      emit(start, this.#v4.get(k)!);
      stackEnd[sp] = start + 2 ** (32 - len) - 1;
      stackVal[sp++] = this.#v4.get(k)!;
    }
    while (sp > 0) close();
    return { starts: starts.slice(0, n), values: values.slice(0, n) };
  }

  /** The same sweep over IPv6 with 128-bit addresses as four uint32 words. */
  #build6(): { starts: Uint32Array; values: Int32Array } {
    const ps = [...this.#v6.values()].sort((a, b) => cmp128(a.w, 0, b.w, 0) || a.len - b.len);
    const starts = new Uint32Array(4 * (2 * ps.length + 1));
    const values = new Int32Array(2 * ps.length + 1);
    let n = 0;
    const at = new Uint32Array(4);
    const emit = (value: number): void => {
      if (n > 0 && cmp128(starts, 4 * (n - 1), at, 0) === 0) {
        values[n - 1] = value;
        if (n > 1 && values[n - 2] === value) n--;
        return;
      }
      if (n > 0 && values[n - 1] === value) return;
      starts.set(at, 4 * n);
      values[n++] = value;
    };
    const stackEnd = new Uint32Array(4 * 130);
    const stackVal = new Int32Array(130);
    let sp = 0;
    const close = (): void => {
      sp--;
      // at = end + 1, unless end is the last address
      let carry = 1;
      for (let i = 3; i >= 0; i--) {
        const v = stackEnd[4 * sp + i]! + carry;
        at[i] = v >>> 0;
        carry = v > 0xffffffff ? 1 : 0;
      }
      if (carry === 0) emit(sp > 0 ? stackVal[sp - 1]! : -1);
    };
    for (const p of ps) {
      while (sp > 0 && cmp128(stackEnd, 4 * (sp - 1), p.w, 0) < 0) close();
      at.set(p.w);
      emit(p.value);
      for (let i = 0; i < 4; i++) {
        const host = Math.min(32, Math.max(0, 32 * (i + 1) - p.len));
        stackEnd[4 * sp + i] = host === 0 ? p.w[i]! : host === 32 ? 0xffffffff : (p.w[i]! | ((1 << host) - 1)) >>> 0;
      }
      stackVal[sp++] = p.value;
    }
    while (sp > 0) close();
    return { starts: starts.slice(0, 4 * n), values: values.slice(0, n) };
  }
}

/** Compares the 128-bit values a[ao..ao+3] and b[bo..bo+3] (words most significant first). */
function cmp128(a: Uint32Array, ao: number, b: Uint32Array, bo: number): number {
  for (let i = 0; i < 4; i++) {
    const x = a[ao + i]!, y = b[bo + i]!;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
