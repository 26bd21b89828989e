/**
 * Regressions from the decoder review: exact binary if_tsresol timestamps, undersized SPBs,
 * TRUNCATED vs INVALID statuses, and violations no longer counted as truncation.
 */
import { describe, expect, it } from 'vitest';
import { DecodedPacket } from '../../src/decode/packet.js';
import { decodePacket } from '../../src/decode/dispatch.js';
import { Status } from '../../src/decode/reader.js';
import { AnomalyCounters } from '../../src/telemetry/anomalies.js';
import { PcapngParser } from '../../src/sources/pcapng-file.js';
import { CaptureFileError } from '../../src/sources/capture-error.js';

function block(type: number, body: Buffer): Buffer {
  const len = 12 + body.length;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0); b.writeUInt32LE(len, 4); body.copy(b, 8); b.writeUInt32LE(len, len - 4);
  return b;
}
const shb = (): Buffer => { const b = Buffer.alloc(16); b.writeUInt32LE(0x1a2b3c4d, 0); b.writeUInt16LE(1, 4); b.writeInt32LE(-1, 8); b.writeInt32LE(-1, 12); return block(0x0a0d0d0a, b); };
function idb(tsresol: number | null): Buffer {
  const opts = tsresol === null ? Buffer.alloc(0) : Buffer.from([9, 0, 1, 0, tsresol, 0, 0, 0, 0, 0, 0, 0]);
  const b = Buffer.alloc(8 + opts.length); b.writeUInt16LE(1, 0); b.writeUInt32LE(65535, 4); opts.copy(b, 8);
  return block(1, b);
}
function epb(hi: number, lo: number, data: Buffer): Buffer {
  const b = Buffer.alloc(20 + ((data.length + 3) & ~3));
  b.writeUInt32LE(0, 0); b.writeUInt32LE(hi, 4); b.writeUInt32LE(lo, 8); b.writeUInt32LE(data.length, 12); b.writeUInt32LE(data.length, 16);
  data.copy(b, 20);
  return block(6, b);
}

function parse(file: Buffer): DecodedPacket[] {
  const got: DecodedPacket[] = [];
  const p = new PcapngParser('t.pcapng');
  p.parse(file, 0, 0, new DecodedPacket(), { onPacket: (x) => { got.push(Object.assign(new DecodedPacket(), x)); } });
  return got;
}

describe('pcapng timestamps and blocks', () => {
  it('2^-32 resolution is split exactly (1700000000.000001000 s)', () => {
    const pkts = parse(Buffer.concat([shb(), idb(0x80 | 32), epb(0x6553f100, 0x000010c7, Buffer.alloc(60))]));
    expect(pkts[0]!.tsSec).toBe(1700000000);
    expect(pkts[0]!.tsNsec).toBe(1000);
    expect(pkts[0]!.tsUs).toBe(1700000000000001);
  });
  it('2^-30 resolution, and nanoseconds (10^-9) beyond 2^53 ticks, are exact', () => {
    const ticks30 = (1700000000n << 30n) + ((123456789n << 30n) / 1_000_000_000n) + 1n;
    const p30 = parse(Buffer.concat([shb(), idb(0x80 | 30), epb(Number(ticks30 >> 32n), Number(ticks30 & 0xffffffffn), Buffer.alloc(60))]));
    expect(p30[0]!.tsSec).toBe(1700000000);
    expect(p30[0]!.tsNsec).toBe(123456789);
    const ns = 1700000000n * 1_000_000_000n + 987654321n;
    const p9 = parse(Buffer.concat([shb(), idb(9), epb(Number(ns >> 32n), Number(ns & 0xffffffffn), Buffer.alloc(60))]));
    expect([p9[0]!.tsSec, p9[0]!.tsNsec, p9[0]!.tsUs]).toEqual([1700000000, 987654321, 1700000000987654]);
  });
  it('an SPB too short for its original-length field is a file error with the offset', () => {
    const head = Buffer.concat([shb(), idb(null)]);
    const bad = Buffer.from('030000000c0000000c000000', 'hex');
    expect(() => parse(Buffer.concat([head, bad]))).toThrow(CaptureFileError);
    expect(() => parse(Buffer.concat([head, bad]))).toThrow(new RegExp(`byte ${head.length}: truncated pcapng simple packet block`));
  });
});

function decode(linkType: number, bytes: Buffer): { status: Status; anomalies: Record<string, number> } {
  const an = new AnomalyCounters();
  const p = new DecodedPacket();
  p.buf = bytes; p.off = 0; p.caplen = bytes.length; p.linkType = linkType;
  return { status: decodePacket(p, an), anomalies: an.toObject() };
}

describe('decode statuses', () => {
  it('a cut Ethernet header is TRUNCATED', () => {
    expect(decode(1, Buffer.from('02000000000102000000000208', 'hex'))).toEqual({ status: Status.TRUNCATED, anomalies: { truncated_link_header: 1 } });
  });
  it('a cut IPv4 header is TRUNCATED; non-IP is UNSUPPORTED', () => {
    expect(decode(101, Buffer.alloc(19, 0x45)).status).toBe(Status.TRUNCATED);
    const arp = Buffer.alloc(42); arp.writeUInt16BE(0x0806, 12);
    expect(decode(1, arp)).toEqual({ status: Status.UNSUPPORTED, anomalies: { non_ip_packet: 1 } });
  });
  it('an IPv4 total length too short for TCP is INVALID (bad_ip_total_length), not truncation', () => {
    const pkt = Buffer.alloc(40);
    pkt[0] = 0x45; pkt.writeUInt16BE(30, 2); pkt[9] = 6; pkt[32] = 0x50;
    expect(decode(101, pkt)).toEqual({ status: Status.INVALID, anomalies: { bad_ip_total_length: 1 } });
  });
  it('a fifth VLAN tag is too_many_vlan_tags, not truncation', () => {
    const f = Buffer.alloc(14 + 5 * 4 + 20);
    let o = 12;
    for (let i = 0; i < 5; i++) { f.writeUInt16BE(0x8100, o); f.writeUInt16BE(i, o + 2); o += 4; }
    f.writeUInt16BE(0x0800, o);
    expect(decode(1, f)).toEqual({ status: Status.UNSUPPORTED, anomalies: { too_many_vlan_tags: 1 } });
  });
  it('more than 8 IPv6 extension headers is INVALID too_many_ipv6_extensions', () => {
    const p = Buffer.alloc(40 + 9 * 8 + 20);
    p[0] = 0x60; p.writeUInt16BE(9 * 8 + 20, 4); p[6] = 60;
    for (let i = 0; i < 9; i++) { p[40 + i * 8] = 60; p[41 + i * 8] = 0; }
    expect(decode(101, p)).toEqual({ status: Status.INVALID, anomalies: { too_many_ipv6_extensions: 1 } });
  });
});
