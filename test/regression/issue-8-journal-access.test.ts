/**
 * Issue 8, review finding 11: the journal-readability rule was written twice — capture's start
 * check (privileges.ts: the directory and its lowercase 32-hex subfolders) and the follower's poll
 * for files that appear later (journald.ts: every subfolder, EACCES only) — so they could
 * disagree, and neither matched the folders journalctl reads (sd-journal: subfolders named by a
 * 128-bit id, 32 hex digits in either case or the dashed UUID form; nothing else, such as
 * journal-remote's `remote/`). Both now use sources/journal-files.ts.
 *
 * A --journal-dir holds an unreadable active journal in a UUID-form machine folder, which
 * journalctl reads, and another in `remote/`, which it does not. As the user capture drops to:
 * 1. capture refuses to start, naming the UUID-form folder's file (before: no refusal, and a
 *    capture that could never see an event);
 * 2. the follower's poll, when those files appear after start, names the same file and never
 *    `remote/` (before: whichever came first in readdir order).
 * Real parts: the CLI as root dropping to its default user; the follower in a process run as that
 * user (setpriv), following with the real journalctl.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT, expectOneLineError, runCli } from '../helpers/cli.js';
import { IS_ROOT, NEEDS_ROOT, spawnTracked } from '../helpers/netns.js';

const dirs: string[] = [];
afterAll(() => { for (const d of dirs) rmSync(d, { recursive: true, force: true }); });

const USER = ['slowshake', 'nobody'].map((u) => spawnSync('getent', ['passwd', u], { encoding: 'utf8' }).stdout.split(':')).find((f) => f.length > 3);
const UUID_FOLDER = '0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9';

/** An unreadable (root 0600) system.journal in `dir`/`folder` (0755). */
function unreadableJournal(dir: string, folder: string): string {
  mkdirSync(join(dir, folder), { mode: 0o755 });
  chmodSync(join(dir, folder), 0o755);
  const f = join(dir, folder, 'system.journal');
  writeFileSync(f, 'LPKSHHRH', { mode: 0o600 });
  return f;
}

function journalDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'ss-jaccess-'));
  dirs.push(d);
  chmodSync(d, 0o755);
  return d;
}

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'journal readability: one rule for the start check and the poll' : `journal readability (skipped: ${NEEDS_ROOT})`, () => {
  it('capture refuses at start an unreadable journal in a machine folder journalctl reads, and ignores remote/', () => {
    const d = journalDir();
    unreadableJournal(d, 'remote');
    const r0 = runCli(['capture', '-i', 'lo', '--journal-dir', d, '--duration', '1s', '--out', join(journalDir(), 'out')]);
    expect(r0.status, r0.stderr).toBe(0); // remote/ is not read by journalctl: nothing to refuse
    const f = unreadableJournal(d, UUID_FOLDER);
    const r = runCli(['capture', '-i', 'lo', '--journal-dir', d, '--duration', '1s', '--out', join(journalDir(), 'out')]);
    expectOneLineError(r, new RegExp(`^slowshake: the journal file ${f} is not readable by user ${USER![0]} \\(uid \\d+, groups .*\\) \\(EACCES; owner root:root, mode 0600\\): `));
  });

  it('the follower\'s poll for journal files that appear later names the same file, never remote/', async () => {
    const d = journalDir();
    const script = `import { JournalFollower } from ${JSON.stringify(join(ROOT, 'dist/sources/journald.js'))};
      const f = new JournalFollower({ directory: ${JSON.stringify(d)}, units: [], identifiers: [], journalctl: 'journalctl' },
        { onEntry() {}, onWarning: (w) => console.log('warning: ' + w) });
      await f.start();
      console.log('following');
      process.on('SIGTERM', async () => { await f.stop(); process.exit(0); });`;
    const p = spawnTracked('follower', 'setpriv', ['--reuid', USER![2]!, '--regid', USER![3]!, '--clear-groups', process.execPath, '--input-type=module', '-e', script]);
    try {
      await p.waitFor(/^following$/m, 15_000, 'stdout');
      unreadableJournal(d, 'remote');
      const f = unreadableJournal(d, UUID_FOLDER);
      await p.waitFor(/^warning: journal files appeared, but /m, 15_000, 'stdout');
      const said = p.stdout.split('\n').filter((l) => l.includes('is not readable by this process'));
      expect(said).toEqual([expect.stringMatching(new RegExp(`^warning: journal files appeared, but ${f} is not readable by this process \\(uid ${USER![2]}\\), so no events can arrive: `))]);
      expect(p.stdout).not.toContain(join(d, 'remote'));
    } finally {
      await p.stop('SIGTERM', 5000);
    }
  });
});
