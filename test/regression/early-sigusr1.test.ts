/**
 * A SIGUSR1 that reaches capture while it is still starting (CI run of 2026-12-01: the test sent
 * it on "Capturing on", before the snapshot handler was installed): Node's default handler
 * opened the inspector on 127.0.0.1:9229 ("Debugger listening on ws://…"), a debugger for anyone
 * on the machine, and the snapshot never came. Now SIGUSR1 is held from the CLI's first line and
 * the snapshot is written once capture runs. The signal is sent the moment capture's packet
 * socket exists (its inode in /proc/PID/fd), well before the old handler was installed.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CLI, tempDir } from '../helpers/cli.js';
import { IS_ROOT, NEEDS_ROOT, killAllTracked, sleep, spawnTracked } from '../helpers/netns.js';

/** Inodes of the AF_PACKET sockets in this network namespace. */
function packetInodes(): Set<string> {
  const lines = readFileSync('/proc/net/packet', 'utf8').trim().split('\n').slice(1);
  return new Set(lines.map((l) => l.trim().split(/\s+/)[8]!));
}

function hasPacketSocket(pid: number): boolean {
  let fds: string[];
  try { fds = readdirSync(`/proc/${pid}/fd`); } catch { return false; }
  const inodes = packetInodes();
  for (const fd of fds) {
    let link: string;
    try { link = readlinkSync(`/proc/${pid}/fd/${fd}`); } catch { continue; }
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'SIGUSR1 while capture starts' : `SIGUSR1 while capture starts (skipped: ${NEEDS_ROOT})`, () => {
  afterAll(killAllTracked);

  it('is a snapshot once capture runs, never the inspector', async () => {
    const out = tempDir();
    const cap = spawnTracked('capture', process.execPath, [CLI, 'capture', '-i', 'lo', '--no-journal', '--user', 'root', '--out', out, '--duration', '60s']);
    try {
      const deadline = performance.now() + 15_000;
      while (!hasPacketSocket(cap.pid)) {
        if (cap.exit) throw new Error(`capture exited before opening lo: ${cap.stderr}`);
        if (performance.now() > deadline) throw new Error(`capture opened no packet socket in 15 s: ${cap.stderr}`);
        await sleep(1);
      }
      process.kill(cap.pid, 'SIGUSR1');
      await cap.waitFor(/^(Snapshot: \d+ packets written to \S+|slowshake: snapshot not written: .*)$/m, 15_000, 'stderr');
    } finally {
      await cap.stop('SIGINT', 15_000);
    }
    expect(cap.stderr).not.toMatch(/Debugger listening|inspector/i);
    expect(cap.stderr).toMatch(new RegExp(`^Snapshot: \\d+ packets written to ${join(out, 'snapshot-')}`, 'm'));
    expect(cap.exit?.code, cap.stderr).toBe(0);
  });
});
