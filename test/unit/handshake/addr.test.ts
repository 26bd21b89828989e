/**
 * formatEndpoint's IPv4 cache (issue 13): whatever was formatted before, in whatever order, the
 * text is that of the address and port asked for; IPv6 endpoints keep their brackets.
 */
import { fc, test } from '@fast-check/vitest';
import { describe, expect, it } from 'vitest';
import { formatEndpoint } from '../../../src/handshake/addr.js';

describe('formatEndpoint', () => {
  it('formats IPv4 and IPv6 endpoints', () => {
    expect(formatEndpoint(Uint8Array.of(198, 51, 100, 2), 41501)).toBe('198.51.100.2:41501');
    expect(formatEndpoint(Uint8Array.of(198, 51, 100, 2), 41501)).toBe('198.51.100.2:41501');
    expect(formatEndpoint(Uint8Array.of(0, 0, 0, 0), 0)).toBe('0.0.0.0:0');
    const v6 = new Uint8Array(16);
    v6[0] = 0x20; v6[1] = 0x01; v6[2] = 0x0d; v6[3] = 0xb8; v6[15] = 1;
    expect(formatEndpoint(v6, 443)).toBe('[2001:db8::1]:443');
  });

  const v4 = fc.tuple(fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }));
  const ep = fc.tuple(v4, fc.integer({ min: 0, max: 65535 }));
  test.prop([fc.array(ep, { minLength: 1, maxLength: 3000 })])('any sequence of IPv4 endpoints, repeats and cache collisions included', (eps) => {
    for (const [[a, b, c, d], port] of [...eps, ...eps]) {
      expect(formatEndpoint(Uint8Array.of(a, b, c, d), port)).toBe(`${a}.${b}.${c}.${d}:${port}`);
    }
  });
});
