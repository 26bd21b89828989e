/**
 * The ring follower on the real native ring (root): libpcap on a veth pair, real TLS handshakes
 * (curl against openssl s_server, IPv4 and IPv6) among bulk TCP, the follower polling on a 20 ms
 * clock while the capture thread writes. The analyzer fed through it must give, flow for flow,
 * the records `analyze` gives on tcpdump's capture of the same traffic.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CAPTURE_DEFAULTS, LiveCapture } from '../../src/sources/live-capture.js';
import { Analyzer } from '../../src/handshake/analyzer.js';
import { recordToJson } from '../../src/handshake/record-json.js';
import { RingFollower } from '../../src/live/ring-follower.js';
import { analyzeCaptures } from '../../src/index.js';
import { createVethPair, IS_ROOT, killAllTracked, NEEDS_ROOT, run, settle, sleep, spawnTracked, startTcpdump, stopTcpdump, type Proc, type VethPair } from '../helpers/netns.js';

async function curlTls(host: string, port: number): Promise<void> {
  const p = spawnTracked('curl', 'curl', ['-sS', '-k', '-g', '--max-time', '10', '-o', '/dev/null', '--resolve', `app.example:${port}:${host}`, `https://app.example:${port}/`]);
  const e = await p.wait(15_000);
  expect(e.code, p.stderr).toBe(0);
}

/** Bulk: a TCP connection to the namespace's discard-ish server carrying n bytes. */
function bulk(host: string, port: number, n: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect({ host, port }, () => { s.end(Buffer.alloc(n, 0x61)); });
    s.on('error', reject);
    s.on('close', () => resolve());
    s.resume();
  });
}

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'ring follower on a live capture' : `ring follower on a live capture (skipped: ${NEEDS_ROOT})`, () => {
  let pair: VethPair;
  let dir: string;
  const TLS_PORT = 4433, SINK_PORT = 5009;

  beforeAll(async () => {
    pair = createVethPair('f');
    dir = mkdtempSync(join(tmpdir(), 'ssit-follow-'));
    run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'key.pem'),
      '-out', join(dir, 'cert.pem'), '-subj', '/CN=app.example', '-days', '2']);
    const tls: Proc = pair.spawnInNs('openssl s_server', 'openssl', ['s_server', '-accept', String(TLS_PORT), '-www', '-cert', join(dir, 'cert.pem'), '-key', join(dir, 'key.pem')]);
    const sink: Proc = pair.spawnInNs('sink', process.execPath, ['-e',
      `require('net').createServer((s) => { s.resume(); s.on('end', () => s.end()); s.on('error', () => {}); }).listen(${SINK_PORT}, '::', () => console.log('listening'));`]);
    await tls.waitFor(/ACCEPT/, 10_000, 'stdout');
    await sink.waitFor(/listening/, 10_000, 'stdout');
    await settle();
  });

  afterAll(async () => {
    await killAllTracked();
    await pair?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gives analyze\'s records for every handshake while the capture thread writes', async () => {
    const pcap = join(dir, 'ref.pcap');
    const td = await startTcpdump(pair.hostDev, pcap);
    const cap = LiveCapture.open({ ...CAPTURE_DEFAULTS, device: pair.hostDev, ringSize: 8 * 1024 * 1024 });
    const live: string[] = [];
    const analyzer = new Analyzer({ slowMs: 200, keepPackets: false, flowFilter: null, onRecord: (r) => live.push(recordToJson(r)) });
    const follower = new RingFollower(cap, analyzer);
    const clock = setInterval(() => follower.poll(), 20);
    let stopped = false;
    try {
      const jobs: Promise<void>[] = [];
      for (let i = 0; i < 6; i++) {
        jobs.push(curlTls(i % 2 ? `[${pair.ns6}]` : pair.ns4, TLS_PORT));
        jobs.push(bulk(i % 2 ? pair.ns6 : pair.ns4, SINK_PORT, 200_000));
      }
      await Promise.all(jobs);
      await sleep(400); // last ACKs and FINs, and libpcap's 50 ms block timeout
      clearInterval(clock);
      follower.poll();
      cap.stop();
      stopped = true;
    } finally {
      clearInterval(clock);
      if (!stopped) cap.stop(); // a failed client must not leave the capture thread writing
    }
    analyzer.finish();
    await stopTcpdump(td);
    const offline = (await analyzeCaptures([pcap], { slowMs: 200 })).records.map(recordToJson);
    // Two packet sockets stamp the same packet up to a few µs apart (live-capture.test.ts allows
    // 100 µs), so timelines are compared within that; everything else must be equal.
    type Rec = { client: string; server: string; timeline: Record<string, number | null>; phases_ms: unknown };
    const parse = (xs: string[]): Map<string, Rec> => new Map(xs.map((j) => { const r = JSON.parse(j) as Rec; return [`${r.client} ${r.server}`, r]; }));
    const a = parse(live), b = parse(offline);
    expect([...a.keys()].sort()).toEqual([...b.keys()].sort());
    expect(a.size).toBe(6);
    for (const [k, r] of a) {
      const o = b.get(k)!;
      for (const [point, t] of Object.entries(r.timeline)) {
        const u = o.timeline[point]!;
        if (t === null || u === null) expect(t, `${k} ${point}`).toBe(u);
        else expect(Math.abs(t - u), `${k} ${point}`).toBeLessThanOrEqual(100);
      }
      const rest = (x: Rec): unknown => ({ ...x, timeline: undefined, phases_ms: undefined });
      expect(rest(r), k).toEqual(rest(o));
    }
    expect(follower.stats.overruns).toBe(0);
    expect(follower.stats.suspect).toBe(0);
    expect(follower.stats.corrupt).toBe(0);
    expect(follower.stats.records).toBeGreaterThan(100);
  }, 60_000);
});
