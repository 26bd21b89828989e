/**
 * analyze --threads: the owner of a packet comes from its headers alone (analyze-share.ts). For
 * every packet the decoders accept, shareHash must be the flow hash of the 5-tuple they decode
 * (so both directions and every packet of a flow land in one share), on every bundled capture
 * and on the same packets behind VLAN tags and a Linux cooked header (the slow path).
 */
import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { CAPTURES } from '../../helpers/cli.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { decodePacket } from '../../../src/decode/dispatch.js';
import { Status } from '../../../src/decode/reader.js';
import { flowHashAt } from '../../../src/ring/flow-hash.js';
import { readCaptureFile } from '../../../src/sources/capture-file.js';
import { AnomalyCounters } from '../../../src/telemetry/anomalies.js';
import { shareHash, shareOf } from '../../../src/cli/analyze-share.js';

const files = readdirSync(CAPTURES).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => join(CAPTURES, f));

/** Every packet of `file` as its own bytes with its link type. */
async function packets(file: string): Promise<{ bytes: Uint8Array; linkType: number }[]> {
  const out: { bytes: Uint8Array; linkType: number }[] = [];
  await readCaptureFile(file, new DecodedPacket(), { onPacket: (p) => { out.push({ bytes: p.buf.slice(p.off, p.off + p.caplen), linkType: p.linkType }); } });
  return out;
}

/** The decoders' flow hash of a packet, or null when they reject it. */
function decodedHash(bytes: Uint8Array, linkType: number): number | null {
  const p = new DecodedPacket();
  p.buf = bytes;
  p.off = 0;
  p.caplen = bytes.length;
  p.linkType = linkType;
  if (decodePacket(p, new AnomalyCounters()) !== Status.OK) return null;
  return flowHashAt(p.buf, p.srcAddrOff, p.dstAddrOff, p.ipVersion === 6 ? 16 : 4, p.srcPort, p.dstPort);
}

describe('shareHash', () => {
  it('is the decoded flow hash for every TCP packet of every bundled capture', async () => {
    let checked = 0;
    for (const f of files) {
      for (const { bytes, linkType } of await packets(f)) {
        const want = decodedHash(bytes, linkType);
        if (want === null) continue;
        expect(shareHash(bytes, 0, bytes.length, linkType), f).toBe(want);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(1000);
  });

  it('is the same behind VLAN tags and a Linux cooked header, and offset into a larger buffer', async () => {
    let checked = 0;
    for (const { bytes, linkType } of await packets(join(CAPTURES, 'interleaved.pcap'))) {
      expect(linkType).toBe(1);
      const want = decodedHash(bytes, linkType);
      if (want === null) continue;
      // 802.1Q then 802.1ad tag between the MAC addresses and the ethertype
      const vlan = new Uint8Array(bytes.length + 8);
      vlan.set(bytes.subarray(0, 12));
      vlan.set([0x88, 0xa8, 0x00, 0x07, 0x81, 0x00, 0x00, 0x2a], 12);
      vlan.set(bytes.subarray(12), 20);
      expect(shareHash(vlan, 0, vlan.length, 1)).toBe(want);
      // LINKTYPE_LINUX_SLL: 16-byte header, protocol at 14
      const sll = new Uint8Array(bytes.length - 14 + 16);
      sll.set([0x08, 0x00], 14);
      sll.set(bytes.subarray(14), 16);
      expect(shareHash(sll, 0, sll.length, 113)).toBe(want);
      const big = new Uint8Array(bytes.length + 100);
      big.set(bytes, 37);
      expect(shareHash(big, 37, bytes.length, 1)).toBe(want);
      checked++;
    }
    expect(checked).toBeGreaterThan(50);
  });

  it('is 0 for a packet with no TCP ports: a later IPv4 fragment, a cut header, not IP', async () => {
    const [{ bytes }] = await packets(join(CAPTURES, 'interleaved.pcap'));
    const frag = Uint8Array.from(bytes!);
    frag[14 + 7] = 0x10; // fragment offset 16 (x 8 bytes)
    expect(shareHash(frag, 0, frag.length, 1)).toBe(0);
    expect(shareHash(bytes!, 0, 14 + 20 + 2, 1)).toBe(0);
    const arp = Uint8Array.from(bytes!);
    arp[12] = 0x08; arp[13] = 0x06;
    expect(shareHash(arp, 0, arp.length, 1)).toBe(0);
  });
});

describe('shareOf', () => {
  it('maps the top 16 bits evenly onto 0 … count-1', () => {
    expect(shareOf(0, 2)).toBe(0);
    expect(shareOf(0x7fffffff, 2)).toBe(0);
    expect(shareOf(0x80000000, 2)).toBe(1);
    expect(shareOf(0xffffffff, 2)).toBe(1);
    expect(shareOf(0xffffffff, 3)).toBe(2);
    expect(shareOf(0xffffffff, 64)).toBe(63);
    const counts = [0, 0, 0];
    for (let h = 0; h < 0x100000000; h += 0x10001) counts[shareOf(h >>> 0, 3)]!++;
    for (const c of counts) expect(Math.abs(c - 65536 / 3)).toBeLessThan(2);
  });
});
