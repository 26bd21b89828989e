/**
 * The journal files journalctl follows, and whether this process can read them: one answer for
 * capture's start check (privileges.ts, run as the user capture drops to) and for the follower's
 * poll for files that appear after start (journald.ts), so the two cannot disagree.
 *
 * 1. `journalLocation`: the system journal (/run/log/journal and /var/log/journal,
 *    systemd-journald.service(8)) or a `--journal-dir`. Its folders are each root and the machine
 *    folders below it, as sd-journal picks them (sd-journal.c dirent_is_journal_subdir,
 *    add_directory): only subdirectories named by a 128-bit id (32 hex digits, or the dashed UUID
 *    form; a `.namespace` suffix is another journal namespace, not read by default), and in
 *    /var/log/journal only this machine's (/etc/machine-id: journalctl shows the local machine's
 *    journal unless told to merge; everything under /run is local).
 * 2. `holdsJournalFiles`: whether any folder holds a .journal file (none: journalctl follows
 *    nothing and says nothing).
 * 3. `journalAccessProblem`: the first folder, or active journal file (system.journal,
 *    user-1000.journal; following starts at the tail, so archived NAME@….journal files are not
 *    needed), this process cannot open. A folder or file that does not exist is no problem.
 */
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Where systemd-journald keeps the system journal: volatile, then persistent. */
export const SYSTEM_JOURNAL_DIRS = ['/run/log/journal', '/var/log/journal'];

export interface JournalLocation {
  /** Directories journalctl is pointed at (named in messages). */
  roots: string[];
  /** Whether journalctl reads the subdirectory `name` of `root`. */
  folder: (root: string, name: string) => boolean;
}

/** A 128-bit id as sd-journal accepts one (id128_is_valid), lowercased without dashes; else null. */
function id128(name: string): string | null {
  if (/^[0-9a-fA-F]{32}$/.test(name)) return name.toLowerCase();
  if (/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/.test(name)) return name.replace(/-/g, '').toLowerCase();
  return null;
}

function localMachineId(): string | null {
  try {
    return id128(readFileSync('/etc/machine-id', 'utf8').trim());
  } catch {
    return null;
  }
}

/** Journal directories `roots` as journalctl --directory reads them (any machine's id folders). */
export function journalDirectories(roots: string[]): JournalLocation {
  return { roots, folder: (_root, name) => id128(name) !== null };
}

/** The journal journalctl follows: the system's, or the directory given with --journal-dir. */
export function journalLocation(directory: string | null): JournalLocation {
  if (directory !== null) return journalDirectories([directory]);
  const machine = localMachineId();
  return {
    roots: SYSTEM_JOURNAL_DIRS,
    folder: (root, name) => {
      const id = id128(name);
      return id !== null && (machine === null || id === machine || root.startsWith('/run/'));
    },
  };
}

const code = (err: unknown): string => (err as NodeJS.ErrnoException).code ?? 'EIO';
const absent = (err: unknown): boolean => code(err) === 'ENOENT' || code(err) === 'ENOTDIR';

/**
 * Each root and its machine folders that exist, with their entries; a folder that cannot be read
 * is returned with `error` set.
 */
function folders(loc: JournalLocation): { dir: string; names: string[]; error: string | null }[] {
  const out: { dir: string; names: string[]; error: string | null }[] = [];
  const read = (dir: string): string[] | null => {
    try {
      const names = readdirSync(dir);
      out.push({ dir, names, error: null });
      return names;
    } catch (err) {
      if (!absent(err)) out.push({ dir, names: [], error: code(err) });
      return null;
    }
  };
  for (const root of loc.roots) {
    const names = read(root);
    if (names === null) continue;
    for (const n of names) if (loc.folder(root, n)) read(join(root, n)); // a file of that name: ENOTDIR, skipped
  }
  return out;
}

/** Whether journalctl would find any journal file under `loc`. */
export function holdsJournalFiles(loc: JournalLocation): boolean {
  return folders(loc).some((f) => f.names.some((n) => n.endsWith('.journal')));
}

export interface JournalAccessProblem {
  /** The folder or file that cannot be opened. */
  path: string;
  /** Its errno name (EACCES, …). */
  code: string;
  file: boolean;
}

/** The first folder or active journal file under `loc` this process cannot open, or null. */
export function journalAccessProblem(loc: JournalLocation): JournalAccessProblem | null {
  for (const f of folders(loc)) {
    if (f.error !== null) return { path: f.dir, code: f.error, file: false };
    for (const n of f.names) {
      if (!n.endsWith('.journal') || n.includes('@')) continue;
      const p = join(f.dir, n);
      try {
        closeSync(openSync(p, 'r'));
      } catch (err) {
        if (!absent(err)) return { path: p, code: code(err), file: true }; // rotated away meanwhile: fine
      }
    }
  }
  return null;
}
