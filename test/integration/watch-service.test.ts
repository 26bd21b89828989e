/**
 * The systemd service (issue 9 §6): deploy/systemd/slowshake.service passes `systemd-analyze
 * verify` with no message and scores as "OK" in `systemd-analyze security --offline=yes`; and
 * watch run the way the unit runs it — an unprivileged user, no new privileges, only the unit's
 * ambient capabilities (setpriv), NOTIFY_SOCKET and WATCHDOG_USEC set — sends READY, WATCHDOG
 * pings, STATUS and STOPPING to a real unix datagram socket, and stops within 5 s of SIGTERM.
 * (systemd is not PID 1 on the test machines, so the unit itself cannot be started here.)
 */
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, ROOT, tempDir } from '../helpers/cli.js';
import { ensureJournald, type JournaldHandle } from '../helpers/journald.js';
import { IS_ROOT, NEEDS_ROOT, killAllTracked, spawnTracked } from '../helpers/netns.js';
import { until } from '../helpers/wait.js';

const UNIT = join(ROOT, 'deploy/systemd/slowshake.service');

function directives(text: string): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const r = /^([A-Za-z]+)=(.*)$/.exec(line.trim());
    if (r) m.set(r[1]!, [...(m.get(r[1]!) ?? []), r[2]!]);
  }
  return m;
}

describe('deploy/systemd/slowshake.service', () => {
  it('passes systemd-analyze verify without a message', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8' });
    expect(r.error, 'systemd-analyze (Debian package systemd) must be installed').toBeUndefined();
    expect(`${r.stdout}${r.stderr}`.trim()).toBe('');
    expect(r.status).toBe(0);
  });

  it('is hardened: systemd-analyze security scores it OK (exposure below 3)', () => {
    const r = spawnSync('systemd-analyze', ['security', '--offline=yes', UNIT], { encoding: 'utf8' });
    const m = /Overall exposure level for slowshake\.service: ([\d.]+) (\w+)/.exec(r.stdout);
    expect(m, r.stdout + r.stderr).not.toBeNull();
    expect(Number(m![1])).toBeLessThan(3);
    console.log(`systemd-analyze security: ${m![1]} ${m![2]}`);
  });

  it('runs watch as a notify service with a watchdog, as an unprivileged user with two capabilities', () => {
    const d = directives(readFileSync(UNIT, 'utf8'));
    const one = (k: string): string | undefined => d.get(k)?.[0];
    expect(one('Type')).toBe('notify');
    expect(one('ExecStart')).toMatch(/ watch --config \/etc\/slowshake\/slowshake\.toml/);
    expect(one('WatchdogSec')).toMatch(/^\d+s$/);
    expect(one('Restart')).toBe('on-failure');
    expect(one('User')).toBe('slowshake');
    expect(one('AmbientCapabilities')).toBe('CAP_NET_RAW CAP_BPF');
    expect(one('CapabilityBoundingSet')).toBe('CAP_NET_RAW CAP_BPF');
    for (const k of ['NoNewPrivileges', 'ProtectHome', 'PrivateTmp']) expect(one(k), k).toBe('yes');
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('StateDirectory')).toBe('slowshake');
    expect(one('MemoryMax')).toMatch(/^\d+[MG]$/);
  });
});

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'watch under the unit\'s credentials' : `watch under the unit's credentials (skipped: ${NEEDS_ROOT})`, () => {
  let jd: JournaldHandle | undefined;
  const listeners: ChildProcessWithoutNullStreams[] = [];
  afterAll(async () => {
    for (const l of listeners) l.kill('SIGKILL');
    await killAllTracked();
    await jd?.stop();
  });

  it('sends READY, WATCHDOG, STATUS and STOPPING over a real datagram socket and stops within 5 s of SIGTERM', async () => {
    jd = await ensureJournald();
    const socket = `@slowshake-watch-test-${process.pid}`;
    const py = [
      'import json, socket, sys',
      's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
      's.bind("\\0" + sys.argv[1][1:])',
      'print("ready", flush=True)',
      'while True: print(json.dumps(s.recv(65536).decode()), flush=True)',
    ].join('\n');
    const l = spawn('python3', ['-c', py, socket]);
    listeners.push(l);
    let got = '';
    l.stdout.setEncoding('utf8').on('data', (x: string) => { got += x; });
    await until(() => got.startsWith('ready'));
    const datagrams = (): string[] => got.split('\n').slice(1).filter(Boolean).map((x) => JSON.parse(x) as string);

    const base = tempDir();
    chmodSync(base, 0o755); // root's 0700 temp dir: the unit's user must reach its own directories inside
    const out = join(base, 'evidence'), state = join(base, 'state');
    for (const dir of [out, state]) { mkdirSync(dir, { mode: 0o700 }); chownSync(dir, 65534, 65534); }
    const journalGid = spawnSync('getent', ['group', 'systemd-journal'], { encoding: 'utf8' }).stdout.split(':')[2];
    const port = 20000 + (process.pid % 20000);
    const w = spawnTracked('watch', 'setpriv', [
      '--reuid=65534', '--regid=65534', `--groups=${journalGid ? journalGid : '65534'}`, '--no-new-privs',
      '--inh-caps=-all,+net_raw,+bpf', '--ambient-caps=-all,+net_raw,+bpf', '--bounding-set=-all,+net_raw,+bpf',
      process.execPath, CLI, 'watch', '-i', 'lo', '--out', out, '--state-dir', state, '--metrics-listen', `127.0.0.1:${port}`,
      '--identifier', `slowshake-watch-test-${process.pid}`,
    ], { env: { ...process.env, NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000' } });
    await until(() => datagrams().some((x) => x.startsWith('READY=1')), 20_000).catch((e: Error) => { throw new Error(`${e.message}; stderr: ${w.stderr}`); });
    // The process holds exactly the unit's two capabilities (CAP_NET_RAW 13, CAP_BPF 39), no more.
    const status = readFileSync(`/proc/${w.pid}/status`, 'utf8');
    expect(/^Uid:\s+65534\s/m.test(status)).toBe(true);
    expect(/^CapEff:\s+(\w+)/m.exec(status)![1]).toBe((2n ** 13n + 2n ** 39n).toString(16).padStart(16, '0'));
    expect(/^NoNewPrivs:\s+1/m.test(status)).toBe(true);
    await until(() => datagrams().filter((x) => x === 'WATCHDOG=1').length >= 3, 10_000);
    const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(metrics).toMatch(/^slowshake_handshakes_total\{/m);
    await until(() => datagrams().some((x) => x.startsWith('STATUS=')) && datagrams().length > 4, 15_000);
    const t0 = performance.now();
    process.kill(w.pid, 'SIGTERM');
    const exit = await w.wait(5_000);
    expect(performance.now() - t0).toBeLessThan(5_000);
    expect(exit.code, w.stderr).toBe(0);
    await until(() => datagrams().some((x) => x.startsWith('STOPPING=1')));
    const ready = datagrams().find((x) => x.startsWith('READY=1'))!;
    expect(ready).toMatch(/^READY=1\nSTATUS=Watching lo: /);
    expect(ready).toContain(`MAINPID=${w.pid}`);
  }, 60_000);
});
