/**
 * A real systemd journal for tests: reuse a running journald when the socket answers, otherwise
 * start /lib/systemd/systemd-journald by hand (as root) and stop it again by PID afterwards.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';

const SOCKET = '/run/systemd/journal/socket';
const JOURNALD = '/lib/systemd/systemd-journald';

export interface JournaldHandle {
  started: boolean;
  stop(): Promise<void>;
}

/** Sends a probe entry and reads it back; retries for `ms` (a fresh journald needs a moment). */
function probe(tag: string, ms = 1000): boolean {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const r = spawnSync('logger', ['--journald'], { input: `MESSAGE=probe\nSYSLOG_IDENTIFIER=${tag}\n` });
    if (r.status === 0) {
      for (let i = 0; i < 10; i++) {
        const out = spawnSync('journalctl', ['-o', 'cat', '--no-pager', `SYSLOG_IDENTIFIER=${tag}`], { encoding: 'utf8' }).stdout;
        if (out.includes('probe')) return true;
        spawnSync('sleep', ['0.05']);
      }
    }
    spawnSync('sleep', ['0.1']);
  }
  return false;
}

export async function ensureJournald(): Promise<JournaldHandle> {
  const tag = `ss-probe-${process.pid}`;
  // A socket file can outlive its journald (killed earlier): only a round trip proves one runs.
  if (existsSync(SOCKET) && probe(tag, 300)) return { started: false, stop: async () => {} };
  const child: ChildProcess = spawn(JOURNALD, [], { stdio: 'ignore' });
  for (let i = 0; i < 100 && !existsSync(SOCKET); i++) await new Promise((r) => setTimeout(r, 50));
  if (!probe(tag, 10_000)) {
    child.kill('SIGKILL');
    throw new Error('could not start systemd-journald for the test');
  }
  return {
    started: true,
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    }),
  };
}

/** Writes one structured entry with logger's native journal protocol. */
export function journalSend(fields: Record<string, string>): void {
  const input = Object.entries(fields).map(([k, v]) => `${k}=${v}`).join('\n') + '\n';
  const r = spawnSync('logger', ['--journald'], { input });
  if (r.status !== 0) throw new Error(`logger --journald failed: ${r.stderr}`);
}

/**
 * Gives the journal systemd's stock permissions (group systemd-journal, setgid directories), as
 * systemd-tmpfiles does at boot on any systemd machine: a journald started by hand in a container
 * leaves its files root:root 0640, which the user capture drops to could not read. Idempotent.
 */
export function stockJournalPermissions(): void {
  const r = spawnSync('systemd-tmpfiles', ['--create', '--prefix=/run/log/journal', '--prefix=/var/log/journal'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) throw new Error(`systemd-tmpfiles --create --prefix=/run/log/journal: ${r.error?.message ?? r.stderr}`);
}

/**
 * Waits until the journal holds an entry of SYSLOG_IDENTIFIER `identifier` whose MESSAGE
 * contains `text` (a journalctl query every 50 ms); throws after `ms`.
 */
export async function waitJournalEntry(identifier: string, text: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    const r = spawnSync('journalctl', ['-o', 'cat', '--no-pager', `SYSLOG_IDENTIFIER=${identifier}`], { encoding: 'utf8', maxBuffer: 64 << 20 });
    if (r.stdout?.includes(text)) return;
    if (Date.now() > end) throw new Error(`no journal entry of ${identifier} containing "${text}" after ${ms} ms`);
    await new Promise((res) => setTimeout(res, 50));
  }
}
