/**
 * Issue 8 item 1: README command 1 on a machine where no journald ever ran.
 *
 * Each CLI run happens in a private mount namespace (`unshare -m`) with empty tmpfs mounts over
 * /run/systemd and /run/log: no journal socket, no runtime journal, exactly what a new machine
 * has (the suite's own journald, started by the global setup, is invisible there). /var/log/journal
 * is hidden the same way, so the journal files of the session's journald are not found either.
 *
 * Cleanup is by PID, also when a run fails or times out: every process started here carries a
 * marker in its environment (inherited through `ip netns exec`, journald and the demo's own
 * children), and afterAll SIGKILLs whatever still carries it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, ROOT } from '../helpers/cli.js';
import { systemJournalProblem } from '../../src/sources/journald.js';

const MARK = `SLOWSHAKE_FRESH_TEST=${process.pid}-${Date.now()}`;
const root = process.getuid?.() === 0;

/** PIDs of processes whose environment holds MARK. */
function marked(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/environ`, 'latin1').split('\0').includes(MARK)) out.push(Number(d));
    } catch { /* exited */ }
  }
  return out;
}

const dirs: string[] = [];
/** A temp directory removed after the run (pcaps and records hold client addresses). */
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

afterAll(() => {
  for (const pid of marked()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/**
 * Shell: start the CLI in the background, wait until it follows the journal (its journalctl
 * child runs), then start a journald: the order a fresh boot can take, without a fixed sleep.
 */
const CAPTURE_THEN_JOURNALD = '"$@" & cap=$!; ' +
  'for i in $(seq 600); do pgrep -P $cap -x journalctl >/dev/null && break; sleep 0.05; done; ' +
  '/lib/systemd/systemd-journald & jd=$!; ' +
  'for i in $(seq 400); do [ -S /run/systemd/journal/socket ] && break; sleep 0.05; done; ';

const FRESH = 'set -e; for d in /run/systemd /run/log /var/log/journal; do [ -d "$d" ] || mkdir -p "$d"; mount -t tmpfs -o mode=0755 tmpfs "$d"; done; ';

/** Runs the CLI in a fresh-machine mount namespace; resolves with its output (SIGKILL after ms). */
function runFresh(args: string[], ms: number, then = 'exec "$@"'): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const [k, v] = MARK.split('=') as [string, string];
  const child = spawn('unshare', ['-m', '--propagation', 'private', 'sh', '-c', FRESH + then, 'fresh', process.execPath, CLI, ...args],
    { cwd: ROOT, env: { ...process.env, [k]: v }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  return new Promise((resolve) => {
    const t = setTimeout(() => { for (const pid of marked()) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } } }, ms);
    child.on('close', (code) => { clearTimeout(t); resolve({ code, stdout, stderr }); });
  });
}

describe.runIf(root)('README command 1 on a fresh machine (no journald, no journal)', () => {
  it('slowshake demo starts its own journald and shows the three injected verdicts', async () => {
    const out = tempDir('slowshake-fresh-demo-');
    const r = await runFresh(['demo', '--out', out], 90_000);
    expect(r.stderr).not.toMatch(/probe entry did not come back/);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/journal: systemd-journald started by hand/);
    for (const [port, verdict] of [[41001, 'server'], [41002, 'network'], [41003, 'client']] as const) {
      expect(r.stdout).toMatch(new RegExp(`198\\.51\\.100\\.10:${port}\\s+${verdict}\\s.*-> ${verdict}, \\d+ ms on the wire`));
    }
    expect(r.stdout).toContain('Totals by verdict: client 1, network 1, server 1, loss 0, incomplete 0');
    expect(r.stdout).not.toContain('MISMATCH');
    // The demo stopped its own journald and children.
    expect(marked()).toEqual([]);
  }, 120_000);

  it('capture following the system journal says in one line at start that no journal is reachable', async () => {
    const r = await runFresh(['capture', '-i', 'lo', '--duration', '1s', '--out', join(tempDir('slowshake-fresh-cap-'), 'out')], 30_000);
    expect(r.code, r.stderr).toBe(0);
    const warn = r.stderr.split('\n').filter((l) => /journal/i.test(l));
    expect(warn).toHaveLength(1);
    expect(warn[0]).toMatch(/^slowshake: warning: no system journal is reachable: no systemd-journald is running \(no \/run\/systemd\/journal\/socket\)/);
    expect(r.stdout).toMatch(/^Journal: no system journal is reachable/m);
  }, 60_000);
});

describe.runIf(root)('a journald that starts after capture', () => {
  it('is followed from its first entry once its files appear', async () => {
    const id = `ss-late-${process.pid}`;
    const out = join(tempDir('slowshake-fresh-late-'), 'out');
    // capture starts first, with no journal anywhere; journald comes up once it follows, and an event is logged.
    const then = CAPTURE_THEN_JOURNALD +
      `printf 'MESSAGE=slow TLS handshake remote_addr=192.0.2.7:40000 local_addr=127.0.0.1:443 elapsed_ms=250\nSYSLOG_IDENTIFIER=${id}\n' | logger --journald; ` +
      'wait $cap; rc=$?; kill $jd; wait $jd || true; exit $rc';
    // --user root: a journald started by hand (no systemd-tmpfiles) keeps its files root-only, out
    // of reach of the user capture drops to (the next test).
    const r = await runFresh(['capture', '-i', 'lo', '--identifier', id, '--duration', '10s', '--hold', '0s', '--format', 'ndjson', '--out', out, '--user', 'root'], 60_000, then);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/journal files appeared in \/run\/log\/journal or \/var\/log\/journal: following them from their first entry/);
    expect(r.stderr).toMatch(/^Journal: 1 entries, 1 events/m);
    const recs = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { client: string; reason?: string });
    expect(recs.map((x) => x.client)).toEqual(['192.0.2.7:40000']);
    expect(recs[0]!.reason).toMatch(/no such flow in the ring/);
  }, 90_000);

  it('whose files the user capture dropped to cannot read: said once, in one line, with what to change (issue 8 item 6)', async () => {
    const out = join(tempDir('slowshake-fresh-late-'), 'out');
    const then = CAPTURE_THEN_JOURNALD + 'wait $cap; rc=$?; kill $jd; wait $jd || true; exit $rc';
    const r = await runFresh(['capture', '-i', 'lo', '--identifier', `ss-late-${process.pid}`, '--duration', '8s', '--format', 'ndjson', '--out', out], 60_000, then);
    expect(r.code, r.stderr).toBe(0);
    const said = r.stderr.split('\n').filter((l) => / is not readable by this process/.test(l));
    expect(said, r.stderr).toHaveLength(1);
    expect(said[0]).toMatch(/^slowshake: warning: journal files appeared, but \/run\/log\/journal\/\S+ is not readable by this process \(uid \d+\), so no events can arrive: .*systemd-tmpfiles.*or run capture with --user root$/);
  }, 90_000);
});

describe('systemJournalProblem', () => {
  const base = tempDir('slowshake-journal-probe-');
  const socket = join(base, 'socket');
  const runDir = join(base, 'run'), varDir = join(base, 'var');
  mkdirSync(runDir);
  mkdirSync(varDir);

  it('names the missing socket and the empty directories', () => {
    expect(systemJournalProblem(socket, [runDir, varDir])).toMatch(/^no system journal is reachable: no systemd-journald is running/);
  });

  it('files without a socket: past entries only', () => {
    mkdirSync(join(varDir, '0123456789abcdef0123456789abcdef'));
    writeFileSync(join(varDir, '0123456789abcdef0123456789abcdef', 'system.journal'), '');
    expect(systemJournalProblem(socket, [runDir, varDir])).toMatch(/^no systemd-journald is running .*nothing logged from now on will arrive/);
  });

  it('socket and files: nothing to say', () => {
    writeFileSync(socket, '');
    expect(systemJournalProblem(socket, [runDir, varDir])).toBeNull();
  });

  it('a socket but no files yet', () => {
    expect(systemJournalProblem(socket, [runDir, join(base, 'absent')])).toMatch(/has no files yet/);
  });

});
