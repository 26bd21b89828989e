import { describe, expect, it } from 'vitest';
import { NetworkSlots, networkOf } from '../../../src/live/networks.js';

const v4 = (s: string): Uint8Array => Uint8Array.from(s.split('.').map(Number));

describe('networkOf', () => {
  it('masks to the prefix', () => {
    expect(networkOf(v4('203.0.113.77'), 24, 48)).toBe('203.0.113.0/24');
    expect(networkOf(v4('203.0.113.77'), 20, 48)).toBe('203.0.112.0/20');
    const a6 = Uint8Array.from([0x20, 0x01, 0x0d, 0xb8, 0x00, 0x01, 0xff, 0xff, 1, 2, 3, 4, 5, 6, 7, 8]);
    expect(networkOf(a6, 24, 48)).toBe('2001:db8:1::/48');
  });
});

describe('NetworkSlots', () => {
  it('labels the heaviest networks at a rebalance, counts the rest as other, and bounds the labels', () => {
    const added: string[] = [], removed: string[] = [];
    const s = new NetworkSlots({ slots: 2, ipv4Prefix: 24, ipv6Prefix: 48, onAdded: (n) => added.push(n), onRemoved: (n) => removed.push(n) });
    for (let i = 0; i < 50; i++) expect(s.count(v4(`198.51.100.${i}`), 0)).toBe('other');
    for (let i = 0; i < 20; i++) s.count(v4(`203.0.113.${i}`), 0);
    for (let i = 0; i < 3; i++) s.count(v4(`192.0.2.${i}`), 0);
    // 1000 one-off networks cannot push the heavy ones out of the bounded candidate table.
    for (let i = 0; i < 1000; i++) s.count(v4(`10.${i >> 8}.${i & 255}.1`), 0);
    s.rebalance(1000);
    expect(added).toEqual(['198.51.100.0/24', '203.0.113.0/24']);
    expect(s.labelled.length).toBe(2);
    expect(s.count(v4('198.51.100.9'), 2000)).toBe('198.51.100.0/24');
    expect(s.count(v4('192.0.2.9'), 2000)).toBe('other');
    // A label idle for longer than idleMs is freed for the next candidate.
    for (let i = 0; i < 5; i++) s.count(v4('192.0.2.1'), 3_600_000);
    s.count(v4('198.51.100.1'), 3_600_000);
    s.rebalance(3_600_000 + 2000 + 1);
    expect(removed).toEqual(['203.0.113.0/24']);
    expect(s.labelled.sort()).toEqual(['192.0.2.0/24', '198.51.100.0/24']);
  });
});
