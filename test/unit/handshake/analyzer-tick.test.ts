/** Analyzer.tick: in a quiet live capture, wall time ends finished and idle flows (issue 9 part 1). */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readCaptureFile } from '../../../src/sources/capture-file.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { Analyzer } from '../../../src/handshake/analyzer.js';
import type { FlowRecord } from '../../../src/handshake/record.js';
import { CAPTURES } from '../../helpers/cli.js';

interface Pkt { data: Uint8Array; origLen: number; tsSec: number; tsNsec: number; linkType: number }

async function packets(file: string): Promise<Pkt[]> {
  const out: Pkt[] = [];
  await readCaptureFile(join(CAPTURES, file), new DecodedPacket(), {
    onPacket: (p) => out.push({ data: p.buf.slice(p.off, p.off + p.caplen), origLen: p.origLen, tsSec: p.tsSec, tsNsec: p.tsNsec, linkType: p.linkType }),
  });
  return out;
}

function feed(a: Analyzer, pkts: Pkt[]): void {
  const pkt = new DecodedPacket();
  for (const p of pkts) {
    pkt.buf = p.data; pkt.off = 0; pkt.caplen = p.data.length; pkt.origLen = p.origLen; pkt.linkType = p.linkType;
    pkt.tsSec = p.tsSec; pkt.tsNsec = p.tsNsec; pkt.tsUs = p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000);
    a.onPacket(pkt);
  }
}

describe('Analyzer.tick', () => {
  it('emits a finished handshake whose tail never comes, and the same record analyze gives', async () => {
    const all = await packets('fast-tls13.pcap');
    const reference: FlowRecord[] = [];
    const ref = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => reference.push(r) });
    feed(ref, all);
    ref.finish();
    const first = reference[0]!;
    // Live: the packets up to the first flow's done only (no tail, no FIN, nothing after).
    const doneUs = first.timeline.done!;
    const upto = all.filter((p) => p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000) <= doneUs);
    const got: FlowRecord[] = [];
    const a = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => got.push(r) });
    feed(a, upto);
    const n = got.length;
    a.tick(Math.floor(doneUs / 1e6)); // not later than the packets: nothing moves
    expect(got.length).toBe(n);
    a.tick(Math.floor(doneUs / 1e6) + 10); // a quiet daemon, 10 s later
    const rec = got.find((r) => r.client === first.client);
    expect(rec, 'the finished handshake is emitted on wall time').toBeDefined();
    expect(rec!.timeline).toEqual(first.timeline);
    expect(rec!.verdict).toBe(first.verdict);
  });

  it('ends an idle unfinished handshake after the idle timeout, as incomplete', async () => {
    const all = await packets('fast-tls13.pcap');
    const reference: FlowRecord[] = [];
    const ref = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => reference.push(r) });
    feed(ref, all);
    ref.finish();
    const chUs = reference[0]!.timeline.client_hello!;
    const got: FlowRecord[] = [];
    const a = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => got.push(r) });
    // Up to the first flow's ClientHello (SYN, SYN-ACK, ACK, ClientHello), then silence.
    const upto = all.filter((p) => p.tsSec * 1e6 + Math.floor(p.tsNsec / 1000) <= chUs);
    feed(a, upto);
    const t0 = upto.at(-1)!.tsSec;
    a.tick(t0 + 30);
    expect(got).toEqual([]);
    a.tick(t0 + 70);
    expect(got.map((r) => [r.client, r.verdict])).toEqual([[reference[0]!.client, 'incomplete']]);
    expect(a.stats.idleEvicted).toBeGreaterThan(0);
  });
});
