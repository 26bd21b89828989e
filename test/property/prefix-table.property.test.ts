/**
 * The longest-prefix-match table against a brute-force scan: for arbitrary sets of IPv4 and IPv6
 * prefixes (nested, overlapping, duplicated, /0 and host routes included) and arbitrary
 * addresses (inside, at the edges of and outside the prefixes), the table's answer is the value
 * of the longest prefix that holds the address, the later one of duplicates, or -1.
 *
 * The oracle works on BigInt addresses and knows nothing of the table's intervals.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { PrefixTableBuilder } from '../../src/enrich/prefix-table.js';
import { bytesToWords, endpointAddress, endpointV4, parsePrefix, v4Text, type Prefix } from '../../src/enrich/ip.js';

interface P { family: 4 | 6; start: bigint; len: number }

const bits = (f: 4 | 6): number => (f === 4 ? 32 : 128);
const mask = (f: 4 | 6, len: number): bigint => ((1n << BigInt(bits(f))) - 1n) ^ ((1n << BigInt(bits(f) - len)) - 1n);

function toPrefix(p: P): Prefix {
  const w = new Uint32Array(4);
  if (p.family === 4) w[0] = Number(p.start);
  else for (let i = 0; i < 4; i++) w[i] = Number((p.start >> BigInt(96 - 32 * i)) & 0xffffffffn);
  return { family: p.family, words: w, len: p.len };
}

function oracle(ps: P[], family: 4 | 6, addr: bigint): number {
  let best = -1;
  let bestLen = -1;
  ps.forEach((p, i) => {
    if (p.family !== family) return;
    if ((addr & mask(family, p.len)) !== p.start) return;
    if (p.len >= bestLen) { best = i; bestLen = p.len; }
  });
  return best;
}

function lookup(t: ReturnType<PrefixTableBuilder['build']>, family: 4 | 6, a: bigint): number {
  if (family === 4) return t.lookup4(Number(a));
  const w = (i: number): number => Number((a >> BigInt(96 - 32 * i)) & 0xffffffffn);
  return t.lookup6(w(0), w(1), w(2), w(3));
}

/** Addresses clustered in a few bases so that prefixes nest and overlap often. */
const addrOf = (f: 4 | 6) => fc.tuple(fc.integer({ min: 0, max: 3 }), fc.bigInt({ min: 0n, max: (1n << 20n) - 1n }), fc.bigInt({ min: 0n, max: (1n << BigInt(bits(f))) - 1n }), fc.boolean())
  .map(([base, low, any, clustered]) => (clustered ? ((BigInt(base) * 0x3fn) << BigInt(bits(f) - 8)) | low : any));

const prefixOf = (f: 4 | 6) => fc.tuple(addrOf(f), fc.integer({ min: 0, max: bits(f) })).map(([a, len]): P => ({ family: f, start: a & mask(f, len), len }));
const anyPrefix = fc.oneof(prefixOf(4), prefixOf(6));

describe('PrefixTable longest-prefix match', () => {
  test.prop([fc.array(anyPrefix, { maxLength: 60 }), fc.array(fc.oneof(addrOf(4).map((a) => [4, a] as const), addrOf(6).map((a) => [6, a] as const)), { maxLength: 40 })], { numRuns: 400 })(
    'equals a brute-force scan',
    (ps, addrs) => {
      const b = new PrefixTableBuilder();
      ps.forEach((p, i) => b.add(toPrefix(p), i));
      const t = b.build();
      // probe the given addresses and every prefix's first address, last address and neighbours
      const probes: (readonly [4 | 6, bigint])[] = [...addrs];
      for (const p of ps) {
        const top = (1n << BigInt(bits(p.family))) - 1n;
        const end = p.start + (1n << BigInt(bits(p.family) - p.len)) - 1n;
        for (const a of [p.start - 1n, p.start, end, end + 1n]) if (a >= 0n && a <= top) probes.push([p.family, a]);
      }
      for (const [f, a] of probes) expect(lookup(t, f, a), `IPv${f} ${a.toString(16)}`).toBe(oracle(ps, f, a));
    },
  );

  it('an empty table matches nothing', () => {
    const t = new PrefixTableBuilder().build();
    expect(t.lookup4(0)).toBe(-1);
    expect(t.lookup6(0, 0, 0, 0)).toBe(-1);
  });

  it('matches real-looking nested ranges', () => {
    const b = new PrefixTableBuilder();
    b.add(parsePrefix('3.0.0.0/9')!, 1);
    b.add(parsePrefix('3.5.140.0/22')!, 2);
    b.add(parsePrefix('2600:1f00::/24')!, 3);
    b.add(parsePrefix('2600:1f18:4000::/36')!, 4);
    const t = b.build();
    expect(t.lookupBytes(Uint8Array.from([3, 5, 141, 7]))).toBe(2);
    expect(t.lookupBytes(Uint8Array.from([3, 5, 144, 0]))).toBe(1);
    expect(t.lookupBytes(Uint8Array.from([3, 128, 0, 0]))).toBe(-1);
    const v6 = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/:/g, ''), 'hex'));
    expect(t.lookupBytes(v6('2600:1f18:4abc:0000:0000:0000:0000:0001'))).toBe(4);
    expect(t.lookupBytes(v6('2600:1f18:5000:0000:0000:0000:0000:0001'))).toBe(3);
    expect(t.lookupBytes(v6('2600:2000:0000:0000:0000:0000:0000:0001'))).toBe(-1);
  });

  it('refuses prefixes with host bits set or lengths out of range', () => {
    expect(parsePrefix('10.0.0.1/8')).toBeNull();
    expect(parsePrefix('10.0.0.0/33')).toBeNull();
    expect(parsePrefix('2001:db8::1/32')).toBeNull();
    expect(parsePrefix('2001:db8::/129')).toBeNull();
    expect(parsePrefix('2001:db8::/32')).not.toBeNull();
  });
});

describe('endpointV4 (the enricher\'s fast path) agrees with the general parser', () => {
  test.prop([fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 65535 })])('on every IPv4 endpoint', (a, port) => {
    expect(endpointV4(`${v4Text(a)}:${port}`)).toBe(a);
  });
  test.prop([fc.oneof(fc.string({ unit: fc.constantFrom('0', '1', '2', '5', '9', '.', ':', '[', ']', 'a') }), fc.string())])('on arbitrary text: -1 or the same address', (t) => {
    const fast = endpointV4(t);
    if (fast < 0) return;
    const a = endpointAddress(t);
    expect(a).not.toBeNull();
    expect(bytesToWords(a!)[0]).toBe(fast);
  });
});
