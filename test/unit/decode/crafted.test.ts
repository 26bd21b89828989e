/**
 * Crafted-bytes tests, one minimal byte array per decoder branch (style §7): link (Ethernet,
 * 802.1Q/QinQ, SLL, SLL2, raw, null, loop), IPv4/IPv6 (extension headers, fragments), TCP (data
 * offset, options, snaplen), the TLS record/handshake stream, and the ClientHello/ServerHello
 * parsers. Every malformed case must return a non-OK status (or null with `helloStatus`) and bump
 * exactly the named anomaly; nothing throws.
 *
 * Layouts: Ethernet II + IEEE 802.1Q/802.1ad; IPv4 RFC 791 §3.1; IPv6 RFC 8200 §3–4 (HBH/DestOpts
 * length in 8-octet units not counting the first; Fragment offset|res|M); AH RFC 4302 §2.2 (4-octet
 * units minus 2); TCP RFC 9293 §3.1–3.2; TLS records RFC 8446 §5.1; hellos RFC 8446 §4.1.2–4.1.3.
 */
import { describe, expect, it } from 'vitest';
import { decodePacket } from '../../../src/decode/dispatch.js';
import { DecodedPacket, TCP_ACK, TCP_PSH, TCP_SYN } from '../../../src/decode/packet.js';
import { Status } from '../../../src/decode/reader.js';
import { decodeClientHello, decodeServerHello, helloStatus } from '../../../src/decode/tls-hello.js';
import { TlsStream, type TlsStreamOwner } from '../../../src/decode/tls-stream.js';
import { Analyzer } from '../../../src/handshake/analyzer.js';
import { AnomalyCounters, type Anomaly } from '../../../src/telemetry/anomalies.js';

// ---- byte builders --------------------------------------------------------------------------------

const u16 = (v: number): number[] => [(v >> 8) & 0xff, v & 0xff];
const u24 = (v: number): number[] => [(v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const u32 = (v: number): number[] => [(v >>> 24) & 0xff, (v >> 16) & 0xff, (v >> 8) & 0xff, v & 0xff];
const fill = (n: number, b = 0): number[] => new Array<number>(n).fill(b);

const MAC_DST = [0x02, 0, 0, 0, 0, 1];
const MAC_SRC = [0x02, 0, 0, 0, 0, 2];
const eth = (ethertype: number, payload: number[]): number[] => [...MAC_DST, ...MAC_SRC, ...u16(ethertype), ...payload];
const vlan = (tpid: number, vid: number): number[] => [...u16(tpid), ...u16(vid)];

interface TcpOpts { sport?: number; dport?: number; seq?: number; ack?: number; doff?: number; flags?: number; options?: number[]; payload?: number[] }
/** A TCP header (data offset from the options unless given) followed by the payload. */
function tcp(o: TcpOpts = {}): number[] {
  const options = o.options ?? [];
  const doff = o.doff ?? (20 + options.length) / 4;
  return [
    ...u16(o.sport ?? 40000), ...u16(o.dport ?? 443), ...u32(o.seq ?? 1000), ...u32(o.ack ?? 0),
    (doff & 0x0f) << 4, o.flags ?? TCP_ACK, ...u16(65535), 0, 0, 0, 0, ...options, ...(o.payload ?? []),
  ];
}

interface Ip4Opts { ihl?: number; total?: number; frag?: number; proto?: number; options?: number[]; version?: number }
function ipv4(l4: number[], o: Ip4Opts = {}): number[] {
  const options = o.options ?? [];
  const ihl = o.ihl ?? 5 + options.length / 4;
  const total = o.total ?? 20 + options.length + l4.length;
  return [
    ((o.version ?? 4) << 4) | (ihl & 0x0f), 0, ...u16(total), 0, 1, ...u16(o.frag ?? 0), 64, o.proto ?? 6, 0, 0,
    192, 0, 2, 1, 198, 51, 100, 7, ...options, ...l4,
  ];
}

const V6_SRC = [0x20, 0x01, 0x0d, 0xb8, ...fill(11), 1];
const V6_DST = [0x20, 0x01, 0x0d, 0xb8, ...fill(11), 2];
/** IPv6 header; `rest` is extension headers + transport. `plen` defaults to rest.length. */
function ipv6(next: number, rest: number[], plen = rest.length): number[] {
  return [0x60, 0, 0, 0, ...u16(plen), next, 64, ...V6_SRC, ...V6_DST, ...rest];
}
/** A generic 8-octet-unit extension header (HBH, routing, destination options) of `units`+1 × 8 bytes. */
const ext8 = (next: number, units: number): number[] => [next, units, ...fill(6 + units * 8, 1)];
/** Fragment header: offset in 8-octet units, M flag. */
const frag6 = (next: number, offset: number, more: boolean): number[] => [next, 0, ...u16((offset << 3) | (more ? 1 : 0)), ...u32(0x1234)];

interface Decoded { status: Status; pkt: DecodedPacket; anomalies: Record<string, number> }

/** Decodes `bytes` (optionally only the first `caplen` of them, as snaplen would) as `linkType`. */
function decode(bytes: number[], linkType = 1, caplen = bytes.length): Decoded {
  const pkt = new DecodedPacket();
  // Bytes after the captured part are garbage: a decoder that reads past caplen would see them.
  pkt.buf = Uint8Array.from([...bytes.slice(0, caplen), ...fill(64, 0xee)]);
  pkt.off = 0;
  pkt.caplen = caplen;
  pkt.linkType = linkType;
  const an = new AnomalyCounters();
  const status = decodePacket(pkt, an);
  return { status, pkt, anomalies: an.toObject() };
}

/** A valid IPv4/TCP payload used under every link header. */
const TCP_V4 = ipv4(tcp({ flags: TCP_ACK | TCP_PSH, payload: [1, 2, 3, 4, 5] }));

function expectTcpOk(d: Decoded, payloadLen = 5): void {
  expect(d.anomalies).toEqual({});
  expect(d.status).toBe(Status.OK);
  expect(d.pkt.srcPort).toBe(40000);
  expect(d.pkt.dstPort).toBe(443);
  expect(d.pkt.payloadLen).toBe(payloadLen);
  expect(d.pkt.payloadAvail).toBe(payloadLen);
}

function expectDropped(d: Decoded, anomaly: string, status?: Status): void {
  expect(d.anomalies).toEqual({ [anomaly]: 1 });
  if (status !== undefined) expect(d.status).toBe(status);
  else expect(d.status).not.toBe(Status.OK);
}

// ---- link layer -----------------------------------------------------------------------------------

describe('link layer', () => {
  it('plain Ethernet / IPv4 / TCP decodes', () => {
    const d = decode(eth(0x0800, TCP_V4));
    expectTcpOk(d);
    expect(d.pkt.ipVersion).toBe(4);
    expect(d.pkt.srcAddrOff).toBe(14 + 12);
    expect(d.pkt.payloadOff).toBe(14 + 20 + 20);
  });

  it('Ethernet shorter than 14 bytes: truncated_link_header', () => {
    expectDropped(decode(eth(0x0800, TCP_V4), 1, 13), 'truncated_link_header');
    expectDropped(decode([]), 'truncated_link_header');
  });

  it('non-IP ethertype (ARP): non_ip_packet, UNSUPPORTED', () => {
    expectDropped(decode(eth(0x0806, fill(28))), 'non_ip_packet', Status.UNSUPPORTED);
  });

  it('802.1Q, 802.1ad, legacy 0x9100 tags are skipped (up to four)', () => {
    expectTcpOk(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x8100, 100), ...u16(0x0800), ...TCP_V4]));
    expectTcpOk(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x88a8, 10), ...vlan(0x8100, 20), ...u16(0x0800), ...TCP_V4]));
    expectTcpOk(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x9100, 10), ...vlan(0x8100, 20), ...u16(0x0800), ...TCP_V4]));
    const four = [...vlan(0x88a8, 1), ...vlan(0x8100, 2), ...vlan(0x8100, 3), ...vlan(0x8100, 4)];
    const d = decode([...MAC_DST, ...MAC_SRC, ...four, ...u16(0x0800), ...TCP_V4]);
    expectTcpOk(d);
    expect(d.pkt.srcAddrOff).toBe(14 + 16 + 12);
  });

  // Which counter an over-long tag chain bumps is not pinned: every byte was captured, so a
  // truncated_* name does not describe it (same for the IPv6 extension-header cap below).
  it('a fifth VLAN tag is not decoded', () => {
    const five = [...vlan(0x88a8, 1), ...vlan(0x8100, 2), ...vlan(0x8100, 3), ...vlan(0x8100, 4), ...vlan(0x8100, 5)];
    const d = decode([...MAC_DST, ...MAC_SRC, ...five, ...u16(0x0800), ...TCP_V4]);
    expect(d.status).not.toBe(Status.OK);
    expect(Object.values(d.anomalies).reduce((a, b) => a + b, 0)).toBe(1);
  });

  it('VLAN tag chain cut short: truncated_link_header', () => {
    // Single tag: the TCI is there but the inner ethertype is not.
    expectDropped(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x8100, 100)]), 'truncated_link_header');
    // Inner ethertype half there.
    expectDropped(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x8100, 100), 0x08]), 'truncated_link_header');
    // QinQ: outer tag complete, inner tag's TCI missing.
    expectDropped(decode([...MAC_DST, ...MAC_SRC, ...vlan(0x88a8, 10), ...u16(0x8100)]), 'truncated_link_header');
    // Same bytes present in the buffer but beyond caplen.
    const full = [...MAC_DST, ...MAC_SRC, ...vlan(0x88a8, 10), ...vlan(0x8100, 20), ...u16(0x0800), ...TCP_V4];
    expectDropped(decode(full, 1, 19), 'truncated_link_header');
  });

  it('Linux SLL (113): protocol at 14, 16-byte header', () => {
    const sll = [0, 0, 0, 1, 0, 6, ...MAC_SRC, 0, 0];
    expectTcpOk(decode([...sll, ...u16(0x0800), ...TCP_V4], 113));
    expectDropped(decode([...sll, ...u16(0x0800)], 113, 15), 'truncated_link_header');
    expectDropped(decode([...sll, ...u16(0x0806), ...fill(28)], 113), 'non_ip_packet', Status.UNSUPPORTED);
  });

  it('Linux SLL2 (276): protocol at 0, 20-byte header', () => {
    const after = [0, 0, 0, 0, 0, 3, 0, 1, 0, 6, ...MAC_SRC, 0, 0];
    expectTcpOk(decode([...u16(0x0800), ...after, ...TCP_V4], 276));
    expectDropped(decode([...u16(0x0800), ...after], 276, 19), 'truncated_link_header');
    expectDropped(decode([...u16(0x88cc), ...after, ...fill(20)], 276), 'non_ip_packet');
  });

  it('raw IP (101, 12, 14, 228, 229): version nibble picks the protocol', () => {
    for (const lt of [101, 12, 14, 228]) expectTcpOk(decode(TCP_V4, lt));
    for (const lt of [101, 12, 14, 229]) expectTcpOk(decode(ipv6(6, tcp({ payload: [1, 2, 3, 4, 5] })), lt));
    expectDropped(decode([], 101), 'truncated_link_header');
    expectDropped(decode([0x50, ...fill(39)], 101), 'non_ip_packet', Status.UNSUPPORTED);
  });

  it('BSD null (0): family in either byte order; loop (108): big-endian only', () => {
    expectTcpOk(decode([2, 0, 0, 0, ...TCP_V4], 0));
    expectTcpOk(decode([0, 0, 0, 2, ...TCP_V4], 0));
    for (const af of [24, 28, 30]) expectTcpOk(decode([af, 0, 0, 0, ...ipv6(6, tcp({ payload: [1, 2, 3, 4, 5] }))], 0));
    expectDropped(decode([7, 0, 0, 0, ...TCP_V4], 0), 'non_ip_packet');
    // Linux's AF_INET6 (10) is no BSD family; the family decides, not the version nibble.
    expectDropped(decode([10, 0, 0, 0, ...ipv6(6, tcp({ payload: [1, 2, 3, 4, 5] }))], 0), 'non_ip_packet');
    expectDropped(decode([2, 0, 0], 0), 'truncated_link_header');
    expectTcpOk(decode([0, 0, 0, 2, ...TCP_V4], 108));
    expectDropped(decode([2, 0, 0, 0, ...TCP_V4], 108), 'non_ip_packet'); // little-endian family on loop
    expectDropped(decode([0, 0, 0], 108), 'truncated_link_header');
  });

  it('unknown link type: unsupported_link_type', () => {
    expectDropped(decode(TCP_V4, 147), 'unsupported_link_type', Status.UNSUPPORTED);
  });
});

// ---- IPv4 ------------------------------------------------------------------------------------------

describe('IPv4', () => {
  const l4 = tcp({ payload: [1, 2, 3, 4, 5] });

  it('header shorter than 20 bytes: truncated_ip_header', () => {
    expectDropped(decode(eth(0x0800, ipv4(l4)), 1, 14 + 19), 'truncated_ip_header');
  });

  it('version nibble not 4 under ethertype 0x0800: bad_ip_version', () => {
    expectDropped(decode(eth(0x0800, ipv4(l4, { version: 6 }))), 'bad_ip_version', Status.INVALID);
  });

  it('IHL < 5: bad_ip_header_length', () => {
    for (const ihl of [0, 1, 4]) expectDropped(decode(eth(0x0800, ipv4(l4, { ihl }))), 'bad_ip_header_length', Status.INVALID);
  });

  it('options (IHL 6) are skipped; IHL beyond the capture is truncated_ip_header', () => {
    const d = decode(eth(0x0800, ipv4(l4, { options: [1, 1, 1, 0] })));
    expectTcpOk(d);
    expect(d.pkt.payloadOff).toBe(14 + 24 + 20);
    expectDropped(decode(eth(0x0800, ipv4(l4, { ihl: 15 })), 1, 14 + 40), 'truncated_ip_header');
  });

  it('total length < IHL: bad_ip_total_length', () => {
    expectDropped(decode(eth(0x0800, ipv4(l4, { total: 19 }))), 'bad_ip_total_length', Status.INVALID);
    expectDropped(decode(eth(0x0800, ipv4(l4, { options: [1, 1, 1, 1], total: 20 }))), 'bad_ip_total_length', Status.INVALID);
  });

  it('total length 0 (segmentation offload) trusts the captured length', () => {
    expectTcpOk(decode(eth(0x0800, ipv4(l4, { total: 0 }))));
  });

  it('Ethernet padding after the IP packet is not payload', () => {
    const d = decode([...eth(0x0800, ipv4(tcp())), ...fill(6)]); // 54 → 60-byte minimum frame
    expectTcpOk(d, 0);
  });

  it('a first fragment (MF, offset 0) carries the TCP header and decodes; offset != 0 is skipped and counted', () => {
    expectTcpOk(decode(eth(0x0800, ipv4(l4, { frag: 0x2000 })))); // MF, offset 0
    expectDropped(decode(eth(0x0800, ipv4(l4, { frag: 0x0001 }))), 'ip_fragment'); // offset 8 bytes
    expectDropped(decode(eth(0x0800, ipv4(l4, { frag: 0x2001 }))), 'ip_fragment'); // MF, offset 8 bytes
    expectDropped(decode(eth(0x0800, ipv4(l4, { frag: 0x1fff }))), 'ip_fragment');
    expectTcpOk(decode(eth(0x0800, ipv4(l4, { frag: 0x4000 })))); // DF
  });

  it('non-TCP protocol: non_tcp_packet, UNSUPPORTED', () => {
    expectDropped(decode(eth(0x0800, ipv4(fill(8), { proto: 17 }))), 'non_tcp_packet', Status.UNSUPPORTED);
  });
});

// ---- IPv6 ------------------------------------------------------------------------------------------

describe('IPv6', () => {
  const l4 = tcp({ payload: [1, 2, 3, 4, 5] });

  it('plain IPv6 / TCP decodes', () => {
    const d = decode(eth(0x86dd, ipv6(6, l4)));
    expectTcpOk(d);
    expect(d.pkt.ipVersion).toBe(6);
    expect(d.pkt.srcAddrOff).toBe(14 + 8);
    expect(d.pkt.dstAddrOff).toBe(14 + 24);
  });

  it('header shorter than 40 bytes: truncated_ip_header; wrong version: bad_ip_version', () => {
    expectDropped(decode(eth(0x86dd, ipv6(6, l4)), 1, 14 + 39), 'truncated_ip_header');
    const v4 = ipv6(6, l4);
    v4[0] = 0x40;
    expectDropped(decode(eth(0x86dd, v4)), 'bad_ip_version', Status.INVALID);
  });

  it('hop-by-hop + destination options + atomic fragment header are skipped', () => {
    const rest = [...ext8(60, 0), ...ext8(44, 1), ...frag6(6, 0, false), ...l4];
    const d = decode(eth(0x86dd, ipv6(0, rest)));
    expectTcpOk(d);
    expect(d.pkt.payloadOff).toBe(14 + 40 + 8 + 16 + 8 + 20);
  });

  it('routing header and AH (4-octet units minus 2) are skipped', () => {
    const ah = [6, 4, 0, 0, ...fill(20, 7)]; // (4 + 2) * 4 = 24 bytes
    const d = decode(eth(0x86dd, ipv6(43, [...ext8(51, 2), ...ah, ...l4])));
    expectTcpOk(d);
    expect(d.pkt.payloadOff).toBe(14 + 40 + 24 + 24 + 20);
  });

  it('a first fragment (offset 0, M set) decodes; a later fragment (offset != 0) is skipped and counted', () => {
    const d = decode(eth(0x86dd, ipv6(0, [...ext8(44, 0), ...frag6(6, 0, true), ...l4])));
    expectTcpOk(d);
    expect(d.pkt.payloadOff).toBe(14 + 40 + 8 + 8 + 20);
    expectDropped(decode(eth(0x86dd, ipv6(44, [...frag6(6, 185, false), ...fill(16)]))), 'ip_fragment');
    expectDropped(decode(eth(0x86dd, ipv6(44, [...frag6(6, 1, true), ...fill(16)]))), 'ip_fragment');
  });

  it('an extension header running past the capture or the payload length: truncated_ipv6_extension', () => {
    // HBH header claims 6 × 8 = 48 bytes, only 8 follow.
    expectDropped(decode(eth(0x86dd, ipv6(0, [6, 5, ...fill(6)]))), 'truncated_ipv6_extension');
    // Header present in the buffer, but the IPv6 payload length ends before it.
    expectDropped(decode(eth(0x86dd, ipv6(60, [...ext8(6, 0), ...l4], 4))), 'truncated_ipv6_extension');
    // Fragment header cut by snaplen.
    expectDropped(decode(eth(0x86dd, ipv6(44, [...frag6(6, 0, false), ...l4])), 1, 14 + 40 + 5), 'truncated_ipv6_extension');
  });

  it('a chain of more than eight extension headers is not followed', () => {
    let rest = l4;
    let next = 6;
    for (let i = 0; i < 9; i++) { rest = [...ext8(next, 0), ...rest]; next = 60; }
    const d = decode(eth(0x86dd, ipv6(next, rest)));
    expect(d.status).not.toBe(Status.OK);
    expect(Object.keys(d.anomalies)).toHaveLength(1);
  });

  it('payload length 0 (jumbogram / offload) trusts the captured length', () => {
    expectTcpOk(decode(eth(0x86dd, ipv6(6, l4, 0))));
  });

  it('non-TCP next header (ICMPv6): non_tcp_packet', () => {
    expectDropped(decode(eth(0x86dd, ipv6(58, fill(8)))), 'non_tcp_packet', Status.UNSUPPORTED);
  });
});

// ---- TCP -------------------------------------------------------------------------------------------

describe('TCP', () => {
  it('fields are read in network byte order', () => {
    const d = decode(eth(0x0800, ipv4(tcp({ sport: 0xabcd, dport: 0x1234, seq: 0xfedcba98, ack: 0x80000001, flags: 0x18 }))));
    expect(d.status).toBe(Status.OK);
    expect([d.pkt.srcPort, d.pkt.dstPort, d.pkt.seq, d.pkt.ack, d.pkt.flags, d.pkt.window]).toEqual([0xabcd, 0x1234, 0xfedcba98, 0x80000001, 0x18, 65535]);
  });

  it('header shorter than 20 bytes: truncated_tcp_header, TRUNCATED', () => {
    expectDropped(decode(eth(0x0800, ipv4(tcp())), 1, 14 + 20 + 19), 'truncated_tcp_header', Status.TRUNCATED);
  });

  it('data offset < 5: bad_tcp_data_offset, INVALID', () => {
    for (const doff of [0, 1, 4]) expectDropped(decode(eth(0x0800, ipv4(tcp({ doff })))), 'bad_tcp_data_offset', Status.INVALID);
  });

  it('data offset beyond the IP packet: bad_tcp_data_offset, INVALID', () => {
    expectDropped(decode(eth(0x0800, ipv4(tcp({ doff: 15 })))), 'bad_tcp_data_offset', Status.INVALID);
    expectDropped(decode(eth(0x86dd, ipv6(6, tcp({ doff: 6 })))), 'bad_tcp_data_offset', Status.INVALID);
  });

  it('data offset within the IP packet but beyond the capture: truncated_tcp_header, TRUNCATED', () => {
    const seg = tcp({ options: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], payload: fill(10) });
    expectDropped(decode(eth(0x0800, ipv4(seg)), 1, 14 + 20 + 24), 'truncated_tcp_header', Status.TRUNCATED);
  });

  it('MSS is read from a SYN', () => {
    const d = decode(eth(0x0800, ipv4(tcp({ flags: TCP_SYN, options: [2, 4, ...u16(1460), 1, 3, 3, 7, 4, 2, 0, 0] }))));
    expect(d.status).toBe(Status.OK);
    expect(d.anomalies).toEqual({});
    expect(d.pkt.mss).toBe(1460);
  });

  it('bad option length on a SYN: bad_tcp_option (the segment is still used)', () => {
    const cases: number[][] = [
      [2, 0, 0, 0], // length 0
      [2, 1, 0, 0], // length 1
      [1, 1, 1, 8], // kind at the last byte, no length byte
      [3, 9, 0, 0], // length past the header
      [2, 4, ...u16(1400), 8, 12, 0, 0], // valid MSS, then an overrun
    ];
    for (const options of cases) {
      const d = decode(eth(0x0800, ipv4(tcp({ flags: TCP_SYN, options }))));
      expect(d.anomalies, JSON.stringify(options)).toEqual({ bad_tcp_option: 1 });
      expect(d.status).toBe(Status.OK);
      expect(d.pkt.mss).toBe(options[0] === 2 && options[1] === 4 ? 1400 : 0);
    }
  });

  it('options after EOL and options on non-SYN segments are not inspected', () => {
    expect(decode(eth(0x0800, ipv4(tcp({ flags: TCP_SYN, options: [0, 2, 0, 0] })))).anomalies).toEqual({});
    expect(decode(eth(0x0800, ipv4(tcp({ flags: TCP_ACK, options: [2, 0, 0, 0] })))).anomalies).toEqual({});
  });

  it('snaplen-truncated payload: truncated_tcp_payload, OK, payloadLen from IP', () => {
    const frame = eth(0x0800, ipv4(tcp({ payload: fill(100, 0x42) })));
    const d = decode(frame, 1, 14 + 20 + 20 + 30);
    expect(d.status).toBe(Status.OK);
    expect(d.anomalies).toEqual({ truncated_tcp_payload: 1 });
    expect(d.pkt.payloadLen).toBe(100);
    expect(d.pkt.payloadAvail).toBe(30);
    // IPv6 as well.
    const d6 = decode(eth(0x86dd, ipv6(6, tcp({ payload: fill(100) }))), 1, 14 + 40 + 20 + 1);
    expect(d6.anomalies).toEqual({ truncated_tcp_payload: 1 });
    expect([d6.pkt.payloadLen, d6.pkt.payloadAvail]).toEqual([100, 1]);
  });
});

describe('analyzer counts decoder anomalies per packet', () => {
  it('malformed packets are counted as malformed, skipped ones are not', () => {
    const an = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: () => {} });
    const frames: [number[], number][] = [
      [eth(0x0800, ipv4(tcp(), { ihl: 4 })), 1], // bad_ip_header_length (malformed)
      [eth(0x0800, ipv4(tcp({ doff: 3 }))), 1], // bad_tcp_data_offset (malformed)
      [eth(0x0806, fill(28)), 1], // non_ip_packet (skipped)
      [eth(0x0800, ipv4(tcp(), { frag: 0x2001 })), 1], // ip_fragment (skipped)
      [TCP_V4, 147], // unsupported_link_type
    ];
    const pkt = new DecodedPacket();
    frames.forEach(([bytes, lt], i) => {
      pkt.buf = Uint8Array.from(bytes); pkt.off = 0; pkt.caplen = bytes.length; pkt.origLen = bytes.length;
      pkt.linkType = lt; pkt.tsSec = 1000 + i; pkt.tsNsec = 0; pkt.tsUs = (1000 + i) * 1e6;
      an.onPacket(pkt);
    });
    an.finish();
    expect(an.anomalies.toObject()).toEqual({
      bad_ip_header_length: 1, bad_tcp_data_offset: 1, non_ip_packet: 1, ip_fragment: 1, unsupported_link_type: 1,
    });
    expect(an.anomalies.malformedTotal()).toBe(2);
    expect(an.stats.packets).toBe(5);
    expect(an.stats.tcpPackets).toBe(0);
  });
});

// ---- TLS record / handshake stream ----------------------------------------------------------------

type Call = [kind: 'record', fromClient: boolean, type: number, encrypted: boolean, ts: number]
  | [kind: 'hs', fromClient: boolean, hsType: number, body: number[] | null, bodyLen: number, ts: number]
  | [kind: 'error', fromClient: boolean, anomaly: Anomaly];

function recorder(an = new AnomalyCounters()): { owner: TlsStreamOwner; calls: Call[]; an: AnomalyCounters } {
  const calls: Call[] = [];
  return {
    calls, an,
    owner: {
      onTlsRecord: (c, t, e, ts) => { calls.push(['record', c, t, e, ts]); },
      onTlsRecordEnd: () => {},
      onTlsHandshake: (c, t, b, o, n, ts) => { calls.push(['hs', c, t, b ? [...b.subarray(o, o + n)] : null, n, ts]); },
      onTlsError: (c, a) => { calls.push(['error', c, a]); an.bump(a); },
    },
  };
}
const record = (type: number, body: number[], version = 0x0303, len = body.length): number[] => [type, ...u16(version), ...u16(len), ...body];
const hsMsg = (type: number, body: number[]): number[] => [type, ...u24(body.length), ...body];

function push(s: TlsStream, bytes: number[], ts = 1): void {
  const b = Uint8Array.from(bytes);
  s.push(b, 0, b.length, ts);
}

describe('TLS record stream', () => {
  it('accepts the boundary headers: types 20–24, versions 3.0–3.4, length 2^14 + 2048', () => {
    for (const type of [20, 21, 22, 23, 24]) {
      for (const version of [0x0300, 0x0301, 0x0303, 0x0304]) {
        const r = recorder();
        const s = new TlsStream(true, r.owner);
        push(s, record(type, [], version, 18432));
        expect(s.failed).toBe(false);
        expect(r.calls).toEqual([['record', true, type, type === 23, 1]]);
      }
    }
  });

  const bad: [string, number[]][] = [
    ['major version 2', record(22, [], 0x0203)],
    ['major version 0', record(22, [], 0x0003)],
    ['minor version 5', record(22, [], 0x0305)],
    ['content type 19', record(19, [])],
    ['content type 25', record(25, [])],
    ['content type 0x80 (SSLv2-style header)', [0x80, 0x2e, 0x01, 0x03, 0x01]],
    ['length 2^14 + 2049', record(23, [], 0x0303, 18433)],
    ['length 0xffff', record(23, [], 0x0303, 0xffff)],
  ];
  it.each(bad)('bad record header (%s): bad_tls_record, parsing stops', (_n, bytes) => {
    const r = recorder();
    const s = new TlsStream(false, r.owner);
    push(s, [...bytes, ...record(22, hsMsg(2, fill(40)))]);
    expect(s.failed).toBe(true);
    expect(r.calls).toEqual([['error', false, expect.any(Number)]]);
    expect(r.an.toObject()).toEqual({ bad_tls_record: 1 });
    push(s, record(22, hsMsg(2, fill(40)))); // later bytes are ignored
    expect(r.calls).toHaveLength(1);
  });

  it('issue 11: a record\'s end is reported with the time of the segment that completed it, with its length and protection', () => {
    const ends: [number, boolean, number, number][] = [];
    const r = recorder();
    const s = new TlsStream(true, { ...r.owner, onTlsRecordEnd: (_c, t, e, len, ts) => { ends.push([t, e, len, ts]); } });
    s.tls13 = true;
    const finished = record(23, fill(69), 0x0303);
    const cert = record(23, fill(4000), 0x0303);
    const bytes = [...record(20, [1]), ...cert, ...finished];
    // CCS and the Certificate's first part at ts 1, the rest of it at 2 and 3, the Finished split over 3 and 4.
    push(s, bytes.slice(0, 1000), 1);
    push(s, bytes.slice(1000, 3000), 2);
    push(s, bytes.slice(3000, 4020), 3);
    expect(s.atRecordBoundary).toBe(false);
    push(s, bytes.slice(4020), 4);
    expect(s.atRecordBoundary).toBe(true);
    expect(ends).toEqual([[20, false, 1, 1], [23, true, 4000, 3], [23, true, 69, 4]]);
    // onTlsRecord still reports each record where its header starts.
    expect(r.calls.filter((c) => c[0] === 'record').map((c) => c[4])).toEqual([1, 1, 3]);
  });

  it('a bad header split across pushes is still caught after a good record', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    const bytes = [...record(21, [2, 40]), ...record(22, [], 0x0307)];
    for (const b of bytes) push(s, [b], 7);
    expect(r.calls).toEqual([['record', true, 21, false, 7], ['error', true, expect.any(Number)]]);
    expect(r.an.toObject()).toEqual({ bad_tls_record: 1 });
  });

  it('handshake messages are reassembled across records; only hellos keep their body', () => {
    const r = recorder();
    const s = new TlsStream(false, r.owner);
    const sh = hsMsg(2, fill(70, 9));
    const msgs = [...sh, ...hsMsg(11, fill(300, 1)), ...hsMsg(14, [])];
    // Three records cutting through message headers and bodies.
    push(s, [...record(22, msgs.slice(0, 2)), ...record(22, msgs.slice(2, 150)), ...record(22, msgs.slice(150))], 5);
    expect(r.calls).toEqual([
      ['record', false, 22, false, 5],
      ['record', false, 22, false, 5],
      ['hs', false, 2, fill(70, 9), 70, 5],
      ['record', false, 22, false, 5],
      ['hs', false, 11, null, 300, 5],
      ['hs', false, 14, null, 0, 5],
    ]);
  });

  it('a hello larger than 64 KiB: tls_message_too_large, skipped by length', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    const len = 70_000;
    const msg = [1, ...u24(len), ...fill(len, 3)];
    for (let o = 0; o < msg.length; o += 16384) push(s, record(22, msg.slice(o, o + 16384)));
    push(s, record(22, hsMsg(16, [1, 2])));
    expect(r.an.toObject()).toEqual({ tls_message_too_large: 1 });
    const hs = r.calls.filter((c) => c[0] === 'hs');
    expect(hs).toEqual([['hs', true, 1, null, len, 1], ['hs', true, 16, null, 2, 1]]);
    expect(s.failed).toBe(false);
  });

  it('TLS 1.2: records after the sender\'s CCS are encrypted and not parsed', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    push(s, [...record(22, hsMsg(16, [1, 2, 3])), ...record(20, [1]), ...record(22, fill(40, 0x11)), ...record(21, [1, 2])]);
    expect(r.calls).toEqual([
      ['record', true, 22, false, 1],
      ['hs', true, 16, null, 3, 1],
      ['record', true, 20, false, 1],
      ['record', true, 22, true, 1],
      ['record', true, 21, true, 1],
    ]);
  });

  it('TLS 1.3: CCS changes nothing; only application_data is encrypted', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    s.tls13 = true;
    push(s, [...record(20, [1]), ...record(22, hsMsg(1, [7, 7])), ...record(23, fill(30))]);
    expect(r.calls).toEqual([
      ['record', true, 20, false, 1],
      ['record', true, 22, false, 1],
      ['hs', true, 1, [7, 7], 2, 1],
      ['record', true, 23, true, 1],
    ]);
  });

  it('record ts is the packet of its first header byte; handshake ts the packet completing it', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    const bytes = record(22, hsMsg(1, fill(10)));
    push(s, bytes.slice(0, 3), 100);
    push(s, bytes.slice(3, 8), 200);
    push(s, bytes.slice(8), 300);
    expect(r.calls).toEqual([['record', true, 22, false, 100], ['hs', true, 1, fill(10), 10, 300]]);
  });

  it('stop() ends parsing', () => {
    const r = recorder();
    const s = new TlsStream(true, r.owner);
    s.stop();
    push(s, record(22, hsMsg(1, [1])));
    expect(r.calls).toEqual([]);
    expect(s.failed).toBe(true);
  });
});

// ---- ClientHello / ServerHello ---------------------------------------------------------------------

const vec8 = (b: number[]): number[] => [b.length, ...b];
const vec16 = (b: number[]): number[] => [...u16(b.length), ...b];
const RANDOM = fill(32, 0x5a);

function chBody(o: { sid?: number[]; ciphers?: number[]; comp?: number[]; ext?: number[] | null } = {}): number[] {
  const out = [...u16(0x0303), ...RANDOM, ...vec8(o.sid ?? fill(32, 0xa5)), ...vec16((o.ciphers ?? [0x1301, 0xc02f]).flatMap(u16)), ...vec8(o.comp ?? [0])];
  if (o.ext !== null) out.push(...vec16(o.ext ?? [...u16(0), ...vec16([...vec16([0, ...vec16([...Buffer.from('a.example')])])])]));
  return out;
}

function ch(bytes: number[]) {
  const b = Uint8Array.from(bytes);
  return decodeClientHello(b, 0, b.length);
}
function sh(bytes: number[]) {
  const b = Uint8Array.from(bytes);
  return decodeServerHello(b, 0, b.length);
}
function expectNull(r: unknown, status: Status): void {
  expect(r).toBeNull();
  expect(helloStatus.status).toBe(status);
}

describe('decodeClientHello', () => {
  it('a well-formed hello decodes (with and without extensions)', () => {
    const info = ch(chBody());
    expect(helloStatus.status).toBe(Status.OK);
    expect(info).toMatchObject({ legacyVersion: 0x0303, sessionIdLength: 32, cipherSuites: [0x1301, 0xc02f], extensions: [0], sni: 'a.example' });
    expect(ch(chBody({ ext: null }))).toMatchObject({ extensions: [], sni: null });
  });

  it('session id longer than 32: INVALID', () => {
    expectNull(ch(chBody({ sid: fill(33) })), Status.INVALID);
    expectNull(ch(chBody({ sid: fill(255) })), Status.INVALID);
    expect(ch(chBody({ sid: [] }))).not.toBeNull();
  });

  it('shorter than version + random + session id length: TRUNCATED', () => {
    expectNull(ch([]), Status.TRUNCATED);
    expectNull(ch(chBody().slice(0, 34)), Status.TRUNCATED);
    expectNull(ch(chBody().slice(0, 1)), Status.TRUNCATED);
  });

  it('session id running past the end: TRUNCATED', () => {
    expectNull(ch(chBody().slice(0, 35 + 10)), Status.TRUNCATED);
  });

  it('cipher list: truncated is TRUNCATED, odd length is INVALID', () => {
    const body = chBody({ ciphers: [0x1301, 0x1302, 0x1303] });
    const csStart = 2 + 32 + 1 + 32;
    expectNull(ch(body.slice(0, csStart + 1)), Status.TRUNCATED); // half the length field
    expectNull(ch(body.slice(0, csStart + 2 + 3)), Status.TRUNCATED); // 6 bytes declared, 3 present
    const odd = [...body.slice(0, csStart), ...u16(3), 0x13, 0x01, 0x13, 0];
    expectNull(ch(odd), Status.INVALID);
  });

  it('compression methods running past the end: TRUNCATED', () => {
    expectNull(ch([...chBody({ ext: null }).slice(0, -2), 5, 0]), Status.TRUNCATED);
  });

  it('extensions block length beyond the body: TRUNCATED', () => {
    const body = chBody({ ext: null });
    expectNull(ch([...body, ...u16(10), ...u16(0), ...u16(0)]), Status.TRUNCATED);
    expectNull(ch([...body, 0]), Status.TRUNCATED); // one stray byte: half a length
  });

  it('one extension\'s length overflowing the block: INVALID', () => {
    expectNull(ch(chBody({ ext: [...u16(0x0010), ...u16(100), 0, 2, 1, 0x61] })), Status.INVALID);
    expectNull(ch(chBody({ ext: [...u16(0x0010), 0] })), Status.INVALID); // header cut inside the block
    expectNull(ch(chBody({ ext: [...u16(0x0000), ...u16(0), ...u16(0x0010)] })), Status.INVALID);
  });

  it('malformed inner lists are tolerated: the hello still decodes', () => {
    const ext = [
      ...u16(0), ...vec16([...u16(50), 0, ...u16(3), 0x61]), // server_name list longer than the extension
      ...u16(16), ...vec16([...u16(5), 9, 0x61]), // ALPN entry longer than its list
      ...u16(43), ...vec16([7, 3, 4]), // supported_versions: odd list
      ...u16(51), ...vec16([...u16(100), ...u16(29), ...u16(400)]), // key_share entry overrun
    ];
    const info = ch(chBody({ ext }));
    expect(helloStatus.status).toBe(Status.OK);
    expect(info).toMatchObject({ extensions: [0, 16, 43, 51], sni: null, alpn: [], keyShareGroups: [29] });
  });
});

const HRR_RANDOM = [
  0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
  0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
function shBody(random: number[], ext: number[] | null = [...u16(43), ...vec16(u16(0x0304)), ...u16(51), ...vec16(u16(0x001d))]): number[] {
  const out = [...u16(0x0303), ...random, ...vec8(fill(32, 1)), ...u16(0x1302), 0];
  if (ext !== null) out.push(...vec16(ext));
  return out;
}

describe('decodeServerHello', () => {
  it('HelloRetryRequest is recognised by its random (RFC 8446 §4.1.3)', () => {
    const hrr = sh(shBody(HRR_RANDOM));
    expect(hrr).toMatchObject({ hrr: true, version: 0x0304, cipherSuite: 0x1302, extensions: [43, 51] });
    expect(sh(shBody(RANDOM))).toMatchObject({ hrr: false, version: 0x0304 });
    for (const i of [0, 15, 31]) {
      const r = [...HRR_RANDOM];
      r[i] ^= 1;
      expect(sh(shBody(r))?.hrr).toBe(false);
    }
  });

  it('TLS 1.2 form: legacy version, ALPN choice, no extensions at all', () => {
    const ext = [...u16(16), ...vec16(vec16(vec8([...Buffer.from('h2')])))];
    expect(sh(shBody(RANDOM, ext))).toMatchObject({ version: 0x0303, alpn: 'h2', pskAccepted: false });
    expect(sh(shBody(RANDOM, null))).toMatchObject({ version: 0x0303, extensions: [] });
    expect(sh(shBody(RANDOM, [...u16(41), ...vec16(u16(0))]))).toMatchObject({ pskAccepted: true });
  });

  it('truncations: TRUNCATED', () => {
    const body = shBody(RANDOM);
    expectNull(sh(body.slice(0, 33)), Status.TRUNCATED); // random cut
    expectNull(sh(body.slice(0, 34)), Status.TRUNCATED); // no session id length
    expectNull(sh(body.slice(0, 35 + 32 + 1)), Status.TRUNCATED); // cipher cut
    expectNull(sh(body.slice(0, 35 + 32 + 2)), Status.TRUNCATED); // compression missing
    expectNull(sh([...shBody(RANDOM, null), ...u16(20), 0, 43]), Status.TRUNCATED); // extensions beyond the end
  });

  it('session id > 32 is INVALID; extension overflowing its block is INVALID', () => {
    const body = shBody(RANDOM);
    body[34] = 33;
    expectNull(sh(body), Status.INVALID);
    expectNull(sh(shBody(RANDOM, [...u16(43), ...u16(9), 3, 4])), Status.INVALID);
  });
});

// ---- the Ethernet/IPv4/TCP fast path (dispatch.ts) ------------------------------------------------

describe('Ethernet + IPv4 fast path', () => {
  /** The fields a decode fills, with offsets relative to the IP header (`net`). */
  function fields(d: Decoded, net: number): unknown {
    const p = d.pkt;
    if (d.status !== Status.OK) return { status: d.status, anomalies: d.anomalies };
    return {
      status: d.status, anomalies: d.anomalies, ipVersion: p.ipVersion, ipId: p.ipId, src: p.srcAddrOff - net, dst: p.dstAddrOff - net,
      srcPort: p.srcPort, dstPort: p.dstPort, seq: p.seq, ack: p.ack, flags: p.flags, window: p.window, mss: p.mss,
      payloadOff: p.payloadOff - net, payloadLen: p.payloadLen, payloadAvail: p.payloadAvail,
    };
  }
  const seg = tcp({ flags: TCP_SYN, options: [2, 4, 0x05, 0xb4, 1, 1, 1, 0], payload: [9, 8, 7] });
  const cases: [string, number[]][] = [
    ['plain', ipv4(seg)],
    ['total 0 (offload)', ipv4(seg, { total: 0 })],
    ['total below the header', ipv4(seg, { total: 12 })],
    ['total below header + TCP', ipv4(seg, { total: 30 })],
    ['total beyond the frame', ipv4(seg, { total: 200 })],
    ['later fragment', ipv4(seg, { frag: 0x0001 })],
    ['later fragment, high offset bits', ipv4(seg, { frag: 0x1f00 })],
    ['first fragment (MF)', ipv4(seg, { frag: 0x2000 })],
    ['DF', ipv4(seg, { frag: 0x4000 })],
    ['IP options', ipv4(seg, { options: [1, 1, 1, 0] })],
    ['header length below 20', ipv4(seg, { ihl: 4 })],
    ['version 6 nibble', ipv4(seg, { version: 6 })],
    ['UDP', ipv4(seg, { proto: 17 })],
  ];
  it('decodes each frame as the general path decodes the same IP bytes', () => {
    for (const [name, bytes] of cases) {
      for (let cut = 0; cut <= bytes.length; cut++) {
        const viaEth = decode(eth(0x0800, bytes), 1, 14 + cut);
        // Linux cooked capture: a 16-byte header naming IPv4, decoded by the general path
        const viaSll = decode([...fill(14), 0x08, 0x00, ...bytes], 113, 16 + cut);
        expect(fields(viaEth, 14), `${name}, ${cut} bytes`).toEqual(fields(viaSll, 16));
      }
    }
  });
});
