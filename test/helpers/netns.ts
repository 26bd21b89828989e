/**
 * Network namespaces and veth pairs for the live-capture integration tests (root only).
 *
 * Topology of one pair: the test process stays in the root namespace and owns one veth end (the
 * capture point, an address from 198.51.100.0/24 and 2001:db8:55::/48); the other end lives in a
 * namespace the test creates, where servers run under `ip netns exec`.
 *
 *   root ns: ssit-<pid>-<tag>  198.51.100.(4s+1)/30  2001:db8:55:s::1/64
 *       |  veth
 *   ns ssit-<pid>-<tag>: veth0  198.51.100.(4s+2)/30  2001:db8:55:s::2/64
 *
 * The link is made quiet so two captures started at different moments see the same packets:
 * permanent neighbour entries (no ARP/ND), no IPv6 link-local addresses (no DAD, no router
 * solicitations), and MLD's unsolicited reports squeezed into the first milliseconds after the
 * addresses are added. Offloads are off unless asked for, so segments are MTU-sized.
 *
 * Names carry the creating PID, so test files can run in parallel and leftovers of a killed run
 * are recognised (the PID is dead) and removed by the next run. The /30 slot is claimed with an
 * exclusive lock file, because the root-namespace routes of two pairs must not overlap.
 * Every process started through this module is tracked by PID and killed on destroy(), and at
 * worker exit if a test file never got to its afterAll.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
export const NEEDS_ROOT = 'needs root: creates network namespaces and veth pairs and captures packets (CI runs as root)';

const PREFIX = 'ssit-';
const SLOT_DIR = join(tmpdir(), 'ssit-slots');
const SLOTS = 64; // /30 subnets in 198.51.100.0/24

/** Runs a command synchronously; throws with its stderr on failure. */
export function run(cmd: string, args: string[], opts: { input?: string; timeoutMs?: number } = {}): string {
  const r = spawnSync(cmd, args, { input: opts.input, encoding: 'utf8', timeout: opts.timeoutMs ?? 15_000 });
  if (r.error) throw new Error(`${cmd} ${args.join(' ')}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr.trim()}`);
  return r.stdout;
}

function tryRun(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore', timeout: 15_000 }).status === 0;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------------------------------------
// Tracked processes

export interface Exit { code: number | null; signal: NodeJS.Signals | null }

/** A child process started by a test, with its output collected and its PID tracked. */
export class Proc {
  stdout = '';
  stderr = '';
  exit: Exit | null = null;
  readonly exited: Promise<Exit>;
  readonly startedAt = performance.now();

  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { this.stdout += d; });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { this.stderr += d; });
    this.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        this.stderr += `\n[spawn error] ${err.message}`;
        this.exit ??= { code: null, signal: null };
        resolve(this.exit);
      });
      child.on('close', (code, signal) => {
        this.exit = { code, signal };
        TRACKED.delete(this);
        resolve(this.exit);
      });
    });
    TRACKED.add(this);
  }

  get pid(): number { return this.child.pid ?? -1; }

  /** Waits until stdout or stderr matches `re`; fails early when the process exits. */
  async waitFor(re: RegExp, timeoutMs = 10_000, stream: 'stdout' | 'stderr' | 'both' = 'both'): Promise<void> {
    const deadline = performance.now() + timeoutMs;
    const text = (): string => (stream === 'stdout' ? this.stdout : stream === 'stderr' ? this.stderr : this.stdout + this.stderr);
    while (!re.test(text())) {
      if (this.exit) throw new Error(`${this.name} (pid ${this.pid}) exited ${JSON.stringify(this.exit)} before ${re}: ${this.stderr.slice(-500)}`);
      if (performance.now() > deadline) throw new Error(`${this.name} (pid ${this.pid}): timed out waiting for ${re}; stderr: ${this.stderr.slice(-500)}`);
      await sleep(10);
    }
  }

  /** Sends `signal`, waits up to `graceMs`, then SIGKILL. Resolves with the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 3000): Promise<Exit> {
    if (this.exit) return this.exit;
    try { process.kill(this.pid, signal); } catch { /* already gone */ }
    const t = setTimeout(() => { try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ } }, graceMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }

  /** Resolves with the exit, or kills the process and rejects after `timeoutMs`. */
  async wait(timeoutMs: number): Promise<Exit> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        try { process.kill(this.pid, 'SIGKILL'); } catch { /* gone */ }
        reject(new Error(`${this.name} (pid ${this.pid}) still running after ${timeoutMs} ms (killed); stderr: ${this.stderr.slice(-500)}`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

const TRACKED = new Set<Proc>();
const OWN_NAMESPACES = new Set<string>();
const OWN_LINKS = new Set<string>();
const OWN_SLOTS = new Set<string>();

/** Starts `cmd` in the root namespace, tracked. */
export function spawnTracked(name: string, cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Proc {
  return new Proc(name, spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env, cwd: opts.cwd }));
}

/** Kills every tracked process still running (SIGKILL) and waits for them. */
export async function killAllTracked(): Promise<void> {
  await Promise.all([...TRACKED].map((p) => p.stop('SIGKILL', 1000)));
}

// Last resort when a worker exits without running afterAll (synchronous work only).
process.on('exit', () => {
  for (const p of TRACKED) { try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const ns of OWN_NAMESPACES) deleteNamespaceSync(ns);
  for (const l of OWN_LINKS) tryRun('ip', ['link', 'del', l]);
  for (const s of OWN_SLOTS) { try { unlinkSync(s); } catch { /* gone */ } }
});

// ---------------------------------------------------------------------------------------------
// Namespaces

function deleteNamespaceSync(ns: string): void {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const pid = Number(line.trim());
    if (pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  tryRun('ip', ['netns', 'del', ns]);
}

/** Namespaces and root-namespace links named ssit-<pid>-… whose creator is dead, and stale slot locks. */
export function removeLeftovers(): string[] {
  const removed: string[] = [];
  const stale = (name: string): boolean => {
    const m = /^ssit-(\d+)-/.exec(name);
    return m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
  };
  for (const line of run('ip', ['netns', 'list']).split('\n')) {
    const ns = line.split(' ')[0]!;
    if (ns && stale(ns)) { deleteNamespaceSync(ns); removed.push(`netns ${ns}`); }
  }
  for (const line of run('ip', ['-o', 'link', 'show']).split('\n')) {
    const m = /^\d+: ([^:@ ]+)/.exec(line);
    if (m && stale(m[1]!)) { tryRun('ip', ['link', 'del', m[1]!]); removed.push(`link ${m[1]}`); }
  }
  try {
    for (const f of readdirSync(SLOT_DIR)) {
      const path = join(SLOT_DIR, f);
      const owner = Number(readFileSync(path, 'utf8').trim());
      const oldEmpty = !owner && Date.now() - statSync(path).mtimeMs > 10_000;
      if ((owner && !alive(owner)) || oldEmpty) { try { unlinkSync(path); removed.push(`slot ${f}`); } catch { /* raced */ } }
    }
  } catch { /* no slot dir yet */ }
  return removed;
}

/** Claims a free /30 slot (exclusive create of a lock file holding our PID). */
function claimSlot(): { slot: number; lock: string } {
  mkdirSync(SLOT_DIR, { recursive: true, mode: 0o700 });
  // Start at a PID-dependent slot so parallel files rarely contend for the same lock.
  for (let i = 0; i < SLOTS; i++) {
    const slot = 1 + ((process.pid + i * 7) % (SLOTS - 1));
    const lock = join(SLOT_DIR, String(slot));
    let fd: number;
    try {
      fd = openSync(lock, 'wx', 0o600);
    } catch {
      continue;
    }
    writeSync(fd, String(process.pid));
    closeSync(fd);
    OWN_SLOTS.add(lock);
    return { slot, lock };
  }
  throw new Error(`no free address slot in ${SLOT_DIR} (remove stale files there)`);
}

export interface VethPair {
  /** Namespace holding the far end. */
  readonly ns: string;
  /** The veth end in the root namespace (capture here). */
  readonly hostDev: string;
  /** The far end's name inside `ns`. */
  readonly nsDev: string;
  readonly hostMac: string;
  readonly nsMac: string;
  readonly host4: string;
  readonly ns4: string;
  readonly host6: string;
  readonly ns6: string;
  /** Runs a command inside the namespace and returns stdout. */
  inNs(cmd: string, args: string[]): string;
  /** Starts a tracked process inside the namespace (`ip netns exec` execs it: the PID is the command's). */
  spawnInNs(name: string, cmd: string, args: string[], opts?: { cwd?: string }): Proc;
  /** Deletes the veth pair (both ends) while leaving the namespace in place. */
  deleteLink(): void;
  /** Kills every process in the namespace, deletes namespace, link and slot. Idempotent. */
  destroy(): Promise<void>;
}

/**
 * Creates namespace `ssit-<pid>-<tag>` and a veth pair into it. `tag`: one or two characters,
 * unique within the test file (interface names are limited to 15 bytes).
 */
export function createVethPair(tag: string, opts: { offloads?: boolean } = {}): VethPair {
  if (!/^[a-z0-9]{1,2}$/.test(tag)) throw new Error(`bad tag ${tag}`);
  removeLeftovers();
  const name = `${PREFIX}${process.pid}-${tag}`;
  if (name.length > 15) throw new Error(`interface name ${name} too long`);
  const { slot, lock } = claimSlot();
  const ns = name, hostDev = name, nsDev = 'veth0';
  const host4 = `198.51.100.${slot * 4 + 1}`, ns4 = `198.51.100.${slot * 4 + 2}`;
  const host6 = `2001:db8:55:${slot.toString(16)}::1`, ns6 = `2001:db8:55:${slot.toString(16)}::2`;
  let created = false;
  const inNs = (cmd: string, args: string[]): string => run('ip', ['netns', 'exec', ns, cmd, ...args]);
  const destroy = async (): Promise<void> => {
    const mine = [...TRACKED].filter((p) => p.child.spawnargs[0] === 'ip' && p.child.spawnargs[3] === ns);
    await Promise.all(mine.map((p) => p.stop('SIGTERM', 1500)));
    deleteNamespaceSync(ns);
    tryRun('ip', ['link', 'del', hostDev]);
    OWN_NAMESPACES.delete(ns);
    OWN_LINKS.delete(hostDev);
    try { unlinkSync(lock); } catch { /* gone */ }
    OWN_SLOTS.delete(lock);
  };
  try {
    run('ip', ['netns', 'add', ns]);
    OWN_NAMESPACES.add(ns);
    created = true;
    run('ip', ['link', 'add', hostDev, 'type', 'veth', 'peer', 'name', nsDev, 'netns', ns]);
    OWN_LINKS.add(hostDev);
    const quiet = ['addr_gen_mode=1', 'router_solicitations=0', 'accept_ra=0', 'mldv2_unsolicited_report_interval=1', 'mldv1_unsolicited_report_interval=1'];
    for (const s of quiet) {
      run('sysctl', ['-qw', `net.ipv6.conf.${hostDev}.${s}`]);
      inNs('sysctl', ['-qw', `net.ipv6.conf.${nsDev}.${s}`]);
    }
    if (!opts.offloads) {
      run('ethtool', ['-K', hostDev, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
      inNs('ethtool', ['-K', nsDev, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off']);
    }
    run('ip', ['link', 'set', hostDev, 'up']);
    run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    run('ip', ['-n', ns, 'link', 'set', nsDev, 'up']);
    run('ip', ['addr', 'add', `${host4}/30`, 'dev', hostDev]);
    run('ip', ['-6', 'addr', 'add', `${host6}/64`, 'dev', hostDev, 'nodad']);
    run('ip', ['-n', ns, 'addr', 'add', `${ns4}/30`, 'dev', nsDev]);
    run('ip', ['-n', ns, '-6', 'addr', 'add', `${ns6}/64`, 'dev', nsDev, 'nodad']);
    const hostMac = readFileSync(`/sys/class/net/${hostDev}/address`, 'utf8').trim();
    const nsMac = inNs('cat', [`/sys/class/net/${nsDev}/address`]).trim();
    for (const [addr, mac] of [[ns4, nsMac], [ns6, nsMac]] as const) {
      run('ip', ['neigh', 'replace', addr, 'lladdr', mac, 'dev', hostDev, 'nud', 'permanent']);
    }
    for (const [addr, mac] of [[host4, hostMac], [host6, hostMac]] as const) {
      run('ip', ['-n', ns, 'neigh', 'replace', addr, 'lladdr', mac, 'dev', nsDev, 'nud', 'permanent']);
    }
    return {
      ns, hostDev, nsDev, hostMac, nsMac, host4, ns4, host6, ns6, inNs, destroy,
      spawnInNs: (pname, cmd, args, o = {}) =>
        new Proc(pname, spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: o.cwd })),
      deleteLink: () => { run('ip', ['link', 'del', hostDev]); OWN_LINKS.delete(hostDev); },
    };
  } catch (err) {
    if (created) deleteNamespaceSync(ns);
    tryRun('ip', ['link', 'del', hostDev]);
    OWN_NAMESPACES.delete(ns);
    OWN_LINKS.delete(hostDev);
    try { unlinkSync(lock); } catch { /* gone */ }
    OWN_SLOTS.delete(lock);
    throw err;
  }
}

/** Waits until MLD's start-up reports are over (they are squeezed into a few ms, see above). */
export function settle(ms = 250): Promise<void> {
  return sleep(ms);
}

/** Namespaces this module's naming scheme would create (for leftover checks). */
export function ourNamespaces(): string[] {
  return run('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(PREFIX));
}

// ---------------------------------------------------------------------------------------------
// tcpdump alongside the ring

/** tcpdump on `dev` into `file` (nanosecond pcap, 16 MiB buffer, immediate mode). */
export async function startTcpdump(dev: string, file: string): Promise<Proc> {
  const p = spawnTracked(`tcpdump ${dev}`, 'tcpdump', [
    '-i', dev, '-w', file, '--time-stamp-precision', 'nano', '-B', '16384', '--immediate-mode', '-s', '0', '-n', '-Z', 'root',
  ]);
  await p.waitFor(/listening on/, 10_000, 'stderr');
  return p;
}

/** Stops tcpdump (SIGINT flushes the file) and returns its own counts. */
export async function stopTcpdump(p: Proc): Promise<{ captured: number; dropped: number }> {
  await p.stop('SIGINT', 5000);
  const captured = Number(/(\d+) packets? captured/.exec(p.stderr)?.[1] ?? NaN);
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(p.stderr)?.[1] ?? NaN);
  return { captured, dropped };
}

/** One line per tshark stderr, without the "running as root" notice (about the user, not the file). */
export function tsharkWarnings(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.trim() !== '' && !/^Running as user "root" and group "root"\. This could be dangerous\.$/.test(l.trim()));
}

export { execFileSync, sleep };
