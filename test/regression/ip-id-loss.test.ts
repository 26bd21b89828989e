/**
 * A client segment lost before a server-side capture point leaves no sequence hole: its
 * retransmission just arrives late. The sender's IPv4 ID gap reveals it (flow/ip-id.ts).
 * Simulated from a real capture: a flow's ClientHello "lost" (its IP ID consumed) and retransmitted
 * 300 ms later, everything after it in that flow 300 ms later too.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures } from '../../src/index.js';
import { CAPTURES, tempDir } from '../helpers/cli.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Rec { ts: number; data: Buffer }

function readPcap(path: string): { header: Buffer; recs: Rec[] } {
  const b = readFileSync(path);
  const recs: Rec[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const incl = b.readUInt32LE(o + 8);
    recs.push({ ts: b.readUInt32LE(o) * 1e6 + b.readUInt32LE(o + 4), data: Buffer.from(b.subarray(o + 16, o + 16 + incl)) });
    o += 16 + incl;
  }
  return { header: b.subarray(0, 24), recs };
}

function writePcap(path: string, header: Buffer, recs: Rec[]): void {
  const parts = [header];
  for (const r of [...recs].sort((a, b) => a.ts - b.ts)) {
    const h = Buffer.alloc(16);
    h.writeUInt32LE(Math.floor(r.ts / 1e6), 0); h.writeUInt32LE(r.ts % 1e6, 4);
    h.writeUInt32LE(r.data.length, 8); h.writeUInt32LE(r.data.length, 12);
    parts.push(h, r.data);
  }
  writeFileSync(path, Buffer.concat(parts));
}

const isV4 = (d: Buffer): boolean => d.length >= 34 && d.readUInt16BE(12) === 0x0800 && d[23] === 6;
const sport = (d: Buffer): number => d.readUInt16BE(14 + (d[14]! & 0x0f) * 4);
const dport = (d: Buffer): number => d.readUInt16BE(16 + (d[14]! & 0x0f) * 4);
const payload = (d: Buffer): number => d.readUInt16BE(16) - (d[14]! & 0x0f) * 4 - (d[14 + (d[14]! & 0x0f) * 4 + 12]! >> 4) * 4;

describe('loss before the capture point, from IPv4 ID gaps', () => {
  it('a ClientHello retransmitted 300 ms late is loss, not client wait', async () => {
    const src = join(CAPTURES, 'fast-tls13.pcap');
    const { header, recs } = readPcap(src);
    const port = 40001;
    const flow = recs.filter((r) => isV4(r.data) && (sport(r.data) === port || dport(r.data) === port));
    const chIndex = flow.findIndex((r) => sport(r.data) === port && payload(r.data) > 0);
    const ch = flow[chIndex]!;
    const delay = 300_000;
    for (const r of flow.slice(chIndex)) r.ts += delay;
    // the original took one IP ID; the retransmission carries the next one
    ch.data.writeUInt16BE((ch.data.readUInt16BE(18) + 1) & 0xffff, 18);
    for (const r of flow.slice(chIndex + 1)) if (sport(r.data) === port) r.data.writeUInt16BE((r.data.readUInt16BE(18) + 1) & 0xffff, 18);
    const f = join(dir, 'lost-ch.pcap');
    writePcap(f, header, recs);
    const before = (await analyzeCaptures([src])).records.find((r) => r.client.endsWith(`:${port}`))!;
    const r = (await analyzeCaptures([f])).records.find((x) => x.client.endsWith(`:${port}`))!;
    expect(r.verdict).toBe('loss');
    expect(r.phases_ms.loss!).toBeGreaterThan(299);
    expect(r.phases_ms.client_hello_wait!).toBeLessThan(1);
    expect(r.retransmits).toEqual(before.retransmits); // what tshark can see is unchanged
    expect(r.notes.join(' ')).toMatch(/lost before the capture point, inferred from gaps in the sender's IPv4 IDs/);
    // without the ID gap it is indistinguishable from a slow client, and stays "client"
    ch.data.writeUInt16BE((ch.data.readUInt16BE(18) - 1) & 0xffff, 18);
    for (const x of flow.slice(chIndex + 1)) if (sport(x.data) === port) x.data.writeUInt16BE((x.data.readUInt16BE(18) - 1) & 0xffff, 18);
    writePcap(f, header, recs);
    const r2 = (await analyzeCaptures([f])).records.find((x) => x.client.endsWith(`:${port}`))!;
    expect(r2.verdict).toBe('client');
    expect(r2.phases_ms.loss).toBe(0);
  });
});
