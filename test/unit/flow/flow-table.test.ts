import { describe, expect, it } from 'vitest';
import { FlowTable, SLOT_PASSIVE, SLOT_TRACKING } from '../../../src/flow/flow-table.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { AnomalyCounters } from '../../../src/telemetry/anomalies.js';

/** A packet view with just the fields the table reads. */
function pkt(v6: boolean, src: number, dst: number, sport: number, dport: number): DecodedPacket {
  const p = new DecodedPacket();
  const alen = v6 ? 16 : 4;
  const buf = new Uint8Array(2 * alen);
  const dv = new DataView(buf.buffer);
  dv.setUint32(alen - 4, src);
  dv.setUint32(2 * alen - 4, dst);
  if (v6) { buf[0] = 0x20; buf[alen] = 0x20; }
  p.buf = buf;
  p.ipVersion = v6 ? 6 : 4;
  p.srcAddrOff = 0;
  p.dstAddrOff = alen;
  p.srcPort = sport;
  p.dstPort = dport;
  return p;
}

describe('FlowTable', () => {
  it('maps both directions to one entry and tells which side sent', () => {
    const t = new FlowTable<string>(16);
    const a = pkt(false, 0xc6336402, 0xcb007101, 40001, 443);
    expect(t.lookup(a)).toBe(-1);
    const s = t.insert(SLOT_TRACKING, 'flow', 1);
    const fromA = t.fromA;
    expect(t.lookup(pkt(false, 0xcb007101, 0xc6336402, 443, 40001))).toBe(s);
    expect(t.fromA).toBe(!fromA);
    expect(t.lookup(a)).toBe(s);
    expect(t.fromA).toBe(fromA);
    expect(t.values[s]).toBe('flow');
    // same addresses, other port; IPv6 with the same low words: different flows
    expect(t.lookup(pkt(false, 0xc6336402, 0xcb007101, 40002, 443))).toBe(-1);
    expect(t.lookup(pkt(true, 0xc6336402, 0xcb007101, 40001, 443))).toBe(-1);
    // equal addresses: ports decide the side
    t.lookup(pkt(false, 1, 1, 5, 6));
    const same = t.insert(SLOT_PASSIVE, null, 1);
    expect(t.lookup(pkt(false, 1, 1, 6, 5))).toBe(same);
  });

  it('remembers the last IPv4 lookup only while its answer holds (remove, insert, IPv6 in between)', () => {
    const t = new FlowTable<string>(16);
    const a = pkt(false, 0x0a000001, 0xcb007101, 40001, 443), aBack = pkt(false, 0xcb007101, 0x0a000001, 443, 40001);
    const b = pkt(false, 0x0a000002, 0xcb007101, 40002, 443);
    expect(t.lookup(a)).toBe(-1);
    expect(t.lookup(a)).toBe(-1); // the remembered miss
    const sa = t.insert(SLOT_TRACKING, 'a', 1);
    expect(t.lookup(aBack)).toBe(sa); // remembered, other direction
    const fromA = t.fromA;
    expect(t.lookup(a)).toBe(sa);
    expect(t.fromA).toBe(!fromA);
    t.remove(sa);
    expect(t.lookup(a)).toBe(-1);
    // another flow inserted after a's miss was remembered: a stays absent, b is found
    expect(t.lookup(b)).toBe(-1);
    const sb = t.insert(SLOT_TRACKING, 'b', 1);
    expect(t.lookup(a)).toBe(-1);
    expect(t.lookup(b)).toBe(sb);
    // removing another slot keeps the remembered answer
    t.lookup(a);
    const sa2 = t.insert(SLOT_PASSIVE, null, 1);
    t.remove(sb);
    expect(t.lookup(aBack)).toBe(sa2);
    // an IPv6 key in the scratch, then an IPv4 insert: the IPv4 key has its other words 0
    const v6 = pkt(true, 0x0a000001, 0xcb007101, 40001, 443);
    expect(t.lookup(v6)).toBe(-1);
    const s6 = t.insert(SLOT_TRACKING, 'v6', 1);
    const c = pkt(false, 0x0a000003, 0xcb007101, 40003, 443);
    expect(t.lookup(c)).toBe(-1);
    const sc = t.insert(SLOT_TRACKING, 'c', 1);
    expect(t.lookup(v6)).toBe(s6);
    expect(t.lookup(pkt(false, 0xcb007101, 0x0a000003, 443, 40003))).toBe(sc); // found by key, not remembered
    expect(t.lookup(a)).toBe(sa2);
    expect(t.lookup(c)).toBe(sc);
    expect(t.values[sc]).toBe('c');
  });

  it('grows past its initial capacity, keeps every entry, removes and reuses slots', () => {
    const t = new FlowTable<number>(16);
    const n = 5000;
    const slots: number[] = [];
    for (let i = 0; i < n; i++) {
      const p = pkt(i % 2 === 1, 0x0a000000 + i, 0xcb007101, 1024 + (i % 50000), 443);
      expect(t.lookup(p)).toBe(-1);
      slots.push(t.insert(SLOT_TRACKING, i, i));
    }
    expect(t.size).toBe(n);
    expect(t.capacity).toBeGreaterThanOrEqual(n);
    for (let i = 0; i < n; i++) {
      const s = t.lookup(pkt(i % 2 === 1, 0xcb007101, 0x0a000000 + i, 443, 1024 + (i % 50000)));
      expect(s).toBe(slots[i]);
      expect(t.values[s]).toBe(i);
    }
    for (let i = 0; i < n; i += 2) t.remove(slots[i]!);
    expect(t.size).toBe(n / 2);
    for (let i = 0; i < n; i++) {
      const found = t.lookup(pkt(i % 2 === 1, 0x0a000000 + i, 0xcb007101, 1024 + (i % 50000), 443));
      expect(found >= 0).toBe(i % 2 === 1);
    }
    const cap = t.capacity;
    t.lookup(pkt(false, 9, 9, 9, 9));
    const reused = t.insert(SLOT_PASSIVE, -1, 0);
    expect(reused).toBeLessThan(cap);
    expect(t.state[reused]).toBe(SLOT_PASSIVE);
  });

  it('refuses new flows beyond its maximum and counts them', () => {
    const an = new AnomalyCounters();
    const t = new FlowTable<null>(16, 32, an);
    let refused = 0;
    for (let i = 0; i < 40; i++) {
      t.lookup(pkt(false, i, 1000, 1, 2));
      if (t.insert(SLOT_PASSIVE, null, 0) < 0) refused++;
    }
    expect(refused).toBe(8);
    expect(an.toObject()).toEqual({ flow_table_full: 8 });
  });

  it('holds exactly maxFlows entries when the bound is not a power of two', () => {
    const t = new FlowTable<null>(1 << 14, 1000);
    expect(t.capacity).toBe(1024); // no more slots than the bound can use
    let stored = 0;
    for (let i = 0; i < 1100; i++) {
      t.lookup(pkt(false, i, 1000, 1, 2));
      if (t.insert(SLOT_PASSIVE, null, 0) >= 0) stored++;
    }
    expect(stored).toBe(1000);
    expect(t.full).toBe(true);
  });

  it('knows its oldest entry (insertion order), across removals and growth', () => {
    const t = new FlowTable<number>(16, 1 << 20);
    expect(t.oldest).toBe(-1);
    const slots: number[] = [];
    for (let i = 0; i < 100; i++) { // grows 16 -> 128
      t.lookup(pkt(false, 0x0a000000 + i, 0xcb007101, 40000, 443));
      slots.push(t.insert(SLOT_PASSIVE, i, i));
    }
    const order = (): number[] => {
      const out: number[] = [];
      while (t.oldest >= 0) { out.push(t.values[t.oldest]!); t.remove(t.oldest); }
      return out;
    };
    expect(t.values[t.oldest]).toBe(0);
    t.remove(slots[0]!); // the oldest
    t.remove(slots[50]!); // one in the middle
    t.remove(slots[99]!); // the newest
    expect(t.values[t.oldest]).toBe(1);
    t.lookup(pkt(false, 0x0b000000, 0xcb007101, 40000, 443));
    t.insert(SLOT_PASSIVE, 1000, 0); // reuses a freed slot, but is the newest
    const want = [...Array.from({ length: 98 }, (_, i) => i + 1).filter((i) => i !== 50), 1000];
    expect(order()).toEqual(want);
    expect(t.size).toBe(0);
  });
});

describe('FlowTable key (issue 13: addresses read once as words)', () => {
  it('picks side A by byte order and hashes like flowHashAt, high address bits and IPv6 included', async () => {
    const { flowHashAt } = await import('../../../src/ring/flow-hash.js');
    const t = new FlowTable<number>(16);
    let x = 0x9e3779b9;
    const rnd = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
    for (let i = 0; i < 2000; i++) {
      const v6 = i % 3 === 0;
      // equal addresses now and then, so the ports decide; top bit set half the time
      const src = rnd(), dst = i % 7 === 0 ? src : rnd() ^ (i % 2 ? 0x80000000 : 0);
      const p = pkt(v6, src, dst, rnd() & 0xffff, i % 5 === 0 ? 443 : rnd() & 0xffff);
      const alen = v6 ? 16 : 4;
      let cmp = 0;
      for (let k = 0; k < alen && cmp === 0; k++) cmp = p.buf[p.srcAddrOff + k]! - p.buf[p.dstAddrOff + k]!;
      if (cmp === 0) cmp = p.srcPort - p.dstPort;
      if (t.lookup(p) < 0) t.insert(SLOT_PASSIVE, i, 1);
      expect(t.fromA).toBe(cmp <= 0);
      const s = t.lookup(p);
      expect(s).toBeGreaterThanOrEqual(0);
      expect(t.flowHash(s)).toBe(flowHashAt(p.buf, p.srcAddrOff, p.dstAddrOff, alen, p.srcPort, p.dstPort));
    }
  });
});
