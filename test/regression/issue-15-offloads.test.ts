/**
 * Issue 15: captures taken with offloads on stay exact (captures/tls/offloads.pcap, made by
 * scripts/gen-captures with TSO/GSO/GRO and checksum offload left on: the server's segments are
 * super-segments of several MSS, their TCP checksums not filled in).
 *
 * - No checksum is validated: the capture's checksums really are wrong, and every flow is complete;
 *   a 46 KB super-segment (32 MSS) carrying most of a 50 KB certificate flight is one segment.
 * - Reassembly does not care how the bytes were cut: every super-segment cut into MSS-sized
 *   segments at the same instant (what the NIC put on the wire) gives the very same records; each
 *   run of back-to-back server segments merged into one segment gives the same handshakes, with no
 *   loss, retransmission or IP-ID gap invented by the new cut.
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { analyzeCaptures, type FlowRecord } from '../../src/index.js';
import { CAPTURES } from '../helpers/cli.js';
import { privateTempDir, readPcap, writePcap, type Capture, type Packet } from '../helpers/capture-variants.js';

const OFFLOADS = join(CAPTURES, 'offloads.pcap');
const MSS = 1448; // 1460 minus the timestamp option
const dir = privateTempDir('ss-offloads-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Ethernet + IPv4 + TCP fields of a frame (the capture is Ethernet, IPv4 only). */
interface Seg { ip: number; tcp: number; pay: number; len: number; flow: string; seq: number; flags: number; id: number }
function seg(d: Uint8Array): Seg | null {
  const v = new DataView(d.buffer, d.byteOffset, d.byteLength);
  if (d.length < 54 || v.getUint16(12) !== 0x0800 || d[23] !== 6) return null;
  const ip = 14, tcp = ip + (d[ip]! & 15) * 4, pay = tcp + (d[tcp + 12]! >> 4) * 4;
  const total = v.getUint16(ip + 2);
  const len = (total === 0 ? d.length - ip : total) - (pay - ip);
  const ends = [`${[...d.subarray(26, 30)].join('.')}:${v.getUint16(tcp)}`, `${[...d.subarray(30, 34)].join('.')}:${v.getUint16(tcp + 2)}`];
  return { ip, tcp, pay, len, flow: [...ends].sort().join(' '), seq: v.getUint32(tcp + 4), flags: d[tcp + 13]!, id: v.getUint16(ip + 4) };
}

/** A copy of `p`'s headers with `payload`, sequence number `seq` and IP ID `id` (IP length 0 past 64 KB, as TSO leaves it). */
function withPayload(p: Packet, s: Seg, payload: Uint8Array, seq: number, id: number, ts: Packet = p): Packet {
  const d = new Uint8Array(s.pay + payload.length);
  d.set(p.data.subarray(0, s.pay));
  d.set(payload, s.pay);
  const v = new DataView(d.buffer);
  const total = s.pay - s.ip + payload.length;
  v.setUint16(s.ip + 2, total > 0xffff ? 0 : total);
  v.setUint16(s.ip + 4, id);
  v.setUint32(s.tcp + 4, seq >>> 0);
  return { sec: ts.sec, nsec: ts.nsec, data: d, origLen: d.length };
}

/** Ones' complement TCP checksum over the IPv4 pseudo header and segment: true when the stored one is right. */
function checksumOk(d: Uint8Array, s: Seg): boolean {
  const segLen = s.pay - s.tcp + s.len;
  let sum = 0;
  const add16 = (hi: number, lo: number): void => { sum += (hi << 8) | lo; };
  for (let i = 26; i < 34; i += 2) add16(d[i]!, d[i + 1]!);
  sum += 6 + segLen;
  for (let i = s.tcp; i < s.tcp + segLen; i += 2) add16(d[i]!, i + 1 < s.tcp + segLen ? d[i + 1]! : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

function analyzeVariant(name: string, cap: Capture): Promise<FlowRecord[]> {
  const f = join(dir, name);
  writeFileSync(f, writePcap(cap));
  return analyzeCaptures([f]).then((r) => r.records);
}

const byClient = (recs: FlowRecord[]): Map<string, FlowRecord> => new Map(recs.map((r) => [r.client, r]));

describe('issue 15: offloads on (offloads.pcap)', () => {
  const cap = readPcap(readFileSync(OFFLOADS));

  it('has super-segments with unfilled checksums, and every flow is complete anyway', async () => {
    const big = cap.packets.map((p) => [p, seg(p.data)] as const).filter(([, s]) => s !== null && s.len > MSS);
    expect(big.length).toBeGreaterThanOrEqual(4);
    expect(big.some(([p, s]) => !checksumOk(p.data, s!))).toBe(true);
    // 41705: most of a ~50 KB server flight in one segment of 32 MSS.
    expect(Math.max(...big.map(([, s]) => s!.len))).toBeGreaterThanOrEqual(32 * MSS);
    const recs = (await analyzeCaptures([OFFLOADS])).records;
    expect(recs.length).toBe(6);
    for (const r of recs) {
      expect(r.verdict, r.client).not.toBe('incomplete');
      expect(r.retransmits).toEqual({ client: 0, server: 0 });
      expect(r.phases_ms.loss).toBe(0);
    }
  });

  it('cut into MSS-sized segments at the same instant: the very same records', async () => {
    const out: Packet[] = [];
    for (const p of cap.packets) {
      const s = seg(p.data);
      if (s === null || s.len <= MSS) { out.push(p); continue; }
      const payload = p.data.subarray(s.pay, s.pay + s.len);
      for (let o = 0, i = 0; o < s.len; o += MSS, i++) out.push(withPayload(p, s, payload.subarray(o, o + MSS), s.seq + o, (s.id + i) & 0xffff));
    }
    expect(out.length).toBeGreaterThan(cap.packets.length);
    const orig = (await analyzeCaptures([OFFLOADS])).records;
    const cut = await analyzeVariant('cut.pcap', { ...cap, packets: out });
    expect(byClient(cut)).toEqual(byClient(orig));
  });

  it('back-to-back server segments merged into one: the same handshakes, nothing invented', async () => {
    // A run: consecutive server data segments of one flow with nothing from that flow in between
    // but the client's pure ACKs. The merged segment takes the run's first place and time; the
    // ACKs stay where they were (after it), so they acknowledge bytes already sent.
    const out: Packet[] = [];
    let run: { at: number; p: Packet; s: Seg; bytes: Uint8Array[]; next: number } | null = null;
    let merged = 0, largest = 0;
    const flush = (): void => {
      if (run === null) return;
      const payload = Buffer.concat(run.bytes);
      if (run.bytes.length > 1) { merged++; largest = Math.max(largest, payload.length); }
      out[run.at] = withPayload(run.p, run.s, payload, run.s.seq, run.s.id);
      run = null;
    };
    for (const p of cap.packets) {
      const s = seg(p.data);
      // Payload from the server's side (source port 443, 8443 or 9443), no SYN/FIN/RST.
      const fromServer = s !== null && [443, 8443, 9443].includes((p.data[s.tcp]! << 8) | p.data[s.tcp + 1]!);
      const serverData = s !== null && fromServer && s.len > 0 && !(s.flags & 0x07);
      if (run !== null && s !== null && run.s.flow === s.flow) {
        if (serverData && run.next === s.seq) {
          run.bytes.push(p.data.subarray(s.pay, s.pay + s.len));
          run.next = (s.seq + s.len) >>> 0;
          continue;
        }
        if (!fromServer && s.len === 0 && !(s.flags & 0x07)) { out.push(p); continue; } // a pure ACK: stays in place
        flush();
      }
      if (serverData) {
        if (run !== null) flush();
        run = { at: out.length, p, s: s!, bytes: [p.data.subarray(s!.pay, s!.pay + s!.len)], next: (s!.seq + s!.len) >>> 0 };
        out.push(p); // placeholder, replaced by the merged segment
      } else out.push(p);
    }
    flush();
    expect(merged).toBeGreaterThan(0);
    expect(largest).toBeGreaterThan(4 * MSS);
    const orig = byClient((await analyzeCaptures([OFFLOADS])).records);
    const m = byClient(await analyzeVariant('merged.pcap', { ...cap, packets: out }));
    expect([...m.keys()].sort()).toEqual([...orig.keys()].sort());
    for (const [client, r] of m) {
      const o = orig.get(client)!;
      const same = (x: FlowRecord): unknown => ({
        tls: x.tls_version, cipher: x.cipher, sni: x.sni, ja4: x.ja4, tfo: x.tfo, resumed: x.resumed,
        syn: x.timeline.syn, client_hello_end: x.timeline.client_hello_end, server_hello: x.timeline.server_hello, done: x.timeline.done,
      });
      expect(same(r), client).toEqual(same(o));
      expect(r.verdict, client).not.toBe('incomplete');
      expect(r.retransmits, client).toEqual({ client: 0, server: 0 });
      expect(r.phases_ms.loss, client).toBe(0);
      expect(r.notes.filter((n) => /IPv4 IDs|TLS parsing stopped/.test(n)), client).toEqual([]);
    }
  });
});
