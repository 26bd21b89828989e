/**
 * Issue 4: `slowshake capture` end to end (the built CLI, dist/cli/index.js): bad inputs as one
 * line and exit 2, the permission error for an unprivileged user, and the lifecycle on a real
 * veth — --duration with --dump-ring, SIGINT/SIGTERM, SIGUSR1 snapshots while capturing, and the
 * interface disappearing under it.
 *
 * Traffic is TCP connection attempts to a closed port in the namespace (SYN, RST/ACK) and UDP
 * datagrams, on a link with no other traffic (see test/helpers/netns.ts), so packet counts are
 * exact. The ring gets packets from the kernel in blocks retired every 50 ms (the packet buffer
 * timeout), so the tests let 200 ms pass after traffic before they read the ring through a signal.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cli.js';
import { IS_ROOT, NEEDS_ROOT, createVethPair, killAllTracked, settle, sleep, spawnTracked, tsharkWarnings, type Proc, type VethPair } from '../helpers/netns.js';

const FIG: Record<string, unknown> = {};
let tmp: string;

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first (scripts/test.sh does)`);
  tmp = mkdtempSync(join(tmpdir(), 'ssit-cli-'));
});

afterAll(async () => {
  await killAllTracked();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  if (Object.keys(FIG).length) console.info(`[capture-cli figures] ${JSON.stringify(FIG)}`);
});

function cli(args: string[], wrap: string[] = []): { status: number | null; stdout: string; stderr: string } {
  const cmd = wrap.length ? wrap[0]! : process.execPath;
  const argv = wrap.length ? [...wrap.slice(1), process.execPath, CLI, ...args] : [CLI, ...args];
  const r = spawnSync(cmd, argv, { encoding: 'utf8', cwd: ROOT, timeout: 20_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Exit 2, exactly one line on stderr starting "slowshake: ", no stack trace. */
function expectOneLineError(r: { status: number | null; stderr: string }, ...parts: (string | RegExp)[]): string {
  expect(r.status, r.stderr).toBe(2);
  const lines = r.stderr.split('\n').filter((l) => l !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^slowshake: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  for (const p of parts) {
    if (typeof p === 'string') expect(lines[0]).toContain(p);
    else expect(lines[0]).toMatch(p);
  }
  return lines[0]!;
}

describe('capture CLI: bad option values (fail before the device is opened)', () => {
  // These are rejected before libpcap is touched, so they need no privileges.
  const dev = 'lo';
  it.each([
    [['--ring-size', '0'], ['--ring-size', 'at least 1MiB', '0']],
    [['--ring-size', '100TiB'], ['--ring-size', "at most 4GiB"]],
    [['--ring-size', 'lots'], ['--ring-size', '"lots"']],
    [['--snaplen', '10'], ['--snaplen', '64 and 262144', '10']],
    [['--snaplen', '1MiB'], ['--snaplen', '1048576']],
    [['--snaplen', 'abc'], ['--snaplen', '"abc"']],
    [['--duration', '0'], ['--duration', 'positive']],
    [['--duration', 'abc'], ['--duration', '"abc"']],
    [['--duration', '5 parsecs'], ['--duration', '"5 parsecs"']],
    [['--dump-ring', 'x.txt'], ['--dump-ring', '.pcap or .pcapng']],
  ])('%j → one line, exit 2', (args, parts) => {
    expectOneLineError(cli(['capture', '-i', dev, ...args]), ...parts);
  });

  it('-i is required', () => {
    expectOneLineError(cli(['capture', '--duration', '1s']), '-i/--interface');
  });
});

describe('capture CLI: permission', () => {
  // As root the CLI runs as nobody with no capabilities; as a non-root user it runs as is.
  it('an unprivileged user is told packet capture needs CAP_NET_RAW', () => {
    const wrap = IS_ROOT ? ['setpriv', '--reuid=nobody', '--regid=nogroup', '--clear-groups', '--inh-caps=-all'] : [];
    const r = cli(['capture', '-i', 'lo', '--duration', '1s'], wrap);
    expectOneLineError(r, 'CAP_NET_RAW', '"lo"');
  });
});

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'capture CLI on a veth pair' : `capture CLI on a veth pair (skipped: ${NEEDS_ROOT})`, () => {
  let pair: VethPair;

  beforeAll(async () => {
    pair = createVethPair('a');
    await settle();
  });

  afterAll(async () => {
    await killAllTracked();
    await pair?.destroy();
  });

  /** `n` connection attempts to a closed port: 2n packets (SYN, RST/ACK), alternating IPv4/IPv6. */
  async function knock(n: number, p: VethPair = pair): Promise<number> {
    for (let i = 0; i < n; i++) {
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: i % 2 ? p.ns6 : p.ns4, port: 9 });
        s.on('connect', () => reject(new Error('port 9 is open in the namespace')));
        s.on('error', () => resolve());
      });
    }
    return 2 * n;
  }

  function startCli(args: string[]): Proc {
    // cwd: the default --out (./slowshake-out) is created at start for the user capture drops to.
    return spawnTracked('slowshake capture', process.execPath, [CLI, 'capture', ...args], { cwd: tmp });
  }

  function capinfos(file: string): string {
    const r = spawnSync('capinfos', [file], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout;
  }

  /** tshark reads the file without complaint; returns its frame count. */
  function tsharkFrames(file: string): number {
    const r = spawnSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(tsharkWarnings(r.stderr)).toEqual([]);
    return r.stdout.split('\n').filter((l) => l !== '').length;
  }

  function dumpCount(stdout: string, file: string): number {
    const m = new RegExp(`Ring dump: (\\d+) packets written to ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`).exec(stdout);
    expect(m, stdout).not.toBeNull();
    return Number(m![1]);
  }

  it('names a missing interface and lists the existing ones', () => {
    const line = expectOneLineError(cli(['capture', '-i', 'ssit-nosuch0', '--duration', '1s']), '"ssit-nosuch0"', 'no such interface');
    const listed = /\(interfaces: ([^)]*)\)/.exec(line)?.[1]?.split(', ') ?? [];
    expect(listed).toContain('lo');
    expect(listed).toContain(pair.hostDev);
  });

  it.each(['tcp port', 'host 999.1.1.1', 'ether proto nonsense'])('bad filter %j → libpcap\'s own message', (filter) => {
    // tcpdump links the same libpcap: its message for the filter is what the CLI must pass on.
    const td = spawnSync('tcpdump', ['-i', 'lo', '-d', filter], { encoding: 'utf8' });
    expect(td.status).not.toBe(0);
    const libpcap = td.stderr.trim().split('\n').at(-1)!.replace(/^tcpdump: /, '');
    expectOneLineError(cli(['capture', '-i', pair.hostDev, '--filter', filter, '--duration', '1s']), `"${filter}"`, libpcap);
  });

  it('--duration 2s --dump-ring F.pcapng writes a nanosecond pcapng with the section comment', async () => {
    const file = join(tmp, 'dur', 'ring.pcapng');
    const t0 = performance.now();
    const p = startCli(['-i', pair.hostDev, '--duration', '2s', '--dump-ring', file]);
    await p.waitFor(/Capturing on/, 10_000, 'stderr');
    const sent = await knock(10);
    const e = await p.wait(10_000);
    const secs = (performance.now() - t0) / 1000;
    expect(e.code, p.stderr).toBe(0);
    expect(p.stdout).toMatch(/^Capture duration reached after 2\.\d s on /m);
    expect(secs).toBeGreaterThan(1.9);
    expect(secs).toBeLessThan(5);
    const n = dumpCount(p.stdout, file);
    expect(n).toBe(sent);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(join(tmp, 'dur')).mode & 0o777).toBe(0o700);
    expect(tsharkFrames(file)).toBe(n);
    const info = capinfos(file);
    expect(info).toMatch(/File type:\s+Wireshark\/\.\.\. - pcapng/);
    expect(info).toMatch(/File timestamp precision:\s+nanoseconds \(9\)/);
    expect(info).toMatch(/Capture comment:\s+slowshake capture: whole-ring snapshot/);
    expect(info).toMatch(new RegExp(`Number of packets:\\s+${n}\\b`));
    expect(readdirSync(join(tmp, 'dur')).filter((f) => f.startsWith('.'))).toEqual([]); // no temp file left
    FIG.duration = { seconds: Number(secs.toFixed(2)), packets: n };
  });

  it.each(['SIGINT', 'SIGTERM'] as const)('%s stops it within 1 s and the dump is still written', async (sig) => {
    const file = join(tmp, `${sig}.pcap`);
    const p = startCli(['-i', pair.hostDev, '--dump-ring', file]);
    await p.waitFor(/Capturing on/, 10_000, 'stderr');
    const sent = await knock(6);
    await sleep(200); // past the 50 ms packet buffer timeout
    const t0 = performance.now();
    process.kill(p.pid, sig);
    const e = await p.wait(5000);
    const ms = performance.now() - t0;
    expect(e.code, p.stderr).toBe(0);
    expect(ms).toBeLessThan(1000);
    expect(p.stdout).toMatch(sig === 'SIGINT' ? /^Capture interrupted after/m : /^Capture terminated after/m);
    const n = dumpCount(p.stdout, file);
    expect(n).toBe(sent);
    expect(tsharkFrames(file)).toBe(n);
    expect(capinfos(file)).toMatch(/File timestamp precision:\s+nanoseconds \(9\)/);
    FIG[sig] = { stopMs: Math.round(ms), packets: n };
  });

  it('SIGUSR1 writes a snapshot into --out (0600 in a new 0700 directory) while capture goes on', async () => {
    const out = join(tmp, 'snapshots');
    const file = join(tmp, 'after-snapshot.pcapng');
    const p = startCli(['-i', pair.hostDev, '--out', out, '--dump-ring', file]);
    await p.waitFor(/Capturing on/, 10_000, 'stderr');
    const first = await knock(8);
    await sleep(200);
    process.kill(p.pid, 'SIGUSR1');
    await p.waitFor(/Snapshot: \d+ packets written to \S+/, 5000, 'stderr');
    const m = /Snapshot: (\d+) packets written to (\S+)/.exec(p.stderr)!;
    const snap = m[2]!;
    expect(Number(m[1])).toBe(first);
    expect(snap.startsWith(out + '/')).toBe(true);
    expect(statSync(out).mode & 0o777).toBe(0o700);
    expect(statSync(snap).mode & 0o777).toBe(0o600);
    expect(tsharkFrames(snap)).toBe(first);
    expect(p.exit).toBeNull(); // still capturing
    const second = await knock(5);
    await sleep(200);
    process.kill(p.pid, 'SIGINT');
    const e = await p.wait(5000);
    expect(e.code, p.stderr).toBe(0);
    expect(p.stdout).toContain(`Snapshots written: 1 (in ${out})`);
    expect(dumpCount(p.stdout, file)).toBe(first + second);
    expect(tsharkFrames(file)).toBe(first + second);
    expect(p.stderr).not.toMatch(/Debugger listening/); // SIGUSR1 did not start the inspector
    expect(readdirSync(out).filter((f) => f.startsWith('.'))).toEqual([]);
    FIG.snapshot = { snapshotPackets: first, finalPackets: first + second };
  });

  it('reports the interface disappearing and exits non-zero without hanging', async () => {
    const doomed = createVethPair('b');
    try {
      await settle();
      const file = join(tmp, 'gone.pcap');
      const p = startCli(['-i', doomed.hostDev, '--dump-ring', file]);
      await p.waitFor(/Capturing on/, 10_000, 'stderr');
      const sent = await knock(4, doomed);
      await sleep(200);
      const t0 = performance.now();
      doomed.deleteLink();
      const delMs = performance.now() - t0;
      const e = await p.wait(5000);
      const ms = performance.now() - t0;
      expect(e.code).not.toBe(0);
      expect(e.code).not.toBeNull();
      const last = p.stderr.trim().split('\n').at(-1)!;
      expect(last).toContain(`capture on ${doomed.hostDev}`);
      expect(last).toMatch(/interface disappeared|went down|no such device/i);
      expect(p.stderr).not.toMatch(/^\s+at /m);
      expect(ms).toBeLessThan(3000);
      // What was captured before is still dumped.
      expect(dumpCount(p.stdout, file)).toBe(sent);
      FIG.linkDeleted = { exitCode: e.code, ipLinkDelMs: Math.round(delMs), exitAfterMs: Math.round(ms), message: last };
    } finally {
      await doomed.destroy();
    }
  });
});
