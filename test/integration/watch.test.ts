/**
 * `slowshake watch` end to end on real parts (issue 9 "Tests (real parts)"): a veth between two
 * namespaces, the demo's TLS edge in the server namespace logging slow handshakes to the real
 * journal, real clients (curl, openssl s_client), delays from the server (SNI callback) and from
 * the network (NFQUEUE delay line), watch capturing on the server's veth with its metrics on that
 * namespace's loopback, scraped over HTTP with curl and checked by promtool.
 *
 * Two edges: :443 logs every handshake slower than 150 ms (the proxy's event), :8443 logs none,
 * so watch must find the slow handshakes there by itself.
 *
 * The kernel filter is left at its default (auto): every assertion holds with full capture and
 * with the per-flow filter (a flow's handshake packets and its FIN/RST pass either way).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { expectOneLineError, runCli } from '../helpers/cli.js';
import { CLIENT_IP, EdgeLab } from '../helpers/edge.js';
import { ensureJournald, stockJournalPermissions, type JournaldHandle } from '../helpers/journald.js';
import { IS_ROOT, NEEDS_ROOT, sleep, tsharkWarnings, type Proc } from '../helpers/netns.js';
import { metric, pinoLines, promtool, scrape, scrapeUntil, startWatch, waitLines } from '../helpers/watch.js';

const LOGGED = 443; // the edge logs slow handshakes (>= 150 ms) to the journal
const QUIET = 8443; // the edge logs nothing
const dirs: string[] = [];
const tmp = (p: string): string => { const d = mkdtempSync(join(tmpdir(), p)); dirs.push(d); return d; };

interface Line {
  level: number; msg: string; client: string; server: string; sni: string | null; slow: boolean; verdict: string; pcap?: string; reason?: string;
  phases_ms: Record<string, number | null>; timeline: Record<string, number | null>;
  event?: { message: string }; event_elapsed_ms?: number | null; proxy_lag_ms?: number | null;
}

describe('watch: config errors (no capture needed)', () => {
  it('a bad TOML value: one line naming the file, the key and the value, exit 2', () => {
    const d = tmp('ss-wcfg-');
    const f = join(d, 'bad.toml');
    writeFileSync(f, '[handshake]\nslow_threshold = "fast"\n');
    const r = runCli(['watch', '--config', f, '-i', 'lo', '--duration', '1s']);
    expectOneLineError(r, new RegExp(`^slowshake: ${f}: handshake\\.slow_threshold: expected .+, got "fast"$`));
  });

  it('an unknown key: one line naming it with a hint, exit 2', () => {
    const f = join(tmp('ss-wcfg-'), 'typo.toml');
    writeFileSync(f, '[output]\ndirectroy = "/tmp/x"\n');
    expectOneLineError(runCli(['watch', '--config', f, '-i', 'lo']), /^slowshake: \S+: output\.directroy: unknown key \(did you mean output\.directory\?\), got "\/tmp\/x"$/);
  });

  it('a bad flag value names the flag, exit 2', () => {
    expectOneLineError(runCli(['watch', '-i', 'lo', '--metrics-listen', 'localhost']), /^slowshake: --metrics-listen: expected ADDR:PORT .*, got "localhost"$/);
  });

  it('no interface: one line saying how to give one, exit 2 (an empty SLOWSHAKE_CONFIG is no file, as an EnvironmentFile\'s blank value; it was read as the file "")', () => {
    expectOneLineError(runCli(['watch', '--out', join(tmp('ss-wcfg-'), 'out')]), /^slowshake: watch: no interface: give -i IFACE, or capture\.interface in the config file$/);
    expectOneLineError(runCli(['watch', '--out', join(tmp('ss-wcfg-'), 'out')], { env: { SLOWSHAKE_CONFIG: '' } }),
      /^slowshake: watch: no interface: give -i IFACE, or capture\.interface in the config file$/);
  });
});

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'watch on a live edge' : `watch on a live edge (skipped: ${NEEDS_ROOT})`, () => {
  let jd: JournaldHandle | undefined;
  let lab: EdgeLab | undefined;
  const ident = `ss-watch-${process.pid}`;

  beforeAll(async () => {
    jd = await ensureJournald();
    stockJournalPermissions();
    lab = new EdgeLab('w');
    await lab.startEdge(ident, LOGGED, { 'slow-server.example': 300 }, 150);
    await lab.startEdge(`${ident}-quiet`, QUIET, { 'slow-server.example': 300 }, 60_000);
  });

  afterAll(async () => {
    await lab?.destroy();
    await jd?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function curl(sni: string, port: number, clientPort: number): Promise<void> {
    const c = lab!.curl(sni, port, clientPort);
    const e = await c.wait(30_000);
    expect(e.code, c.stderr).toBe(0);
    expect(c.stdout).toBe('200');
  }

  async function sClient(port: number, clientPort: number): Promise<void> {
    const c = lab!.sClient(`203.0.113.1:${port}`, `${CLIENT_IP}:${clientPort}`);
    const e = await c.wait(30_000);
    expect(e.code, c.stderr).toBe(0);
    expect(c.stdout).toContain('hello from the slowshake demo edge');
  }

  /** The packets of a pcap (tshark), as "src_port dst_port flags" per frame. */
  function frames(pcap: string): string[] {
    const t = spawnSync('tshark', ['-r', pcap, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.flags.str'], { encoding: 'utf8' });
    expect(t.status, t.stderr).toBe(0);
    expect(tsharkWarnings(t.stderr)).toEqual([]);
    return t.stdout.trim().split('\n');
  }

  it('counts every handshake driven through the veth (fast and delayed) once, promtool accepts the scrape, and every slow one gets evidence, one log line, and the proxy\'s figure where it logged one', async () => {
    const out = join(tmp('ss-watch-'), 'out');
    const state = join(tmp('ss-wstate-'), 'state');
    const w = await startWatch(lab!, ['--identifier', ident, '--out', out, '--state-dir', state, '--metrics-listen', '127.0.0.1:19464', '--hold', '1s'],
      { env: { SLOWSHAKE_NETWORK_REBALANCE: '2s' } });
    // Before any traffic: a clean scrape with every handshake series at zero.
    const first = await scrape(lab!, 19464);
    expect(promtool(first)).toEqual({ status: 0, out: '' });
    expect(metric(first, 'slowshake_handshakes_total')).toBe(0);

    // 3 fast, 3 slow: server delay logged by the proxy, server delay it did not log, network delay it did not log.
    await curl('app.example', LOGGED, 41001);
    await curl('app.example', QUIET, 41002);
    await sClient(LOGGED, 41003);
    await curl('slow-server.example', LOGGED, 41004);
    await curl('slow-server.example', QUIET, 41005);
    const dl = await lab!.delayPort(41006, 70); // both directions: RTT +140 ms, the handshake takes two RTTs and more
    await curl('app.example', QUIET, 41006);
    await dl.stop();

    const text = await scrapeUntil(lab!, 19464, (t) => metric(t, 'slowshake_handshakes_total') >= 6 && metric(t, 'slowshake_evidence_pcaps_written_total') >= 3, 20_000);
    expect(promtool(text)).toEqual({ status: 0, out: '' });
    expect(metric(text, 'slowshake_handshakes_total')).toBe(6);
    expect(metric(text, 'slowshake_handshakes_total', { slow: 'true' })).toBe(3);
    expect(metric(text, 'slowshake_handshakes_total', { slow: 'false' })).toBe(3);
    expect(metric(text, 'slowshake_handshakes_total', { slow: 'true', verdict: 'server' })).toBe(2);
    expect(metric(text, 'slowshake_handshakes_total', { slow: 'true', verdict: 'network' })).toBe(1);
    expect(metric(text, 'slowshake_handshake_duration_seconds_count')).toBe(6);
    // Slow ones by network: the client's /24 has no label yet, so all three are "other".
    expect(metric(text, 'slowshake_slow_handshakes_by_network_total', { network: 'other' })).toBe(3);
    expect(metric(text, 'slowshake_slow_handshakes_by_network_total', { network: 'other', verdict: 'network' })).toBe(1);
    expect(metric(text, 'slowshake_capture_packets_total')).toBeGreaterThan(6 * 8);
    expect(metric(text, 'slowshake_capture_kernel_drops_total')).toBe(0);
    expect(metric(text, 'slowshake_evidence_write_failures_total')).toBe(0);
    expect(metric(text, 'slowshake_evidence_disk_full')).toBe(0);

    // One pino line per slow handshake, the proxy-logged one with the proxy's figure.
    const lines = await waitLines<Line>(w, 3, 10_000);
    await sleep(1500); // a second line for the same flow (evidence written twice) would come within the hold
    const all = pinoLines<Line>(w);
    expect(all.map((l) => l.client).sort()).toEqual([`${CLIENT_IP}:41004`, `${CLIENT_IP}:41005`, `${CLIENT_IP}:41006`]);
    expect(lines).toHaveLength(3);
    const by = new Map(all.map((l) => [Number(l.client.split(':')[1]), l]));
    for (const [port, l] of by) {
      expect(l.level).toBe(30);
      expect(l.slow).toBe(true);
      expect(l.server).toBe(`203.0.113.1:${port === 41004 ? LOGGED : QUIET}`);
      expect(l.phases_ms.total).toBeGreaterThanOrEqual(200);
      expect(l.reason).toBeUndefined();
      // Evidence: a pcapng tshark reads holding this flow's packets only, SYN to FIN, and its record beside it.
      expect(l.pcap, JSON.stringify(l)).toBeDefined();
      expect(dirname(l.pcap!)).toBe(out);
      expect(l.pcap).toMatch(/\.pcapng$/);
      const f = frames(l.pcap!);
      expect(f.length).toBeGreaterThanOrEqual(8);
      for (const x of f) expect(x.split('\t').slice(0, 2).sort()).toEqual([String(port), String(port === 41004 ? LOGGED : QUIET)].sort());
      expect(f[0]!.split('\t')[2]).toMatch(/S/); // the SYN
      expect(f.some((x) => /F/.test(x.split('\t')[2]!))).toBe(true);
      const json = l.pcap!.replace(/\.pcapng$/, '.json');
      expect(existsSync(json)).toBe(true);
      const rec = JSON.parse(readFileSync(json, 'utf8')) as Line;
      expect(rec.client).toBe(l.client);
      expect(rec.pcap).toBe(l.pcap);
      expect(rec.phases_ms).toEqual(l.phases_ms);
    }
    const logged = by.get(41004)!;
    expect(logged.msg).toBe('slow handshake (proxy event)');
    expect(logged.verdict).toBe('server');
    expect(logged.event!.message).toContain(`remote_addr=${CLIENT_IP}:41004 `);
    expect(logged.event_elapsed_ms).toBeGreaterThanOrEqual(300);
    expect(typeof logged.proxy_lag_ms).toBe('number');
    expect(JSON.parse(readFileSync(logged.pcap!.replace(/\.pcapng$/, '.json'), 'utf8')).event_elapsed_ms).toBe(logged.event_elapsed_ms);
    for (const port of [41005, 41006]) {
      const l = by.get(port)!;
      expect(l.msg).toBe('slow handshake');
      expect(l.event).toBeUndefined();
      expect(l.event_elapsed_ms ?? null).toBeNull();
    }
    expect(by.get(41005)!.verdict).toBe('server');
    expect(by.get(41006)!.verdict).toBe('network');

    // The rebalance (every 2 s here) gives the client's network a label; later slow ones count under it.
    await scrapeUntil(lab!, 19464, (t) => t.includes('slowshake_slow_handshakes_by_network_total{network="198.51.100.0/24"'), 10_000, 'a label for 198.51.100.0/24');
    await curl('slow-server.example', QUIET, 41007);
    const after = await scrapeUntil(lab!, 19464, (t) => metric(t, 'slowshake_handshakes_total') >= 7, 10_000);
    expect(promtool(after)).toEqual({ status: 0, out: '' });
    expect(metric(after, 'slowshake_handshakes_total')).toBe(7);
    expect(metric(after, 'slowshake_slow_handshakes_by_network_total', { network: '198.51.100.0/24' })).toBe(1);
    expect(metric(after, 'slowshake_slow_handshakes_by_network_total', { network: '198.51.100.0/24', verdict: 'server' })).toBe(1);
    expect(metric(after, 'slowshake_slow_handshakes_by_network_total', { network: 'other' })).toBe(3);

    const e = await w.stop('SIGTERM', 8000);
    expect(e.code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/^Handshakes: 7 measured, 4 slow /m);
    expect(w.stderr).not.toMatch(/^\s+at /m);
    expect(basename(out)).toBe('out');
  });
});
