/**
 * Regression: the plain-file reader reuses one buffer for every chunk, so everything kept from a
 * packet must be a copy. Node's Buffer#slice is a view: addresses and kept packets taken with it
 * were overwritten by later chunks. A capture several times the buffer size is analysed through
 * the plain path and the gzip (fresh chunks) path, and the results must match.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { writeFileSync, rmSync } from 'node:fs';
import { replicateCapture } from '../helpers/replicate.js';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { analyzeCaptures } from '../../src/index.js';
import { CAPTURES, tempDir } from '../helpers/cli.js';

let dir: string;
let plain: string;
let gz: string;
const COPIES = 600;

beforeAll(() => {
  dir = tempDir();
  const file = replicateCapture(join(CAPTURES, 'client-think.pcap'), COPIES);
  expect(file.length).toBeGreaterThan(3 * 4 * 1024 * 1024);
  plain = join(dir, 'big.pcap');
  gz = join(dir, 'big.pcap.gz');
  writeFileSync(plain, file);
  writeFileSync(gz, gzipSync(file));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('plain and gzip reads of a multi-chunk capture agree', () => {
  it('same records, real client addresses, kept packets intact', async () => {
    const a = await analyzeCaptures([plain], { keepPackets: true });
    const b = await analyzeCaptures([gz], { keepPackets: true });
    expect(a.records.length).toBe(3 * COPIES);
    const key = (r: { client: string }): string => r.client;
    const sa = [...a.records].sort((x, y) => key(x).localeCompare(key(y)));
    const sb = [...b.records].sort((x, y) => key(x).localeCompare(key(y)));
    expect(sa).toEqual(sb);
    for (const r of a.records) expect(r.client).toMatch(/^10\.\d+\.\d+\.2:403\d\d$/);
    // every kept packet still carries this flow's client address
    for (const [rec, pkts] of a.packets) {
      const [ip] = rec.client.split(':');
      const want = ip!.split('.').map(Number);
      for (const p of pkts) {
        const src = [...p.data.subarray(26, 30)], dst = [...p.data.subarray(30, 34)];
        expect([src, dst]).toContainEqual(want);
      }
    }
  });
});
