import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { readFileSync, writeFileSync, statSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { execFileSync } from 'node:child_process';
import { CAPTURES, expectOneLineError, runCli, tempDir } from '../helpers/cli.js';

const THINK = join(CAPTURES, 'client-think.pcap');
const FAST = join(CAPTURES, 'fast-tls13.pcap');

let dir: string;
beforeAll(() => { dir = tempDir(); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });


describe('analyze: bad input', () => {
  it('missing file names the file', () => {
    expectOneLineError(runCli(['analyze', join(dir, 'nope.pcap')]), /nope\.pcap: byte 0: cannot open: no such file/);
  });
  it('non-capture file names the file, offset and magic', () => {
    const f = join(dir, 'text.pcap');
    writeFileSync(f, 'hello world, not a capture\n');
    expectOneLineError(runCli(['analyze', f]), /text\.pcap: byte 0: not a pcap or pcapng file \(magic 0x68656c6c\)/);
  });
  it('empty and header-truncated files', () => {
    const e = join(dir, 'empty.pcap');
    writeFileSync(e, '');
    expectOneLineError(runCli(['analyze', e]), /empty\.pcap: byte 0: empty file/);
    const t = join(dir, 'short.pcap');
    writeFileSync(t, readFileSync(FAST).subarray(0, 20));
    expectOneLineError(runCli(['analyze', t]), /short\.pcap: byte 0: truncated file header \(20 of 24 bytes\)/);
  });
  it('a directory', () => {
    expectOneLineError(runCli(['analyze', dir]), /cannot read: is a directory/);
  });
  it('a corrupt record length names the byte offset, keeps what came before, exits 2', () => {
    const d = Buffer.from(readFileSync(FAST));
    let o = 24;
    for (let i = 0; i < 10; i++) o += 16 + d.readUInt32LE(o + 8);
    d.writeUInt32LE(0x7fffffff, o + 8);
    const f = join(dir, 'corrupt.pcap');
    writeFileSync(f, d);
    const r = runCli(['analyze', f, '--format', 'ndjson']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`corrupt.pcap: byte ${o}: record length 2147483647 exceeds the maximum`);
    expect(r.stderr).toMatch(/Summary: 10 packets/);
    expect(r.stderr).not.toMatch(/\n\s+at /);
  });
  it('a truncated last packet is reported and the rest analysed (exit 0)', () => {
    const full = readFileSync(FAST);
    const f = join(dir, 'cut.pcap');
    writeFileSync(f, full.subarray(0, full.length - 10));
    const r = runCli(['analyze', f, '--format', 'ndjson']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/cut\.pcap: byte \d+: truncated last record \(\d+ of \d+ bytes\)/);
    const all = runCli(['analyze', FAST, '--format', 'ndjson']);
    expect(r.stdout.trim().split('\n')).toHaveLength(all.stdout.trim().split('\n').length);
  });
  it('a truncated gzip stream is reported and what decompressed is analysed', () => {
    const gz = gzipSync(readFileSync(FAST));
    const f = join(dir, 'cut.pcap.gz');
    writeFileSync(f, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const r = runCli(['analyze', f, '--format', 'ndjson']);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/gzip stream ends early/);
  });
  it('bad options name the option', () => {
    expectOneLineError(runCli(['analyze', '--slow', 'abc', FAST]), /--slow: expected a number of milliseconds/);
    expectOneLineError(runCli(['analyze', '--format', 'xml', FAST]), /--format: expected table, json or ndjson, got "xml"/);
    expectOneLineError(runCli(['analyze', '--ladder', FAST]), /--ladder needs --flow/);
    expectOneLineError(runCli(['analyze', '--flow', 'not-an-endpoint', FAST]), /--flow: expected IP:PORT/);
    expectOneLineError(runCli(['analyze']), /no capture file given/);
    expectOneLineError(runCli(['frobnicate']), /unknown command "frobnicate"/);
    expectOneLineError(runCli(['analyze', '--events', join(dir, 'none.ndjson'), FAST]), /none\.ndjson: cannot read events: no such file/);
  });
  it('environment twins set options', () => {
    const r = runCli(['analyze', THINK], { env: { SLOWSHAKE_FORMAT: 'json', SLOWSHAKE_SLOW: '1000' } });
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { flows: { slow: boolean }[] };
    expect(j.flows.length).toBeGreaterThan(0);
    expect(j.flows.every((f) => !f.slow)).toBe(true);
  });
});

describe('analyze: outputs', () => {
  it('ndjson is the default off a terminal; json carries a summary; table sorts slowest first', () => {
    const nd = runCli(['analyze', THINK]);
    const lines = nd.stdout.trim().split('\n').map((l) => JSON.parse(l) as { slow: boolean; verdict: string });
    expect(lines.length).toBe(3);
    const j = JSON.parse(runCli(['analyze', THINK, '--format', 'json']).stdout) as { flows: unknown[]; summary: { tls_flows: number; malformed_packets: number } };
    expect(j.summary.tls_flows).toBe(3);
    expect(j.summary.malformed_packets).toBe(0);
    const t = runCli(['analyze', THINK, '--format', 'table']).stdout;
    expect(t).toMatch(/Slow TLS handshakes \(total >= 200 ms\): 2 shown, 2 slow of 3 TLS flows/);
    expect(t).toMatch(/Totals by verdict \(slow flows\): client 2/);
    const totals = [...t.matchAll(/^\S+\s+\S+\s+\S+\s+1\.[23]\s+([0-9.]+)/gm)].map((m) => Number(m[1]));
    expect(totals.length).toBe(2);
    expect(totals[0]).toBeGreaterThanOrEqual(totals[1]!);
  });

  it('stdin works', () => {
    const r = runCli(['analyze', '-', '--format', 'ndjson'], { input: readFileSync(THINK) });
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(3);
  });

  it('--out writes one 0600 pcap per slow flow in a 0700 directory, readable by tshark', () => {
    const out = join(dir, 'slow-flows', 'nested');
    const r = runCli(['analyze', THINK, '--out', out, '--format', 'ndjson']);
    expect(r.status).toBe(0);
    const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { slow: boolean; pcap?: string; client: string });
    const slow = recs.filter((x) => x.slow);
    expect(slow.length).toBe(2);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    const files = readdirSync(out);
    expect(files.filter((f) => f.startsWith('.'))).toEqual([]); // no temp files left
    expect(files.length).toBe(2);
    for (const rec of slow) {
      expect(rec.pcap).toBeDefined();
      expect(existsSync(rec.pcap!)).toBe(true);
      expect(statSync(rec.pcap!).mode & 0o777).toBe(0o600);
      const port = rec.client.split(':').pop();
      // tshark opens it without complaint and every packet belongs to the flow
      const lines = execFileSync('tshark', ['-r', rec.pcap!, '-T', 'fields', '-e', 'tcp.port'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .trim().split('\n');
      expect(lines.length).toBeGreaterThan(8);
      for (const l of lines) expect(l.split(',')).toContain(port);
      // the analysis of the written pcap gives the same phases
      const again = JSON.parse(runCli(['analyze', rec.pcap!, '--format', 'ndjson']).stdout.trim()) as { phases_ms: unknown; timeline: unknown };
      const orig = recs.find((x) => x.client === rec.client) as unknown as { phases_ms: unknown; timeline: unknown };
      expect(again.timeline).toEqual(orig.timeline);
      expect(again.phases_ms).toEqual(orig.phases_ms);
    }
    for (const rec of recs.filter((x) => !x.slow)) expect(rec.pcap).toBeUndefined();
  });

  it('--flow --ladder draws the flow with phase labels', () => {
    const recs = runCli(['analyze', THINK, '--format', 'ndjson']).stdout.trim().split('\n').map((l) => JSON.parse(l) as { client: string; slow: boolean });
    const slow = recs.find((r) => r.slow)!;
    const r = runCli(['analyze', THINK, '--flow', slow.client, '--ladder']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`${slow.client} (client)`);
    expect(r.stdout).toMatch(/SYN ─+▶\s+\[syn\]/);
    expect(r.stdout).toMatch(/┊ client_think 3\d\d\.\d{3} ms/);
    expect(r.stdout).toMatch(/\[client_finished, client_flight_end, done\]/);
    const none = runCli(['analyze', THINK, '--flow', '192.0.2.77:1', '--ladder']);
    expect(none.stderr).toMatch(/no TLS handshake with that endpoint/);
  });
});

describe('analyze --events', () => {
  it('attaches journal events to their flows, computes the proxy gap, reports events with no flow', () => {
    const recs = runCli(['analyze', THINK, '--format', 'ndjson']).stdout.trim().split('\n')
      .map((l) => JSON.parse(l) as { client: string; server: string; slow: boolean; timeline: { done: number; syn: number }; phases_ms: { total: number } });
    const slow = recs.filter((r) => r.slow);
    const [a, b] = slow as [typeof slow[0], typeof slow[0]];
    const port = (ep: string): string => ep.split(':').pop()!;
    // a: logfmt in MESSAGE, proxy measured 25 ms more than the wire; b: structured fields; plus junk
    const entries = [
      { __REALTIME_TIMESTAMP: String(a.timeline.done + 800), __CURSOR: 's=abc;i=1', SYSLOG_IDENTIFIER: 'edge-proxy',
        MESSAGE: `slow TLS handshake remote_addr=${a.client} local_addr=${a.server} sni=app.example elapsed_ms=${(a.phases_ms.total + 25).toFixed(3)}` },
      { __REALTIME_TIMESTAMP: String(b.timeline.done + 500), __CURSOR: 's=abc;i=2', MESSAGE: 'slow handshake',
        REMOTE_ADDR: b.client, LOCAL_ADDR: `0.0.0.0:${port(b.server)}`, ELAPSED_MS: `${(b.phases_ms.total / 1000).toFixed(4)}s` },
      // duplicate of a: attached once, counted as a duplicate
      { __REALTIME_TIMESTAMP: String(a.timeline.done + 900), __CURSOR: 's=abc;i=3', MESSAGE: `slow TLS handshake remote_addr=${a.client} elapsed_ms=300` },
      // no such flow
      { __REALTIME_TIMESTAMP: String(a.timeline.done), __CURSOR: 's=abc;i=4', MESSAGE: 'slow TLS handshake remote_addr=192.0.2.200:5555 elapsed=0.4s' },
      // binary MESSAGE (journalctl prints it as a byte array)
      { __REALTIME_TIMESTAMP: String(a.timeline.done), __CURSOR: 's=abc;i=5', MESSAGE: [...Buffer.from('unrelated \xff line')] },
    ];
    const f = join(dir, 'events.ndjson');
    writeFileSync(f, entries.map((e) => JSON.stringify(e)).join('\n') + '\nthis is not json\n');
    const r = runCli(['analyze', THINK, '--events', f, '--format', 'json']);
    expect(r.status).toBe(0);
    const j = JSON.parse(r.stdout) as { flows: { client: string; event?: { cursor: string }; event_elapsed_ms?: number; proxy_gap_ms?: number }[]; summary: { events: Record<string, number> } };
    const ra = j.flows.find((x) => x.client === a.client)!;
    expect(ra.event?.cursor).toBe('s=abc;i=1');
    expect(ra.proxy_gap_ms).toBeCloseTo(25, 2);
    const rb = j.flows.find((x) => x.client === b.client)!;
    expect(rb.event?.cursor).toBe('s=abc;i=2');
    expect(Math.abs(rb.proxy_gap_ms!)).toBeLessThan(0.1);
    expect(j.summary.events).toMatchObject({ events: 4, matched: 3, unmatched: 1, duplicates: 1, not_events: 1, malformed_lines: 1 });
    expect(r.stderr).toMatch(/event with no flow: line 4: client 192\.0\.2\.200:5555/);
    expect(r.stderr).toMatch(/line 6: not a JSON object/);
  });
});
