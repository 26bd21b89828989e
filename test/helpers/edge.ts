/**
 * A throwaway edge for the end-to-end spot-check tests (root only): two network namespaces joined
 * by a veth pair, the demo's TLS edge (scripts/demo/edge-server.mjs, logging slow handshakes to the
 * real journal) in the server namespace, clients in the client namespace, and the helpers that
 * inject delay:
 *
 *   ns ssit-<pid>-<tag>c: <dev>c 198.51.100.2/24   ── veth ──   ns ssit-<pid>-<tag>s: <dev>s 203.0.113.1/24
 *      clients (curl, openssl), relay (client think time),        edge server (SNI delay), capture
 *      NFQUEUE rules + delay line (network delay)
 *
 * Names carry the creating PID, so netns.ts's removeLeftovers() also removes the namespaces of a
 * run that was killed. Every process is a tracked `Proc` (killed at worker exit if a test never
 * reached its afterAll); destroy() stops them by PID and deletes both namespaces, which takes the
 * iptables rules with them.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { CLI, ROOT } from './cli.js';
import { Proc, removeLeftovers, run, sleep } from './netns.js';

export const EDGE_SCRIPT = join(ROOT, 'scripts/demo/edge-server.mjs');
export const RELAY_SCRIPT = join(ROOT, 'scripts/gen-captures/relay.mjs');
export const STORM_SCRIPT = join(ROOT, 'scripts/demo/journal-storm.py');
export const DELAYLINE = join(ROOT, 'scripts/delayline/delayline');

export const CLIENT_IP = '198.51.100.2';
export const SERVER_IP = '203.0.113.1';

const LABS = new Set<EdgeLab>();
process.on('exit', () => { for (const l of LABS) l.destroySync(); });

/** Builds the delay line when it is missing (scripts/delayline, needs libnetfilter-queue-dev). */
export function ensureDelayline(): void {
  if (!existsSync(DELAYLINE)) run('make', ['-s', '-C', join(ROOT, 'scripts/delayline')], { timeoutMs: 60_000 });
}

export class EdgeLab {
  readonly nsClient: string;
  readonly nsServer: string;
  readonly devClient: string;
  readonly devServer: string;
  readonly procs: Proc[] = [];
  #queue = 0;

  constructor(tag: string) {
    if (!/^[a-z0-9]{1,2}$/.test(tag)) throw new Error(`bad tag ${tag}`);
    removeLeftovers();
    this.nsClient = `ssit-${process.pid}-${tag}c`;
    this.nsServer = `ssit-${process.pid}-${tag}s`;
    this.devClient = `e${process.pid}${tag}c`;
    this.devServer = `e${process.pid}${tag}s`;
    LABS.add(this);
    try {
      run('ip', ['netns', 'add', this.nsClient]);
      run('ip', ['netns', 'add', this.nsServer]);
      run('ip', ['link', 'add', this.devClient, 'netns', this.nsClient, 'type', 'veth', 'peer', 'name', this.devServer, 'netns', this.nsServer]);
      const sides = [[this.nsClient, this.devClient, `${CLIENT_IP}/24`, '203.0.113.0/24'], [this.nsServer, this.devServer, `${SERVER_IP}/24`, '198.51.100.0/24']] as const;
      for (const [ns, dev, addr, peer] of sides) {
        run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
        // Offloads off: segments on the wire are MTU-sized, as a real edge's NIC hands them to libpcap.
        run('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
        run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${dev}.disable_ipv6=1`]);
        run('ip', ['-n', ns, 'link', 'set', dev, 'up']);
        run('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
        run('ip', ['-n', ns, 'route', 'add', peer, 'dev', dev]);
      }
    } catch (err) {
      this.destroySync();
      throw err;
    }
  }

  /** Starts a tracked process in a namespace; `input` is written to its stdin (then closed). */
  spawn(name: string, side: 'client' | 'server', cmd: string, args: string[], input = ''): Proc {
    const ns = side === 'client' ? this.nsClient : this.nsServer;
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdin.on('error', () => { /* exited before reading */ });
    child.stdin.end(input);
    const p = new Proc(name, child);
    this.procs.push(p);
    return p;
  }

  /** The edge TLS server on SERVER_IP:port; resolves once it listens. */
  async startEdge(identifier: string, port: number, delays: Record<string, number>, slowMs = 150, stalls: Record<string, number> = {}): Promise<Proc> {
    const p = this.spawn('edge', 'server', process.execPath, [EDGE_SCRIPT, '--listen', `${SERVER_IP}:${port}`, '--identifier', identifier,
      '--slow-ms', String(slowMs), ...Object.entries(delays).flatMap(([sni, ms]) => ['--delay-sni', `${sni}=${ms}`]),
      ...Object.entries(stalls).flatMap(([sni, ms]) => ['--stall-sni', `${sni}=${ms}`])]);
    await p.waitFor(/edge: ready/, 15_000, 'stdout');
    return p;
  }

  /**
   * `slowshake capture` on the server-side veth inside the server namespace. Resolves once its
   * journalctl child has the journal open (entries written before that would not be seen).
   */
  async startCapture(args: string[]): Promise<Proc> {
    const p = this.spawn('capture', 'server', process.execPath, [CLI, 'capture', '-i', this.devServer, ...args]);
    await p.waitFor(/Capturing on/, 15_000, 'stderr');
    const end = Date.now() + 5000;
    for (;;) {
      const j = journalctlChild(p.pid);
      if (j !== null && fdTargets(j).some((f) => f.endsWith('.journal'))) break;
      if (p.exit) throw new Error(`capture exited early: ${p.stderr}`);
      if (Date.now() > end) throw new Error(`capture (pid ${p.pid}): no journalctl child with the journal open after 5 s`);
      await sleep(20);
    }
    await sleep(200);
    return p;
  }

  /** Delays both directions of client port `port` by `ms` (NFQUEUE rules + delay line). */
  async delayPort(port: number, ms: number): Promise<Proc> {
    const q = String(++this.#queue);
    for (const [chain, dir] of [['OUTPUT', '--sport'], ['INPUT', '--dport']] as const) {
      run('ip', ['netns', 'exec', this.nsClient, 'iptables', '-A', chain, '-p', 'tcp', dir, String(port), '-j', 'NFQUEUE', '--queue-num', q]);
    }
    const p = this.spawn(`delayline ${port}`, 'client', DELAYLINE, ['--queue', q, '--delay-ms', String(ms)]);
    await p.waitFor(/ready/, 10_000, 'stderr');
    return p;
  }

  /** A relay on 127.0.0.1:listenPort in the client namespace that holds the client's second flight. */
  async thinkRelay(listenPort: number, serverPort: number, clientPort: number, holdMs: number): Promise<Proc> {
    const p = this.spawn(`relay ${clientPort}`, 'client', process.execPath, [RELAY_SCRIPT, '--mode', 'client', '--listen', `127.0.0.1:${listenPort}`,
      '--connect', `${SERVER_IP}:${serverPort}`, '--local', `${CLIENT_IP}:${clientPort}`, '--hold-ms', String(holdMs), '--once']);
    await p.waitFor(/ready/, 10_000, 'stdout');
    return p;
  }

  /** curl from the client namespace (certificate not checked), pinned source port when given. */
  curl(sni: string, serverPort: number, clientPort: number | null, path = '/', extra: string[] = []): Proc {
    return this.spawn(`curl ${clientPort ?? '-'} ${sni}`, 'client', 'curl', ['-sSk', '--max-time', '20', '-o', '/dev/null', '-w', '%{http_code}',
      ...(clientPort ? ['--local-port', String(clientPort)] : []), '--resolve', `${sni}:${serverPort}:${SERVER_IP}`, ...extra, `https://${sni}:${serverPort}${path}`]);
  }

  /** openssl s_client from the client namespace, sending one HTTP/1.0 request. */
  sClient(connect: string, bind: string | null, extra: string[] = []): Proc {
    return this.spawn(`s_client ${bind ?? connect}`, 'client', 'openssl', ['s_client', '-connect', connect, ...(bind ? ['-bind', bind] : []),
      '-servername', 'app.example', '-quiet', ...extra], 'GET / HTTP/1.0\r\n\r\n');
  }

  async destroy(): Promise<void> {
    await Promise.all(this.procs.map((p) => p.stop(p.name === 'capture' ? 'SIGINT' : 'SIGTERM', 3000)));
    this.destroySync();
  }

  /** Synchronous teardown: SIGKILL whatever still runs in the namespaces, delete them. */
  destroySync(): void {
    for (const p of this.procs) if (!p.exit && p.pid > 0) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const ns of [this.nsClient, this.nsServer]) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
      for (const pid of pids.split('\n').map(Number).filter((n) => n > 0)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
      spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
    }
    LABS.delete(this);
  }
}

/** PID of the journalctl child of `ppid`, or null. */
export function journalctlChild(ppid: number): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(readFileSync(`/proc/${d}/stat`, 'utf8'));
      if (m && m[1] === 'journalctl' && Number(m[2]) === ppid) return Number(d);
    } catch { /* exited meanwhile */ }
  }
  return null;
}

/** Where the open file descriptors of `pid` point (empty when it is gone). */
export function fdTargets(pid: number): string[] {
  try {
    return readdirSync(`/proc/${pid}/fd`).map((f) => { try { return readlinkSync(`/proc/${pid}/fd/${f}`); } catch { return ''; } });
  } catch {
    return [];
  }
}

/** The JSON records in `text` (capture --format ndjson's stdout; other lines are skipped). */
export function ndjson<T = Record<string, unknown>>(text: string): T[] {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as T);
}

/** Waits until `cap` has printed `n` ndjson records; fails when it exits first or after `ms`. */
export async function waitRecords<T = Record<string, unknown>>(cap: Proc, n: number, ms: number): Promise<T[]> {
  const end = Date.now() + ms;
  for (;;) {
    const recs = ndjson<T>(cap.stdout);
    if (recs.length >= n) return recs;
    if (cap.exit) throw new Error(`capture exited with ${recs.length}/${n} records: ${cap.stderr.slice(-800)}`);
    if (Date.now() > end) throw new Error(`capture wrote ${recs.length}/${n} records in ${ms} ms; stderr: ${cap.stderr.slice(-800)}`);
    await sleep(50);
  }
}

/** VmRSS of a process in KiB, or null when it is gone. */
export function rssKiB(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}
