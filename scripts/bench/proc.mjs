// Child processes of the benchmarks, tracked by PID: killed on exit (killTracked) and, when a
// pids file is given, listed there ("PID<TAB>argv0" per line) for the bash wrapper that sweeps
// up after a benchmark that died without cleaning up.
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync } from 'node:fs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** pid -> argv0 of every running child started through Proc. */
export const TRACKED = new Map();

export class Proc {
  /**
   * @param {string} name for messages
   * @param {string} cmd
   * @param {string[]} args
   * @param {{ pidsFile?: string, cwd?: string, stdin?: 'pipe' | 'ignore', stdout?: 'pipe' | number }} [opts]
   */
  constructor(name, cmd, args, opts = {}) {
    this.name = name;
    this.stdout = '';
    this.stderr = '';
    this.exit = null;
    this.child = spawn(cmd, args, { stdio: [opts.stdin ?? 'pipe', opts.stdout ?? 'pipe', 'pipe'], cwd: opts.cwd });
    this.pid = this.child.pid;
    if (this.pid) {
      TRACKED.set(this.pid, cmd);
      if (opts.pidsFile) { try { appendFileSync(opts.pidsFile, `${this.pid}\t${cmd}\n`); } catch { /* best effort */ } }
    }
    this.child.stdout?.setEncoding('utf8').on('data', (d) => { this.stdout += d; });
    this.child.stderr.setEncoding('utf8').on('data', (d) => { this.stderr += d; });
    this.exited = new Promise((res) => {
      this.child.on('error', (e) => { this.stderr += `\n[spawn error] ${e.message}`; this.exit ??= { code: null, signal: null }; res(this.exit); });
      this.child.on('close', (code, signal) => { this.exit = { code, signal }; TRACKED.delete(this.pid); res(this.exit); });
    });
  }

  /** Resolves once stdout or stderr matches `re`; throws when the process exits first or after `timeoutMs`. */
  async waitFor(re, timeoutMs = 20_000) {
    const t0 = Date.now();
    while (!re.test(this.stdout + this.stderr)) {
      if (this.exit) throw new Error(`${this.name} exited ${JSON.stringify(this.exit)} before ${re}: ${this.stderr.slice(-800)}`);
      if (Date.now() - t0 > timeoutMs) throw new Error(`${this.name}: timed out waiting for ${re}: ${this.stderr.slice(-800)}`);
      await sleep(20);
    }
  }

  /** Waits for the exit; SIGKILL after `timeoutMs`. */
  async wait(timeoutMs) {
    const t = setTimeout(() => this.kill('SIGKILL'), timeoutMs);
    const e = await this.exited;
    clearTimeout(t);
    return e;
  }

  kill(sig) { if (!this.exit && this.pid) { try { process.kill(this.pid, sig); } catch { /* gone */ } } }
}

/** SIGKILLs every tracked child still running. */
export function killTracked() {
  for (const pid of TRACKED.keys()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  TRACKED.clear();
}

/** Kills every process in network namespace `ns` (SIGKILL, by PID), deletes it and the links named. */
export function destroyNamespace(ns, links = []) {
  const r = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const line of (r.stdout ?? '').split('\n')) {
    const pid = Number(line.trim());
    if (pid > 0) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  }
  spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 30_000 });
  for (const l of links) spawnSync('ip', ['link', 'del', l], { stdio: 'ignore', timeout: 30_000 });
}

/**
 * Namespace `ns` holding `rxDev` (the capture point: no address, IPv6 off, offloads off), its veth
 * peer `txDev` in the root namespace (where tcpreplay sends). `promisc`: rxDev accepts frames for
 * any MAC (replayed frames carry their templates' MACs). Throws with the failing command.
 */
export function createVethTopology(ns, txDev, rxDev, { promisc = false } = {}) {
  const run = (cmd, args) => {
    const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.error?.message ?? (r.stderr || r.stdout).trim()}`);
  };
  run('ip', ['netns', 'add', ns]);
  run('ip', ['link', 'add', txDev, 'type', 'veth', 'peer', 'name', rxDev, 'netns', ns]);
  run('sysctl', ['-qw', `net.ipv6.conf.${txDev}.disable_ipv6=1`]);
  run('ip', ['netns', 'exec', ns, 'sysctl', '-qw', `net.ipv6.conf.${rxDev}.disable_ipv6=1`]);
  const off = ['tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'];
  run('ethtool', ['-K', txDev, ...off]);
  run('ip', ['netns', 'exec', ns, 'ethtool', '-K', rxDev, ...off]);
  run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  run('ip', ['-n', ns, 'link', 'set', rxDev, 'up']);
  run('ip', ['link', 'set', txDev, 'up']);
  if (promisc) run('ip', ['-n', ns, 'link', 'set', rxDev, 'promisc', 'on']);
}
