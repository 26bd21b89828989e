/**
 * Captures that miss the start of flows: the SYN, or everything up to the ServerHello. Derived at
 * test time from a real capture with tshark display filters, so nothing new is committed.
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeCaptures, type FlowRecord } from '../../src/index.js';
import { CAPTURES, tempDir } from '../helpers/cli.js';

const SRC = join(CAPTURES, 'client-think.pcap');
let dir: string;
let full: FlowRecord[];

function filtered(name: string, filter: string): string {
  const out = join(dir, name);
  execFileSync('tshark', ['-r', SRC, '-Y', filter, '-w', out], { stdio: 'ignore' });
  return out;
}

beforeAll(async () => {
  dir = tempDir();
  full = (await analyzeCaptures([SRC])).records;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('partial captures', () => {
  it('without SYNs: phases from the first ACK on, same verdicts, syn/syn_ack missing', async () => {
    const { records } = await analyzeCaptures([filtered('nosyn.pcap', '!(tcp.flags.syn==1)')]);
    expect(records).toHaveLength(full.length);
    for (const r of records) {
      const f = full.find((x) => x.client === r.client)!;
      expect(r.missing).toEqual(expect.arrayContaining(['syn', 'syn_ack']));
      expect(r.timeline.syn).toBeNull();
      expect(r.timeline.client_hello).toBe(f.timeline.client_hello);
      expect(r.timeline.done).toBe(f.timeline.done);
      expect(r.phases_ms.client_think).toBe(f.phases_ms.client_think);
      if (f.slow) expect(r.verdict).toBe(f.verdict);
      expect(r.notes.join(' ')).toMatch(/capture starts after the SYN/);
    }
  });

  it('starting mid-handshake (no SYN, no ClientHello): measured from the ServerHello, says what is unknown', async () => {
    const { records } = await analyzeCaptures([filtered('mid.pcap', '!(tcp.flags.syn==1) && !(tls.handshake.type==1)')]);
    expect(records).toHaveLength(full.length);
    for (const r of records) {
      const f = full.find((x) => x.client === r.client)!;
      expect(r.timeline.client_hello).toBeNull();
      expect(r.missing).toEqual(expect.arrayContaining(['syn', 'client_hello', 'client_hello_end']));
      expect(r.timeline.server_hello).toBe(f.timeline.server_hello);
      expect(r.timeline.done).toBe(f.timeline.done);
      expect(r.phases_ms.server_hello_delay).toBeNull();
      expect(r.phases_ms.client_think).toBe(f.phases_ms.client_think);
      expect(r.tls_version).toBe(f.tls_version);
      if (f.slow) expect(r.verdict).toBe('client');
      expect(r.notes.join(' ')).toMatch(/mid-handshake/);
    }
  });

  it('a capture that ends before the handshake completes: incomplete, done missing', async () => {
    const slow = full.filter((r) => r.slow)[0]!;
    const cutSec = ((slow.timeline.client_ack! + 1000) / 1e6).toFixed(6);
    const { records } = await analyzeCaptures([filtered('cut.pcap', `frame.time_epoch < ${cutSec}`)]);
    const r = records.find((x) => x.client === slow.client)!;
    expect(r.verdict).toBe('incomplete');
    expect(r.timeline.done).toBeNull();
    expect(r.missing).toContain('done');
    expect(r.phases_ms.total).toBeNull();
    expect(r.notes.join(' ')).toMatch(/not completed within the capture/);
  });
});
