/**
 * CIDR text for LiveCapture.widen (src/sources/cidr.ts): IPv4 and IPv6 networks parse to the bytes
 * the kernel filter's trie key takes, format canonically, and every bad form is one clear line.
 */
import { describe, expect, it } from 'vitest';
import { isIP } from 'node:net';
import { fc, test } from '@fast-check/vitest';
import { CidrError, formatCidr, parseCidr } from '../../../src/sources/cidr.js';

describe('parseCidr', () => {
  it('IPv4 networks', () => {
    expect(parseCidr('198.51.100.0/24')).toEqual({ ipVersion: 4, addr: Uint8Array.from([198, 51, 100, 0]), prefixLen: 24 });
    expect(parseCidr('0.0.0.0/0')).toEqual({ ipVersion: 4, addr: new Uint8Array(4), prefixLen: 0 });
    expect(parseCidr('10.1.2.3/32').addr).toEqual(Uint8Array.from([10, 1, 2, 3]));
  });

  it('IPv6 networks in each text form (RFC 4291 §2.2)', () => {
    const db8 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, ...new Array(12).fill(0)]);
    expect(parseCidr('2001:db8::/32')).toEqual({ ipVersion: 6, addr: db8, prefixLen: 32 });
    expect(parseCidr('2001:0DB8:0:0:0:0:0:0/32').addr).toEqual(db8);
    expect(parseCidr('::/0')).toEqual({ ipVersion: 6, addr: new Uint8Array(16), prefixLen: 0 });
    expect(parseCidr('::ffff:198.51.100.0/120').addr).toEqual(Uint8Array.from([...new Array(10).fill(0), 0xff, 0xff, 198, 51, 100, 0]));
    expect(parseCidr('2001:db8:55:1::2/128').addr[15]).toBe(2);
    expect(parseCidr('::1/128').addr[15]).toBe(1);
  });

  it.each([
    ['198.51.100.0', /expected an address and a prefix length/],
    ['198.51.100.0/', /expected an address and a prefix length/],
    ['198.51.100.0/24 ', /expected an address and a prefix length/],
    ['198.51.100/24', /"198\.51\.100" is not an IPv4 address/],
    ['198.51.100.256/32', /is not an IPv4 address/],
    ['198.051.100.0/24', /is not an IPv4 address/],
    ['198.51.100.0/33', /prefix length 33 is past 32 \(IPv4\)/],
    ['2001:db8::/129', /prefix length 129 is past 128 \(IPv6\)/],
    ['2001:db8:::/32', /is not an IPv6 address/],
    ['2001:db8::1::/32', /is not an IPv6 address/],
    ['1:2:3:4:5:6:7:8:9/64', /is not an IPv6 address/],
    ['1:2:3:4:5:6:7/64', /is not an IPv6 address/],
    ['2001:db8::g/64', /is not an IPv6 address/],
    ['10.0.0.1/8', /host bits set beyond \/8 \(the network is 10\.0\.0\.0\/8\)/],
    ['2001:db8::1/64', /host bits set beyond \/64 \(the network is 2001:db8::\/64\)/],
    ['', /expected an address/],
  ])('%j is one clear line', (text, re) => {
    let err: unknown;
    try { parseCidr(text); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(CidrError);
    expect((err as CidrError).code).toBe('SLOWSHAKE_ERR_CIDR');
    expect((err as Error).message).toMatch(re);
    expect((err as Error).message.startsWith(`cidr ${JSON.stringify(text)}: `)).toBe(true);
    expect((err as Error).message.split('\n')).toHaveLength(1);
  });
});

describe('formatCidr', () => {
  it('canonical text (RFC 5952: lowercase, the longest zero run as ::, a lone zero group kept)', () => {
    expect(formatCidr(parseCidr('2001:0DB8:0000:0000:0001:0000:0000:0000/128'))).toBe('2001:db8:0:0:1::/128');
    expect(formatCidr(parseCidr('2001:db8:0:1:1:1:1:1/128'))).toBe('2001:db8:0:1:1:1:1:1/128');
    expect(formatCidr(parseCidr('::/0'))).toBe('::/0');
    expect(formatCidr(parseCidr('198.51.100.0/24'))).toBe('198.51.100.0/24');
    expect(formatCidr(parseCidr('::FFFF:c633:6400/120'))).toBe('::ffff:198.51.100.0/120'); // RFC 5952 §5
  });

  test.prop([fc.oneof(fc.ipV4(), fc.ipV6()), fc.nat(128)])('parse(format(network)) round-trips, and Node accepts the address text', (ip, n) => {
    const full = parseCidr(`${ip}/${ip.includes(':') ? 128 : 32}`);
    const prefixLen = Math.min(n, full.addr.length * 8);
    const addr = Uint8Array.from(full.addr);
    for (let bit = prefixLen; bit < addr.length * 8; bit++) addr[bit >> 3]! &= ~(0x80 >> (bit & 7));
    const text = formatCidr({ ...full, addr, prefixLen });
    expect(isIP(text.split('/')[0]!)).toBe(full.ipVersion);
    expect(parseCidr(text)).toEqual({ ipVersion: full.ipVersion, addr, prefixLen });
  });
});
