/**
 * sd_notify through the native addon, received on real unix datagram sockets (a filesystem path
 * and an abstract name) by a Python listener: what systemd reads is what was sent, one datagram
 * per notification. No root needed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SdNotifier, watchdogIntervalMs } from '../../../src/sinks/sd-notify.js';
import { until } from '../../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'slowshake-notify-'));
const listeners: ChildProcessWithoutNullStreams[] = [];
afterAll(() => {
  for (const l of listeners) l.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

/** A listener on `address` (a path, or "@name" for an abstract socket) printing each datagram as one JSON line. */
async function listen(address: string): Promise<{ datagrams: () => string[] }> {
  const py = [
    'import json, socket, sys',
    'a = sys.argv[1]',
    's = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)',
    's.bind("\\0" + a[1:] if a.startswith("@") else a)',
    'print("ready", flush=True)',
    'while True: print(json.dumps(s.recv(65536).decode()), flush=True)',
  ].join('\n');
  const p = spawn('python3', ['-c', py, address]);
  listeners.push(p);
  let out = '';
  p.stdout.setEncoding('utf8').on('data', (d: string) => { out += d; });
  const end = Date.now() + 10_000;
  while (!out.startsWith('ready')) {
    if (Date.now() > end || p.exitCode !== null) throw new Error(`listener did not start: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { datagrams: () => out.split('\n').slice(1).filter(Boolean).map((l) => JSON.parse(l) as string) };
}


describe('SdNotifier', () => {
  it('sends READY, STATUS, WATCHDOG and STOPPING as single datagrams to a socket path', async () => {
    const path = join(dir, 'notify.sock');
    const l = await listen(path);
    const n = new SdNotifier({ NOTIFY_SOCKET: path });
    expect(n.enabled).toBe(true);
    expect(n.ready('Capturing on eth0.')).toBe(true);
    expect(n.status('12 handshakes\nmeasured')).toBe(true);
    expect(n.watchdog()).toBe(true);
    expect(n.stopping()).toBe(true);
    await until(() => l.datagrams().length === 4);
    expect(l.datagrams()).toEqual([
      `READY=1\nSTATUS=Capturing on eth0.\nMAINPID=${process.pid}`,
      'STATUS=12 handshakes measured', // a newline inside a value would start a new field: flattened
      'WATCHDOG=1',
      'STOPPING=1\nSTATUS=Stopping.',
    ]);
    expect(n.stats).toEqual({ sent: 4, failed: 0, lastError: null });
  });

  it('reaches an abstract socket (@name)', async () => {
    const name = `@slowshake-test-${process.pid}`;
    const l = await listen(name);
    const n = new SdNotifier({ NOTIFY_SOCKET: name });
    expect(n.watchdog()).toBe(true);
    await until(() => l.datagrams().length === 1);
    expect(l.datagrams()).toEqual(['WATCHDOG=1']);
  });

  it('counts a socket nobody listens on, never throws', () => {
    const n = new SdNotifier({ NOTIFY_SOCKET: join(dir, 'absent.sock') });
    expect(n.ready('x')).toBe(false);
    expect(n.stats.failed).toBe(1);
    expect(n.stats.lastError).toMatch(/^sendto .*absent\.sock: No such file or directory$/);
    const bad = new SdNotifier({ NOTIFY_SOCKET: 'relative.sock' });
    expect(bad.watchdog()).toBe(false);
    expect(bad.stats.lastError).toMatch(/not an absolute path or an @abstract name/);
  });

  it('without NOTIFY_SOCKET every call is a no-op', () => {
    const n = new SdNotifier({});
    expect(n.enabled).toBe(false);
    expect(n.ready('x')).toBe(false);
    expect(n.stats).toEqual({ sent: 0, failed: 0, lastError: null });
  });
});

describe('watchdogIntervalMs', () => {
  it('half of WATCHDOG_USEC, only for this process', () => {
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000' }, 42)).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '42' }, 42)).toBe(5000);
    expect(watchdogIntervalMs({ WATCHDOG_USEC: '10000000', WATCHDOG_PID: '43' }, 42)).toBeNull();
    expect(watchdogIntervalMs({}, 42)).toBeNull();
    expect(watchdogIntervalMs({ WATCHDOG_USEC: 'x' }, 42)).toBeNull();
  });
});
