/**
 * TCP Fast Open edge cases (issue 15) on variants of the real captures/tls/tfo.pcap: the server's
 * answer to the SYN's data not captured (the client's next sequence number then says whether it
 * was accepted), and SYN data that is not a ClientHello (not TLS, no record, nothing kept).
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeCaptures, type FlowRecord } from '../../../src/index.js';
import { CAPTURES } from '../../helpers/cli.js';
import { privateTempDir, readPcap, writePcap, type Packet } from '../../helpers/capture-variants.js';

const dir = privateTempDir('ss-tfo-unit-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const cap = readPcap(readFileSync(join(CAPTURES, 'tfo.pcap')));

/** Ethernet/IPv4/TCP: source and destination port and TCP flags of a frame (null: not TCP/IPv4). */
function tcp(d: Uint8Array): { sport: number; dport: number; flags: number; pay: number } | null {
  if (d.length < 54 || d[12] !== 0x08 || d[13] !== 0x00 || d[23] !== 6) return null;
  const t = 14 + (d[14]! & 15) * 4;
  return { sport: (d[t]! << 8) | d[t + 1]!, dport: (d[t + 2]! << 8) | d[t + 3]!, flags: d[t + 13]!, pay: t + (d[t + 12]! >> 4) * 4 };
}

async function analyzeVariant(name: string, packets: Packet[]): Promise<{ recs: Map<number, FlowRecord>; nonTls: number }> {
  const f = join(dir, name);
  writeFileSync(f, writePcap({ ...cap, packets }));
  const r = await analyzeCaptures([f]);
  return { recs: new Map(r.records.map((x) => [Number(x.client.replace(/^.*:/, '')), x])), nonTls: r.analyzer.stats.nonTlsFlows };
}

describe('TCP Fast Open without the SYN-ACK in the capture', () => {
  it('accepted data (41602) and refused data (41605) are told apart by the client\'s next sequence number', async () => {
    const orig = (await analyzeVariant('orig.pcap', cap.packets)).recs;
    const noSynAck = cap.packets.filter((p) => {
      const t = tcp(p.data);
      return !(t && (t.dport === 41602 || t.dport === 41605) && (t.flags & 0x12) === 0x12);
    });
    expect(noSynAck.length).toBe(cap.packets.length - 2);
    const { recs } = await analyzeVariant('no-synack.pcap', noSynAck);
    const acc = recs.get(41602)!, ref = recs.get(41605)!;
    expect(acc.tfo).toBe(true);
    expect(acc.timeline.syn_ack).toBeNull();
    expect(acc.timeline.client_hello_end).toBe(acc.timeline.syn);
    expect(acc.timeline.done).toBe(orig.get(41602)!.timeline.done);
    expect(ref.tfo).toBe(true);
    expect(ref.notes.some((n) => n.startsWith('TCP Fast Open: the server did not accept'))).toBe(true);
    expect(ref.timeline.client_hello).toBe(ref.timeline.syn);
    expect(ref.timeline.client_hello_end).toBe(orig.get(41605)!.timeline.client_hello_end);
    expect(ref.timeline.done).toBe(orig.get(41605)!.timeline.done);
    expect(ref.retransmits.client).toBe(1);
    expect(ref.phases_ms.loss).toBe(0);
  });
});

describe('SYN data that is not a ClientHello', () => {
  it('makes the flow non-TLS at once: no record for it, the others unchanged', async () => {
    const orig = (await analyzeVariant('orig2.pcap', cap.packets));
    const edited = cap.packets.map((p) => {
      const t = tcp(p.data);
      if (!t || t.sport !== 41603 || (t.flags & 0x12) !== 0x02 || t.pay >= p.data.length) return p;
      const d = Uint8Array.from(p.data);
      d[t.pay] = 0x47; // "G": a plain-text request in the SYN
      return { ...p, data: d };
    });
    const { recs, nonTls } = await analyzeVariant('not-tls.pcap', edited);
    expect(recs.has(41603)).toBe(false);
    expect(nonTls).toBe(orig.nonTls + 1);
    for (const [port, r] of orig.recs) if (port !== 41603) expect(recs.get(port)).toEqual(r);
  });
});
