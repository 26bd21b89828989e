/**
 * Issue 8 item 5, one flow hash: the hash the native capture thread stores in every ring record
 * (native/src/flow_hash.cc, called here through the addon's flowHash export: no capture, no root)
 * must equal the TypeScript one (src/ring/flow-hash.ts over src/decode/link.ts + ip.ts) on
 * crafted packets of every supported link type, IPv6 extension-header chains (AH included), IPv4
 * and IPv6 fragments, both directions, and every truncation of each packet; and where the
 * analyzer's decoder finds a TCP flow, the hash must name that flow.
 *
 * Before the fix: C skipped no IPv6 AH header (hash 0), took an IPv4 first fragment's ports where
 * TS dropped the packet (0x1fff vs 0x3fff), read BSD loopback by the IP version nibble where TS
 * reads the address family, and read ports out of Ethernet padding past the IP length.
 *
 * Layouts: Ethernet II, IEEE 802.1Q/802.1ad; Linux SLL/SLL2 (libpcap sll.h); DLT_NULL (family in
 * the capturing host's byte order) and LINKTYPE_LOOP (network order), AF_INET 2, AF_INET6 24/28/30
 * (https://www.tcpdump.org/linktypes.html); IPv4 RFC 791 §3.1 (flags|offset: 0x2000 MF, 0x1fff
 * offset); IPv6 RFC 8200 §4 (fragment offset|res|M), AH RFC 4302 §2.2 (length in 4-octet units
 * minus 2); TCP RFC 9293 §3.1.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { flowHash, flowHashAt, flowHashOfPacket } from '../../src/ring/flow-hash.js';
import { decodePacket } from '../../src/decode/dispatch.js';
import { DecodedPacket } from '../../src/decode/packet.js';
import { Status } from '../../src/decode/reader.js';
import { AnomalyCounters } from '../../src/telemetry/anomalies.js';
import { FlowTable, SLOT_PASSIVE } from '../../src/flow/flow-table.js';

const addon = createRequire(import.meta.url)('slowshake-capture') as { flowHash(b: Uint8Array, linkType: number): number };

// ---- byte builders --------------------------------------------------------------------------------

const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const fill = (n: number, b = 0): number[] => new Array<number>(n).fill(b);

interface Ends { src: number[]; sport: number; dst: number[]; dport: number }
const V4: Ends = { src: [198, 51, 100, 7], sport: 51234, dst: [203, 0, 113, 1], dport: 443 };
const V6: Ends = {
  src: [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x12, 0x34], sport: 40001,
  dst: [0x2a, 0x09, 0x82, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], dport: 443,
};
const rev = (e: Ends): Ends => ({ src: e.dst, sport: e.dport, dst: e.src, dport: e.sport });

const tcp = (e: Ends, payload = 5): number[] => [
  ...u16(e.sport), ...u16(e.dport), ...u32(1000), ...u32(2000), 0x50, 0x18, ...u16(65535), 0, 0, 0, 0, ...fill(payload, 0x42),
];
const udp = (e: Ends, payload = 8): number[] => [...u16(e.sport), ...u16(e.dport), ...u16(8 + payload), 0, 0, ...fill(payload, 0x43)];

interface Ip4 { frag?: number; proto?: number; total?: number; options?: number[] }
function ipv4(e: Ends, l4: number[], o: Ip4 = {}): number[] {
  const options = o.options ?? [];
  const hlen = 20 + options.length;
  return [0x40 | (hlen / 4), 0, ...u16(o.total ?? hlen + l4.length), 0x12, 0x34, ...u16(o.frag ?? 0x4000), 64, o.proto ?? 6, 0, 0,
    ...e.src, ...e.dst, ...options, ...l4];
}
function ipv6(e: Ends, next: number, rest: number[]): number[] {
  return [0x60, 0, 0, 0, ...u16(rest.length), next, 64, ...e.src, ...e.dst, ...rest];
}
/** HBH / routing / destination options / mobility: (units + 1) × 8 bytes. */
const ext8 = (next: number, units: number): number[] => [next, units, ...fill(6 + units * 8, 1)];
/** AH (RFC 4302 §2.2): next, payload length (4-octet units − 2), reserved, SPI, sequence, 12-byte ICV. */
const ah = (next: number): number[] => [next, 4, 0, 0, ...u32(0x100), ...u32(1), ...fill(12, 0x1c)];
/** Fragment header: offset in 8-octet units, M flag. */
const frag6 = (next: number, offset: number, more: boolean): number[] => [next, 0, ...u16((offset << 3) | (more ? 1 : 0)), ...u32(0xabcd)];

const MACS = [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
const ETH_V4 = 0x0800, ETH_V6 = 0x86dd;
const eth = (et: number, net: number[]): number[] => [...MACS, ...u16(et), ...net];
const dot1q = (et: number, net: number[]): number[] => [...MACS, ...u16(0x8100), ...u16(100), ...u16(et), ...net];
const qinq = (et: number, net: number[]): number[] => [...MACS, ...u16(0x88a8), ...u16(10), ...u16(0x8100), ...u16(20), ...u16(et), ...net];
const sll = (et: number, net: number[]): number[] => [0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, ...u16(et), ...net];
const sll2 = (et: number, net: number[]): number[] => [...u16(et), 0, 0, 0, 0, 0, 3, 0, 1, 0, 6, 2, 0, 0, 0, 0, 2, 0, 0, ...net];
const nullLe = (af: number, net: number[]): number[] => [af, 0, 0, 0, ...net];
const nullBe = (af: number, net: number[]): number[] => [0, 0, 0, af, ...net];

// ---- cases ----------------------------------------------------------------------------------------

/** A crafted packet builder for one direction, and what it must hash to. */
interface Case {
  name: string;
  linkType: number;
  build: (e: Ends) => number[];
  ends: Ends;
  /** 6 or 17: hashes to the flow of `ends` with this protocol; 0: hashes to 0. */
  proto: number;
  /** The analyzer's decoder must decode TCP from it. */
  tcpOk: boolean;
}

const cases: Case[] = [];
function add(name: string, linkType: number, ends: Ends, build: (e: Ends) => number[], proto: number, tcpOk = proto === 6): void {
  cases.push({ name, linkType, ends, build, proto, tcpOk });
}

// Link types, IPv4 and IPv6 under each.
const links: [string, number, (et: number, net: number[]) => number[]][] = [
  ['ethernet', 1, eth], ['802.1q', 1, dot1q], ['qinq', 1, qinq], ['sll', 113, sll], ['sll2', 276, sll2],
  ['null le', 0, (et, n) => nullLe(et === ETH_V4 ? 2 : 24, n)], ['null be', 0, (et, n) => nullBe(et === ETH_V4 ? 2 : 24, n)],
  ['loop', 108, (et, n) => nullBe(et === ETH_V4 ? 2 : 28, n)],
];
for (const [name, lt, wrap] of links) {
  add(`${name} / IPv4 / TCP`, lt, V4, (e) => wrap(ETH_V4, ipv4(e, tcp(e))), 6);
  add(`${name} / IPv6 / TCP`, lt, V6, (e) => wrap(ETH_V6, ipv6(e, 6, tcp(e))), 6);
}
for (const lt of [101, 12, 14, 228]) add(`raw ${lt} / IPv4 / TCP`, lt, V4, (e) => ipv4(e, tcp(e)), 6);
for (const lt of [101, 12, 14, 229]) add(`raw ${lt} / IPv6 / TCP`, lt, V6, (e) => ipv6(e, 6, tcp(e)), 6);
add('ethernet / IPv4 / UDP', 1, V4, (e) => eth(ETH_V4, ipv4(e, udp(e), { proto: 17 })), 17);
add('ethernet / IPv6 / UDP', 1, V6, (e) => eth(ETH_V6, ipv6(e, 17, udp(e))), 17);
add('ethernet / IPv4 / ICMP', 1, V4, (e) => eth(ETH_V4, ipv4(e, fill(16, 8), { proto: 1 })), 0);
add('ethernet / ARP', 1, V4, () => eth(0x0806, fill(28)), 0);
add('unknown link type 147', 147, V4, (e) => ipv4(e, tcp(e)), 0);

// BSD loopback: the address family decides, not the IP version nibble.
for (const af of [24, 28, 30]) {
  add(`null le AF_INET6 ${af}`, 0, V6, (e) => nullLe(af, ipv6(e, 6, tcp(e))), 6);
  add(`null be AF_INET6 ${af}`, 0, V6, (e) => nullBe(af, ipv6(e, 6, tcp(e))), 6);
  add(`loop AF_INET6 ${af}`, 108, V6, (e) => nullBe(af, ipv6(e, 6, tcp(e))), 6);
}
add('null: AF 7 (OSI) carrying IPv4 bytes', 0, V4, (e) => nullLe(7, ipv4(e, tcp(e))), 0);
add('null: AF 23 (IPX) carrying IPv6 bytes', 0, V6, (e) => nullLe(23, ipv6(e, 6, tcp(e))), 0);
add('null: AF_INET carrying IPv6 bytes', 0, V6, (e) => nullLe(2, ipv6(e, 6, tcp(e))), 0);
add('loop: little-endian AF_INET', 108, V4, (e) => nullLe(2, ipv4(e, tcp(e))), 0);

// IPv4 header variants.
add('IPv4 with options', 1, V4, (e) => eth(ETH_V4, ipv4(e, tcp(e), { options: [1, 1, 1, 0] })), 6);
add('IPv4 total length 0 (offload)', 1, V4, (e) => eth(ETH_V4, ipv4(e, tcp(e), { total: 0 })), 6);
add('IPv4 + Ethernet padding', 1, V4, (e) => [...eth(ETH_V4, ipv4(e, tcp(e, 0))), ...fill(6)], 6);
add('IPv4 total length ends before the ports (ports only in padding)', 1, V4,
  (e) => [...eth(ETH_V4, ipv4(e, [], { total: 22 })), ...u16(e.sport), ...u16(e.dport), ...fill(20)], 0);
// IPv4 fragments: offset 0x1fff (8-octet units), MF 0x2000.
add('IPv4 first fragment (MF, offset 0)', 1, V4, (e) => eth(ETH_V4, ipv4(e, tcp(e, 32), { frag: 0x2000 })), 6);
add('IPv4 non-first fragment (MF, offset 4)', 1, V4, (e) => eth(ETH_V4, ipv4(e, [...u16(e.sport), ...u16(e.dport), ...fill(28)], { frag: 0x2004 })), 0);
add('IPv4 last fragment (offset 0x1fff)', 1, V4, (e) => eth(ETH_V4, ipv4(e, [...u16(e.sport), ...u16(e.dport), ...fill(12)], { frag: 0x1fff })), 0);
add('IPv4 fragment of UDP (first)', 1, V4, (e) => eth(ETH_V4, ipv4(e, udp(e, 64), { proto: 17, frag: 0x2000 })), 17);

// IPv6 extension headers.
add('IPv6 hop-by-hop', 1, V6, (e) => eth(ETH_V6, ipv6(e, 0, [...ext8(6, 0), ...tcp(e)])), 6);
add('IPv6 routing', 1, V6, (e) => eth(ETH_V6, ipv6(e, 43, [...ext8(6, 2), ...tcp(e)])), 6);
add('IPv6 destination options', 1, V6, (e) => eth(ETH_V6, ipv6(e, 60, [...ext8(6, 1), ...tcp(e)])), 6);
add('IPv6 mobility header', 1, V6, (e) => eth(ETH_V6, ipv6(e, 135, [...ext8(6, 0), ...tcp(e)])), 6);
add('IPv6 AH', 1, V6, (e) => eth(ETH_V6, ipv6(e, 51, [...ah(6), ...tcp(e)])), 6);
add('IPv6 AH over UDP', 1, V6, (e) => eth(ETH_V6, ipv6(e, 51, [...ah(17), ...udp(e)])), 17);
add('IPv6 hop-by-hop + routing + AH + destination options', 1, V6,
  (e) => eth(ETH_V6, ipv6(e, 0, [...ext8(43, 0), ...ext8(51, 1), ...ah(60), ...ext8(6, 0), ...tcp(e)])), 6);
add('IPv6 ESP (encrypted: no ports)', 1, V6, (e) => eth(ETH_V6, ipv6(e, 50, [...u32(0x100), ...u32(1), ...fill(40, 0x5e)])), 0);
add('IPv6 eight extension headers', 1, V6, (e) => {
  let rest = tcp(e);
  let next = 6;
  for (let i = 0; i < 8; i++) { rest = [...ext8(next, 0), ...rest]; next = 60; }
  return eth(ETH_V6, ipv6(e, next, rest));
}, 6);
add('IPv6 nine extension headers (not followed)', 1, V6, (e) => {
  let rest = tcp(e);
  let next = 6;
  for (let i = 0; i < 9; i++) { rest = [...ext8(next, 0), ...rest]; next = 60; }
  return eth(ETH_V6, ipv6(e, next, rest));
}, 0);
add('IPv6 seven extension headers + atomic fragment (8 in all)', 1, V6, (e) => {
  let rest = [...frag6(6, 0, false), ...tcp(e)];
  let next = 44;
  for (let i = 0; i < 7; i++) { rest = [...ext8(next, 0), ...rest]; next = 60; }
  return eth(ETH_V6, ipv6(e, next, rest));
}, 6);
add('IPv6 eight extension headers + atomic fragment (9 in all: not followed)', 1, V6, (e) => {
  let rest = [...frag6(6, 0, false), ...tcp(e)];
  let next = 44;
  for (let i = 0; i < 8; i++) { rest = [...ext8(next, 0), ...rest]; next = 60; }
  return eth(ETH_V6, ipv6(e, next, rest));
}, 0);
// IPv6 fragments: the fragment header's offset is 0xfff8, M is 0x0001.
add('IPv6 atomic fragment (offset 0, M clear)', 1, V6, (e) => eth(ETH_V6, ipv6(e, 44, [...frag6(6, 0, false), ...tcp(e)])), 6);
add('IPv6 first fragment (offset 0, M set)', 1, V6, (e) => eth(ETH_V6, ipv6(e, 44, [...frag6(6, 0, true), ...tcp(e, 32)])), 6);
add('IPv6 first fragment after hop-by-hop, AH inside', 1, V6,
  (e) => eth(ETH_V6, ipv6(e, 0, [...ext8(44, 0), ...frag6(51, 0, true), ...ah(6), ...tcp(e, 32)])), 6);
add('IPv6 non-first fragment (offset 5, M set)', 1, V6, (e) => eth(ETH_V6, ipv6(e, 44, [...frag6(6, 5, true), ...u16(e.sport), ...u16(e.dport), ...fill(36)])), 0);
add('IPv6 last fragment (offset 185)', 1, V6, (e) => eth(ETH_V6, ipv6(e, 44, [...frag6(6, 185, false), ...u16(e.sport), ...u16(e.dport), ...fill(12)])), 0);

// ---- checks ---------------------------------------------------------------------------------------

function cHash(bytes: Uint8Array, linkType: number): number {
  return addon.flowHash(bytes, linkType);
}

/** TS hash with garbage after caplen in the buffer: a read past caplen would change the result. */
function tsHash(bytes: number[], caplen: number, linkType: number): number {
  const buf = Uint8Array.from([...bytes.slice(0, caplen), ...fill(80, 0xee)]);
  return flowHashOfPacket(buf, 0, caplen, linkType);
}

const want = (c: Case, e: Ends): number => (c.proto === 0 ? 0 : flowHash(Uint8Array.from(e.src), e.sport, Uint8Array.from(e.dst), e.dport, c.proto));

describe('one flow hash: native FlowHash == TypeScript on crafted packets', () => {
  it('the addon exports the capture thread\'s hash function', () => {
    expect(typeof addon.flowHash).toBe('function');
    expect(cHash(new Uint8Array(0), 1)).toBe(0);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: C == TS == the flow\'s hash, both directions', (_n, c) => {
    const fwd = c.build(c.ends), back = c.build(rev(c.ends));
    const expected = want(c, c.ends);
    expect(want(c, rev(c.ends))).toBe(expected); // symmetric by construction
    for (const bytes of [fwd, back]) {
      const ts = tsHash(bytes, bytes.length, c.linkType);
      const native = cHash(Uint8Array.from(bytes), c.linkType);
      expect({ native, ts }).toEqual({ native: expected, ts: expected });
    }
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: C == TS for every truncation', (_n, c) => {
    const bytes = c.build(c.ends);
    const diffs: string[] = [];
    for (let caplen = 0; caplen <= bytes.length; caplen++) {
      const native = cHash(Uint8Array.from(bytes.slice(0, caplen)), c.linkType);
      const ts = tsHash(bytes, caplen, c.linkType);
      if (native !== ts) diffs.push(`caplen ${caplen}: C ${native} TS ${ts}`);
    }
    expect(diffs).toEqual([]);
  });

  it('C == TS on 40,000 random mutations of the crafted packets (seeded)', () => {
    let seed = 0x8e11;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return (seed >>> 8) % n; };
    const diffs: string[] = [];
    for (let k = 0; k < 40_000; k++) {
      const c = cases[rnd(cases.length)]!;
      const bytes = c.build(k & 1 ? c.ends : rev(c.ends));
      for (let m = 1 + rnd(3); m > 0; m--) bytes[rnd(bytes.length)] = rnd(4) === 0 ? rnd(256) : [0, 6, 17, 43, 44, 51, 60, 0x20, 0xff][rnd(9)]!;
      const caplen = rnd(4) === 0 ? rnd(bytes.length + 1) : bytes.length;
      const native = cHash(Uint8Array.from(bytes.slice(0, caplen)), c.linkType);
      const ts = tsHash(bytes, caplen, c.linkType);
      if (native !== ts && diffs.length < 5) diffs.push(`${c.name} caplen ${caplen} [${bytes.join(',')}]: C ${native} TS ${ts}`);
    }
    expect(diffs).toEqual([]);
  });

  it.each(cases.map((c) => [c.name, c] as const))('%s: the analyzer decodes the flow the hash names', (_n, c) => {
    const table = new FlowTable<null>(16);
    let slot = -1;
    for (const e of [c.ends, rev(c.ends)]) {
      const bytes = c.build(e);
      for (let caplen = 0; caplen <= bytes.length; caplen++) {
        const pkt = new DecodedPacket();
        pkt.buf = Uint8Array.from([...bytes.slice(0, caplen), ...fill(80, 0xee)]);
        pkt.caplen = caplen;
        pkt.linkType = c.linkType;
        const st = decodePacket(pkt, new AnomalyCounters());
        if (caplen === bytes.length) expect(st === Status.OK).toBe(c.tcpOk);
        if (st !== Status.OK) continue;
        const alen = pkt.ipVersion === 6 ? 16 : 4;
        expect([pkt.srcPort, pkt.dstPort]).toEqual([e.sport, e.dport]);
        expect([...pkt.buf.subarray(pkt.srcAddrOff, pkt.srcAddrOff + alen)]).toEqual(e.src);
        const decoded = flowHashAt(pkt.buf, pkt.srcAddrOff, pkt.dstAddrOff, alen, pkt.srcPort, pkt.dstPort);
        expect(decoded).toBe(cHash(Uint8Array.from(bytes.slice(0, caplen)), c.linkType));
        // The analyzer's flow table files both directions under one slot carrying that hash.
        const s = table.lookup(pkt);
        if (slot < 0) slot = s >= 0 ? s : table.insert(SLOT_PASSIVE, null, 0);
        else expect(s).toBe(slot);
        expect(table.flowHash(slot)).toBe(decoded);
      }
    }
    expect(table.size).toBe(c.tcpOk ? 1 : 0);
  });
});
