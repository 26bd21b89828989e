/**
 * Privilege drop for `capture`, like tcpdump's -Z: root is needed to open the capture handle,
 * nothing after that.
 *
 * 1. `resolveRunAs`: `--user NAME` (default: the `slowshake` user when it exists, else `nobody`;
 *    `--user root` keeps root on purpose), looked up through getent so NSS users (LDAP, …) work.
 *    Supplementary group: `systemd-journal` when that group exists (created by nothing here), so
 *    the system journal stays readable. Only root switches users; anyone else runs as is.
 * 2. The caller opens or creates everything it will write while still root (capture-outputs.ts),
 *    then opens the capture handle.
 * 3. `dropPrivileges`: setgroups, setgid, setuid. glibc applies each to every thread of the
 *    process (the libpcap capture thread and libuv's pool included), and setuid from root to a
 *    non-root uid clears the permitted and effective capability sets (capabilities(7), "Effect of
 *    user ID changes on capabilities"). Checked afterwards in /proc/self/status; a drop that did
 *    not take is an error, never a warning.
 * 4. `journalReadProblem`, run through `asUser` before anything is created: with the new user's
 *    effective ids, tries to open the journal files journalctl will follow, so an unreadable
 *    journal is one line at start instead of a capture that never sees an event. journalctl is
 *    spawned after the drop and inherits the new credentials.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync, type Stats } from 'node:fs';
import { journalAccessProblem, journalLocation } from '../sources/journal-files.js';
import { UsageError } from './errors.js';

/** The user capture continues as after opening the capture handle. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  /** Supplementary groups after the drop (the primary group and systemd-journal when it exists). */
  groups: number[];
  /** Names of `groups`, for messages. */
  groupNames: string[];
  /** systemd-journal's gid, or null when the group does not exist. */
  journalGid: number | null;
}

export const DEFAULT_USERS = ['slowshake', 'nobody'];
export const JOURNAL_GROUP = 'systemd-journal';

interface DbEntry { name: string; id: number; gid: number }

/** One passwd or group entry through getent(1) (NSS), else from /etc/passwd, /etc/group. */
function lookup(db: 'passwd' | 'group', key: string): DbEntry | null {
  const r = spawnSync('getent', [db, key], { encoding: 'utf8', timeout: 10_000 });
  let line: string | undefined;
  if (r.error === undefined && r.status !== null && r.status <= 2) {
    line = r.status === 0 ? r.stdout.split('\n')[0] : undefined;
  } else {
    let text = '';
    try { text = readFileSync(`/etc/${db}`, 'utf8'); } catch { /* none */ }
    line = text.split('\n').find((l) => { const f = l.split(':'); return f[0] === key || f[2] === key; });
  }
  if (!line) return null;
  const f = line.split(':');
  const id = Number(f[2]);
  if (!Number.isInteger(id)) return null;
  return { name: f[0]!, id, gid: db === 'passwd' ? Number(f[3]) : id };
}

function groupName(gid: number): string {
  return lookup('group', String(gid))?.name ?? String(gid);
}

/**
 * Who capture runs as once the capture is open, or null to keep the current credentials:
 * `--user root`, or a process that is not root (it has nothing to drop and cannot switch).
 */
export function resolveRunAs(requested: string | null): RunAs | null {
  const euid = process.geteuid?.() ?? 0;
  if (requested === 'root' || requested === '0') return null;
  if (euid !== 0) {
    if (requested === null) return null;
    const u = lookup('passwd', requested);
    if (u !== null && u.id === euid) return null;
    throw new UsageError(`--user ${requested}: switching users needs root (running as uid ${euid}); leave --user out to run as you are`);
  }
  let user: DbEntry | null = null;
  if (requested !== null) {
    user = lookup('passwd', requested);
    if (user === null) throw new UsageError(`--user ${requested}: no such user`);
  } else {
    for (const name of DEFAULT_USERS) if ((user = lookup('passwd', name)) !== null) break;
    if (user === null) throw new UsageError(`capture drops root after opening the interface, but neither user "slowshake" nor "nobody" exists: create one (useradd --system --no-create-home slowshake), or pass --user NAME or --user root`);
  }
  if (user.id === 0) return null; // another name for root
  const journal = lookup('group', JOURNAL_GROUP);
  const groups = [user.gid];
  if (journal !== null && journal.id !== user.gid) groups.push(journal.id);
  return { name: user.name, uid: user.id, gid: user.gid, groups, groupNames: groups.map(groupName), journalGid: journal?.id ?? null };
}

/** Whether `who` may access a file with `st` for `bits` (4 read, 2 write, 1 search) by its mode bits. */
export function modeAllows(st: Stats, who: RunAs, bits: number): boolean {
  if (st.uid === who.uid) return ((st.mode >> 6) & bits) === bits;
  if (who.groups.includes(st.gid) || st.gid === who.gid) return ((st.mode >> 3) & bits) === bits;
  return (st.mode & bits) === bits;
}

/** "owner root:root, mode 0700" for messages. */
export function ownerText(st: Stats): string {
  const user = lookup('passwd', String(st.uid))?.name ?? String(st.uid);
  return `owner ${user}:${groupName(st.gid)}, mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')}`;
}

/** "nobody (uid 65534, groups nogroup, systemd-journal)" */
export function runAsText(who: RunAs): string {
  return `${who.name} (uid ${who.uid}, groups ${who.groupNames.join(', ')})`;
}

/** Capabilities in the effective and permitted sets, from /proc/self/status. */
export function capabilitySets(status = readFileSync('/proc/self/status', 'utf8')): { eff: bigint; prm: bigint } {
  const hex = (k: string): bigint => {
    const m = new RegExp(`^${k}:\\s*([0-9a-f]+)$`, 'm').exec(status);
    return m ? BigInt(`0x${m[1]}`) : -1n; // unknown counts as "not dropped"
  };
  return { eff: hex('CapEff'), prm: hex('CapPrm') };
}

/** Becomes `who` for good: groups, gid, uid, in that order (gid and groups need root). Throws when it did not take. */
export function dropPrivileges(who: RunAs): void {
  process.setgroups!(who.groups);
  process.setgid!(who.gid);
  process.setuid!(who.uid);
  const caps = capabilitySets();
  const ok = process.getuid!() === who.uid && process.geteuid!() === who.uid && process.getgid!() === who.gid &&
    process.getegid!() === who.gid && caps.eff === 0n && caps.prm === 0n;
  if (!ok) {
    throw new Error(`dropping privileges to ${runAsText(who)} did not take: uid ${process.getuid!()}/${process.geteuid!()}, gid ${process.getgid!()}/${process.getegid!()}, ` +
      `CapEff ${caps.eff.toString(16)}, CapPrm ${caps.prm.toString(16)}`);
  }
}

/**
 * Runs `f` with `who`'s effective uid, gid and groups, then returns to root: file opens inside
 * are checked exactly as they will be after the drop (ACLs included). Only the effective ids
 * change, so the real and saved uid stay 0 and the way back is open (capabilities(7): the
 * effective set is cleared on the way out and refilled from the permitted set on the way back).
 */
export function asUser<T>(who: RunAs, f: () => T): T {
  const groups = process.getgroups!();
  const egid = process.getegid!();
  process.setgroups!(who.groups);
  process.setegid!(who.gid);
  process.seteuid!(who.uid);
  try {
    return f();
  } finally {
    process.seteuid!(0);
    process.setegid!(egid);
    process.setgroups!(groups);
  }
}

/**
 * Why `who` cannot read the journal it is to follow, or null; run as `who` (asUser, or after the
 * drop). The folders and files are those the follower polls (sources/journal-files.ts): the
 * active files only, since following starts at the tail. No journal files at all is not this
 * check's business (journald.ts systemJournalProblem says that).
 */
export function journalReadProblem(who: RunAs, directory: string | null): string | null {
  const p = journalAccessProblem(journalLocation(directory));
  if (p === null) return null;
  const fix = who.journalGid === null
    ? `there is no group ${JOURNAL_GROUP} on this machine to grant it; pass --user root, or --no-journal`
    : `make the journal readable by group ${JOURNAL_GROUP} (systemd's own permissions: systemd-tmpfiles --create --prefix=/run/log/journal --prefix=/var/log/journal), or pass --user root`;
  return `${p.file ? `the journal file ${p.path}` : `the journal in ${p.path}`} is not readable by user ${runAsText(who)} (${p.code}; ${statText(p.path)}): ${fix}`;
}

function statText(path: string): string {
  try { return ownerText(statSync(path)); } catch { return 'not inspectable'; }
}
