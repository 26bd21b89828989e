/**
 * `slowshake demo`: a spot check on a throwaway edge, in well under a minute (root only).
 *
 * 1. Preflight: root, the tools (ip, iptables, openssl, curl, logger, journalctl), the NFQUEUE
 *    delay line (built with make when missing). A journal: the running journald when a probe entry
 *    round-trips, else systemd-journald started by hand and stopped again at the end.
 * 2. Two network namespaces joined by a veth pair (documentation addresses): the edge
 *    (scripts/demo/edge-server.mjs, which logs handshakes slower than 150 ms to the journal) in
 *    one, the clients in the other.
 * 3. `slowshake capture` on the edge's veth inside the edge namespace, following the journal for
 *    the edge's SYSLOG_IDENTIFIER.
 * 4. Traffic: fast curl/openssl clients, and three slow ones with pinned source ports — network
 *    (the delay line holds that port's packets both ways), client (a relay in front of the client
 *    holds its second flight), server (the edge waits before answering one SNI).
 * 5. Once every logged event has its record (the post-event hold has passed), capture is stopped
 *    with SIGINT; its table is printed with an explanation and the verdicts are checked.
 * 6. Cleanup, also on failure and Ctrl-C: processes by PID, then the namespaces (the iptables
 *    rules live in the client namespace and vanish with it), then a journald we started. The
 *    per-flow pcaps stay in the output directory (0700).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensurePrivateDir } from '../sinks/pcap-writer.js';
import { JOURNAL_SOCKET } from '../sources/journald.js';
import { EXIT_INTERNAL, EXIT_OK, UsageError } from './errors.js';

const HELP = `usage: slowshake demo [--out DIR] [--report FILE]

Builds two throwaway network namespaces, runs a small TLS edge that logs slow handshakes to the
journal, runs "slowshake capture" on its interface, drives fast clients and three slow ones
(network delay, client think time, server delay), and prints the capture's table. Needs root.

  --out DIR      where the per-flow pcaps and records go (default: a new 0700 temp directory)
  --report FILE  capture also writes the HTML report of DIR at the end (capture --report)`;

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const EDGE = join(ROOT, 'scripts/demo/edge-server.mjs');
const RELAY = join(ROOT, 'scripts/gen-captures/relay.mjs');
const DELAYLINE = join(ROOT, 'scripts/delayline/delayline');
const CLI = join(ROOT, 'dist/cli/index.js');
const JOURNALD = ['/lib/systemd/systemd-journald', '/usr/lib/systemd/systemd-journald'];

const CLIENT_IP = '198.51.100.10', SERVER_IP = '203.0.113.10', PORT = 443;
const EDGE_SLOW_MS = 150, HOLD = '2s', BUDGET_MS = 55_000;
/** The injected slow flows: pinned client port → what was done to it. */
const SLOW = [
  { port: 41001, verdict: 'server', what: 'the edge waits 300 ms before answering SNI slow-server.example' },
  { port: 41002, verdict: 'network', what: 'the NFQUEUE delay line holds this port\'s packets 120 ms each way' },
  { port: 41003, verdict: 'client', what: 'a relay in front of the client holds its second flight 300 ms' },
] as const;
const FAST_CLIENTS = 8;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
/** Resolves when `p` does or after `ms`, whichever is first, leaving no timer behind. */
async function withTimeout(p: Promise<void>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => { t = setTimeout(r, ms); })]);
  clearTimeout(t);
}
const say = (line: string): void => { process.stderr.write(`demo: ${line}\n`); };

/** Runs a command to completion; throws with its stderr when it fails. */
function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', timeout: 15_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** A child process we started: output collected, stopped by PID. */
class Child {
  out = '';
  err = '';
  exit: { code: number | null; signal: string | null } | null = null;
  readonly exited: Promise<void>;
  constructor(readonly name: string, readonly proc: ChildProcess) {
    proc.stdout?.setEncoding('utf8').on('data', (d: string) => { this.out += d; });
    proc.stderr?.setEncoding('utf8').on('data', (d: string) => { this.err += d; });
    this.exited = new Promise((res) => {
      proc.on('error', (e) => { this.err += `\n${e.message}`; this.exit ??= { code: null, signal: null }; res(); });
      proc.on('close', (code, signal) => { this.exit = { code, signal }; res(); });
    });
  }

  get pid(): number { return this.proc.pid ?? -1; }

  async waitFor(re: RegExp, ms: number, stream: 'out' | 'err' = 'out'): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(stream === 'out' ? this.out : this.err)) {
      if (this.exit) throw new Error(`${this.name} exited (${this.exit.signal ?? this.exit.code}): ${this.err.trim().split('\n').slice(-3).join(' | ')}`);
      if (Date.now() > end) throw new Error(`${this.name}: no ${re} after ${ms} ms: ${this.err.trim().split('\n').slice(-3).join(' | ')}`);
      await sleep(20);
    }
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 2000): Promise<void> {
    if (this.exit || this.pid < 0) return;
    try { process.kill(this.pid, signal); } catch { /* gone */ }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    await this.exited;
    clearTimeout(t);
  }
}

/** Everything the demo creates, torn down in reverse by cleanup(). */
class Lab {
  readonly nsClient = `ssdemo-${process.pid}-c`;
  readonly nsServer = `ssdemo-${process.pid}-s`;
  readonly devClient = `ssd${process.pid}c`;
  readonly devServer = `ssd${process.pid}s`;
  readonly children: Child[] = [];
  readonly namespaces: string[] = [];
  journald: Child | null = null;
  closed = false;

  /** Starts `cmd` (inside `ns` when given) in its own process group, so Ctrl-C reaches only us. */
  start(name: string, ns: string | null, cmd: string, args: string[], input?: string): Child {
    if (this.closed) throw new Error('demo is shutting down');
    const argv = ns ? ['netns', 'exec', ns, cmd, ...args] : args;
    const c = new Child(name, spawn(ns ? 'ip' : cmd, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: true }));
    c.proc.stdin?.on('error', () => { /* the child may exit before reading */ });
    c.proc.stdin?.end(input ?? '');
    this.children.push(c);
    return c;
  }

  async cleanup(): Promise<void> {
    this.closed = true;
    await Promise.all(this.children.map((c) => c.stop(c.name === 'capture' ? 'SIGINT' : 'SIGTERM')));
    for (const ns of this.namespaces.splice(0)) deleteNamespace(ns);
    if (this.journald) { await this.journald.stop('SIGTERM', 3000); this.journald = null; }
  }

  /** Last resort at process exit (synchronous): SIGKILL what is left, delete the namespaces. */
  cleanupSync(): void {
    for (const c of this.children) if (!c.exit && c.pid > 0) { try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ } }
    for (const ns of this.namespaces.splice(0)) deleteNamespace(ns);
    if (this.journald && !this.journald.exit) { try { process.kill(this.journald.pid, 'SIGTERM'); } catch { /* gone */ } }
  }
}

function deleteNamespace(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout ?? '';
  for (const p of pids.split('\n').map(Number).filter((n) => n > 0)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
}

/** Namespaces of an earlier demo whose process is gone (killed with SIGKILL). */
function removeLeftovers(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const line of list.split('\n')) {
    const m = /^(ssdemo-(\d+)-[cs])\b/.exec(line);
    if (m && Number(m[2]) !== process.pid && !alive(Number(m[2]))) deleteNamespace(m[1]!);
  }
}

function preflight(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new UsageError('demo needs root: it creates network namespaces and captures packets (try: sudo node dist/cli/index.js demo)');
  }
  const missing = ['ip', 'iptables', 'openssl', 'curl', 'logger', 'journalctl']
    .filter((t) => spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0);
  if (missing.length) throw new UsageError(`demo: missing ${missing.join(', ')} (bash scripts/install.sh installs them)`);
  if (!existsSync(EDGE) || !existsSync(RELAY)) throw new UsageError(`demo: scripts/demo and scripts/gen-captures are needed (run from a checkout of slowshake)`);
  if (!existsSync(DELAYLINE)) {
    say('building the NFQUEUE delay line (make -C scripts/delayline)');
    const r = spawnSync('make', ['-s', '-C', dirname(DELAYLINE)], { encoding: 'utf8' });
    if (r.status !== 0 || !existsSync(DELAYLINE)) {
      throw new UsageError(`demo: the delay line ${DELAYLINE} is missing and make failed (${(r.stderr ?? r.error?.message ?? '').trim().split('\n')[0]}); ` +
        'install libnetfilter-queue-dev and build it: apt-get install libnetfilter-queue-dev && make -C scripts/delayline (or bash scripts/install.sh)');
    }
  }
}

/**
 * True when a probe entry written with logger can be read back within `ms`. A journald that was
 * just started creates its socket a moment later, so a missing socket is waited for, not a "no".
 */
function journalWorks(tag: string, ms: number): boolean {
  const end = Date.now() + ms;
  do {
    if (!existsSync(JOURNAL_SOCKET)) { spawnSync('sleep', ['0.05']); continue; }
    if (spawnSync('logger', ['--journald'], { input: `MESSAGE=slowshake demo probe\nSYSLOG_IDENTIFIER=${tag}\n` }).status === 0) {
      for (let i = 0; i < 10; i++) {
        const r = spawnSync('journalctl', ['-o', 'cat', '--no-pager', `SYSLOG_IDENTIFIER=${tag}`], { encoding: 'utf8' });
        if ((r.stdout ?? '').includes('probe')) return true;
        spawnSync('sleep', ['0.05']);
      }
    }
    spawnSync('sleep', ['0.1']);
  } while (Date.now() < end);
  return false;
}

async function ensureJournal(lab: Lab): Promise<string> {
  const tag = `slowshake-demo-probe-${process.pid}`;
  // A socket file can outlive its journald: only a round trip proves one runs.
  if (existsSync(JOURNAL_SOCKET) && journalWorks(tag, 300)) return 'the running systemd-journald';
  const bin = JOURNALD.find((p) => existsSync(p));
  if (!bin) throw new UsageError('demo: no journal is running and systemd-journald was not found (install systemd)');
  const j = new Child('systemd-journald', spawn(bin, [], { stdio: 'ignore', detached: true }));
  lab.journald = j;
  if (!journalWorks(tag, 10_000)) throw new Error(`systemd-journald (pid ${j.pid}) started but a probe entry did not come back`);
  return `systemd-journald started by hand (pid ${j.pid}; stopped at the end)`;
}

function buildNetwork(lab: Lab): void {
  removeLeftovers();
  const { nsClient: c, nsServer: s, devClient: dc, devServer: ds } = lab;
  for (const ns of [c, s]) { sh('ip', ['netns', 'add', ns]); lab.namespaces.push(ns); }
  sh('ip', ['link', 'add', dc, 'netns', c, 'type', 'veth', 'peer', 'name', ds, 'netns', s]);
  for (const [ns, dev, addr, peer] of [[c, dc, `${CLIENT_IP}/24`, '203.0.113.0/24'], [s, ds, `${SERVER_IP}/24`, '198.51.100.0/24']] as const) {
    sh('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Offloads off: every segment on the wire as the peer sees it (best effort, ethtool may be absent).
    spawnSync('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off'], { stdio: 'ignore' });
    sh('ip', ['-n', ns, 'link', 'set', dev, 'up']);
    sh('ip', ['-n', ns, 'addr', 'add', addr, 'dev', dev]);
    sh('ip', ['-n', ns, 'route', 'add', peer, 'dev', dev]);
  }
}

/** Waits until capture's journalctl child runs and has opened the journal, so no event is missed. */
async function waitJournalFollower(capturePid: number, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    for (const d of readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
      try {
        const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
        const m = /^\d+ \((.*)\) \S+ (\d+)/.exec(stat);
        if (!m || m[1] !== 'journalctl' || Number(m[2]) !== capturePid) continue;
        const fds = readdirSync(`/proc/${d}/fd`).map((f) => { try { return readlinkSync(`/proc/${d}/fd/${f}`); } catch { return ''; } });
        if (fds.some((f) => f.endsWith('.journal'))) { await sleep(200); return; }
      } catch { /* raced with an exit */ }
    }
    await sleep(50);
  }
}

/** The clients: fast ones and the three slow ones, concurrently. Resolves when all are done. */
async function drive(lab: Lab): Promise<number> {
  const c = lab.nsClient;
  const net = SLOW.find((x) => x.verdict === 'network')!.port;
  for (const [chain, dir] of [['OUTPUT', '--sport'], ['INPUT', '--dport']] as const) {
    sh('ip', ['netns', 'exec', c, 'iptables', '-A', chain, '-p', 'tcp', dir, String(net), '-j', 'NFQUEUE', '--queue-num', '1']);
  }
  await lab.start('delayline', c, DELAYLINE, ['--queue', '1', '--delay-ms', '120']).waitFor(/ready/, 5000, 'err');
  const think = SLOW.find((x) => x.verdict === 'client')!.port;
  await lab.start('relay', c, process.execPath, [RELAY, '--mode', 'client', '--listen', '127.0.0.1:7003',
    '--connect', `${SERVER_IP}:${PORT}`, '--local', `${CLIENT_IP}:${think}`, '--hold-ms', '300', '--once']).waitFor(/ready/, 5000);
  const curl = (name: string, sni: string, port: number | null): Child => lab.start(name, c, 'curl', ['-sSk', '--max-time', '10',
    ...(port ? ['--local-port', String(port)] : []), '--resolve', `${sni}:${PORT}:${SERVER_IP}`, `https://${sni}:${PORT}/`]);
  const sClient = (name: string, connect: string, extra: string[]): Child => lab.start(name, c, 'openssl',
    ['s_client', '-connect', connect, '-servername', 'app.example', '-quiet', ...extra], 'GET / HTTP/1.0\r\n\r\n');
  const clients: Child[] = [];
  for (let i = 0; i < FAST_CLIENTS; i++) {
    clients.push(i % 2 ? curl(`fast curl ${i}`, 'app.example', null) : sClient(`fast openssl ${i}`, `${SERVER_IP}:${PORT}`, i % 4 ? ['-tls1_2'] : []));
  }
  clients.push(curl('slow server', 'slow-server.example', SLOW.find((x) => x.verdict === 'server')!.port));
  clients.push(curl('slow network', 'app.example', net));
  clients.push(sClient('slow client', '127.0.0.1:7003', []));
  await Promise.all(clients.map((k) => withTimeout(k.exited, 15_000)));
  const failed = clients.filter((k) => k.exit?.code !== 0 || !/hello from the slowshake demo edge/.test(k.out));
  if (failed.length) throw new Error(`client ${failed[0]!.name} failed (${failed[0]!.exit?.code ?? 'still running'}): ${failed[0]!.err.trim().split('\n').slice(-2).join(' | ')}`);
  return clients.length - SLOW.length;
}

interface DemoRecord { client: string; verdict: string; pcap?: string; phases_ms: Record<string, number | null> & { total: number | null }; event_elapsed_ms?: number | null; notes?: string[]; retransmits?: { client: number; server: number } }

/** " (phases: server_hello_delay 301, tcp_rtt 1 …; retransmits …; notes …)": why a verdict came out as it did. */
function why(r: DemoRecord): string {
  const phases = Object.entries(r.phases_ms).filter(([k, v]) => k !== 'total' && v !== null && v >= 1).sort((a, b) => b[1]! - a[1]!).slice(0, 4)
    .map(([k, v]) => `${k} ${v!.toFixed(0)}`).join(', ');
  const rt = r.retransmits && r.retransmits.client + r.retransmits.server > 0 ? `; retransmits client ${r.retransmits.client}, server ${r.retransmits.server}` : '';
  const notes = r.notes && r.notes.length > 0 ? `; notes: ${r.notes.join(' | ')}` : '';
  return ` (phases ms: ${phases || 'none'}${rt}${notes})`;
}

function readRecords(dir: string): DemoRecord[] {
  return readdirSync(dir).filter((f) => f.endsWith('.json')).map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as DemoRecord);
}

async function runDemo(lab: Lab, out: string, report: string | null): Promise<number> {
  const t0 = Date.now();
  say(`journal: ${await ensureJournal(lab)}`);
  buildNetwork(lab);
  say(`namespaces ${lab.nsClient} (clients, ${CLIENT_IP}) and ${lab.nsServer} (edge, ${SERVER_IP}:${PORT}) joined by a veth pair`);
  const ident = `slowshake-demo-${process.pid}`;
  const edge = lab.start('edge', lab.nsServer, process.execPath, [EDGE, '--listen', `${SERVER_IP}:${PORT}`, '--identifier', ident,
    '--slow-ms', String(EDGE_SLOW_MS), '--delay-sni', 'slow-server.example=300']);
  await edge.waitFor(/edge: ready/, 10_000);
  // --user root: the lab is throwaway, its --out is root's own (existing) directory, and a
  // journald the demo started by hand has no systemd-journal group permissions.
  const capture = lab.start('capture', lab.nsServer, process.execPath, [CLI, 'capture', '-i', lab.devServer, '--identifier', ident,
    '--duration', '55s', '--out', out, '--format', 'table', '--hold', HOLD, '--ring-size', '64MiB', '--user', 'root',
    ...(report !== null ? ['--report', report] : [])]);
  await capture.waitFor(/Capturing on/, 10_000, 'err');
  await waitJournalFollower(capture.pid, 3000);
  say(`slowshake capture -i ${lab.devServer} --identifier ${ident} --hold ${HOLD} running (pid ${capture.pid}); edge logs handshakes slower than ${EDGE_SLOW_MS} ms`);
  const fast = await drive(lab);
  const events = (): number => (edge.out.match(/slow TLS handshake/g) ?? []).length;
  say(`${fast} fast and ${SLOW.length} slow clients done; the edge logged ${events()} slow handshakes; waiting for the ${HOLD} hold`);
  // Every logged event gets a record (pcap + .json) once its hold has passed.
  const deadline = Date.now() + 12_000;
  while (readRecords(out).length < events() && Date.now() < deadline && !capture.exit) await sleep(100);
  await capture.stop('SIGINT', 10_000);
  if (capture.exit?.code !== 0) throw new Error(`capture exited ${capture.exit?.signal ?? capture.exit?.code}: ${capture.err.trim().split('\n').slice(-3).join(' | ')}`);
  process.stdout.write(capture.out);
  const records = readRecords(out);
  let ok = true;
  const lines = ['', 'What happened:',
    `  An edge TLS server (scripts/demo/edge-server.mjs) measured each handshake from TCP accept to`,
    `  its end and logged those slower than ${EDGE_SLOW_MS} ms to the journal (SYSLOG_IDENTIFIER=${ident}).`,
    `  slowshake capture kept the edge interface's packets in its ring; for each journal event it cut`,
    `  that flow out (from before its SYN to ${HOLD} after the event), broke the handshake into phases`,
    `  and wrote a pcapng + .json record. Injected delays:`];
  for (const s of SLOW) {
    const r = records.find((x) => x.client === `${CLIENT_IP}:${s.port}`);
    const got = r ? `${r.verdict}${r.phases_ms.total !== null ? `, ${r.phases_ms.total.toFixed(0)} ms on the wire` : ''}` : 'no record';
    const match = r?.verdict === s.verdict;
    ok &&= match;
    lines.push(`    ${CLIENT_IP}:${s.port}  ${s.verdict.padEnd(7)}  ${s.what}  -> ${got}${match ? '' : `  MISMATCH${r ? why(r) : ''}`}`);
  }
  lines.push(`  ${fast} fast handshakes (curl, openssl s_client) were not logged, so they got no pcap.`,
    `  The edge's own figure ("proxy ms", event_elapsed_ms) starts at accept, after the TCP handshake,`,
    `  so it is smaller than the wire total; "lag ms" (proxy_lag_ms) compares it with the wire time from`,
    `  accept to done: near zero here, as no time went inside the edge host that the packets do not show.`,
    '', `Per-flow pcaps and records (kept): ${out}`,
    ...(report !== null ? [`  report (open in a browser): ${report}`] : []),
    `  wireshark ${out}/*.pcapng     (section comment: the event and breakdown; packet comments mark each phase)`,
    `  tshark -r <file>.pcapng -T fields -e frame.number -e frame.time_relative -e frame.comment`,
    `Demo took ${((Date.now() - t0) / 1000).toFixed(1)} s.`);
  process.stdout.write(lines.join('\n') + '\n');
  if (!ok) say('the verdicts did not all match the injected delays (see MISMATCH above)');
  return ok ? EXIT_OK : EXIT_INTERNAL;
}

export async function run(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({ args: argv, allowPositionals: false, options: { out: { type: 'string' }, report: { type: 'string' }, help: { type: 'boolean', short: 'h' } } }).values;
  } catch (err) {
    throw new UsageError(`demo: ${(err as Error).message.split('\n')[0]}`);
  }
  if (v.help) { process.stdout.write(HELP + '\n'); return EXIT_OK; }
  preflight();
  let out: string;
  if (v.out !== undefined) {
    try { ensurePrivateDir(v.out); } catch (err) { throw new UsageError(`--out: ${(err as Error).message}`); }
    out = resolve(v.out);
  } else {
    out = mkdtempSync(join(tmpdir(), 'slowshake-demo-')); // 0700
  }
  const lab = new Lab();
  const onExit = (): void => lab.cleanupSync();
  process.on('exit', onExit);
  let interrupted: (sig: NodeJS.Signals) => void = () => {};
  const stopped = new Promise<number>((res) => { interrupted = (sig) => { say(`${sig}: cleaning up`); res(130); }; });
  const onSignal = (sig: NodeJS.Signals): void => interrupted(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const budget = new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`demo did not finish within ${BUDGET_MS / 1000} s`)), BUDGET_MS).unref());
  try {
    const code = await Promise.race([runDemo(lab, out, v.report !== undefined ? resolve(v.report) : null), stopped, budget]);
    if (code === 130) say(`output directory (kept): ${out}`);
    return code;
  } catch (err) {
    say(`failed: ${(err as Error).message}`);
    say(`output directory (kept): ${out}`);
    return EXIT_INTERNAL;
  } finally {
    await lab.cleanup();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', onExit);
  }
}
