/**
 * Everything `capture` writes, checked and opened at start (issue 8).
 *
 * 1. `checkOutputs` (no side effects, before the device opens): --out, --records, --dump-ring
 *    and --journal-dir that cannot be used — a file where a directory belongs, read-only, a
 *    missing parent that cannot be created, a journal directory that does not exist, an --out the
 *    dropped user cannot write — are a UsageError: one line, exit 2, as `analyze --out` does.
 * 2. `openOutputs` (after the capture handle is open, before the privilege drop): what the user
 *    capture continues as could not create or open itself is made now, the way tcpdump opens its
 *    -w file before -Z takes effect: missing directories are created 0700 and chowned to it and
 *    held by fd (pcap-writer.ts OutputDir), the record stream is opened (created 0600, chowned),
 *    and a --dump-ring whose directory it cannot write is created and kept open (written in
 *    place at the end: no temp file and rename are possible there after the drop). Stale temp
 *    files of dead slowshake writers (names it writes, owned by the user it writes as) are
 *    removed from the directories written to.
 *    With a drop, --out is always created and held, even with --no-journal: a SIGUSR1 snapshot
 *    goes there. Without a drop (`--user root`, or not root) directories are still created on
 *    first use, so a quiet spot check leaves nothing behind.
 */
import { accessSync, constants, statSync, type Stats } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ensurePrivateDir, describeError, isOutName, OutputDir, PreopenedFile, removeStaleTemps, type FileOwner } from '../sinks/pcap-writer.js';
import { RecordStreamWriter } from '../sinks/protobuf-records.js';
import { UsageError } from './errors.js';
import { modeAllows, ownerText, type RunAs } from './privileges.js';

export interface OutputRequest {
  /** --out, resolved. */
  out: string;
  /**
   * --out is made at start (events are followed, --out was given, or privileges are dropped:
   * a SIGUSR1 snapshot can be asked for at any time, and the dropped user may not be able to
   * create --out then).
   */
  outNeeded: boolean;
  /** The record stream, resolved; null when no records are made (no journal). */
  records: string | null;
  /** --dump-ring, resolved. */
  dumpRing: string | null;
  journalDir: string | null;
}

interface DirCheck {
  path: string;
  exists: boolean;
  /** The user after the drop can create files in it (always true without a drop, or when we create it). */
  writable: boolean;
}

export interface OutputPlan {
  req: OutputRequest;
  out: DirCheck;
  records: { path: string; exists: boolean; dir: DirCheck | null } | null;
  dump: DirCheck | null;
}

/** Where the ring dump goes: a directory written atomically, or a file opened before the drop. */
export type DumpTarget = { dir: OutputDir; name: string } | { file: PreopenedFile };

export interface CaptureOutputs {
  out: OutputDir;
  /** Opened at start, or null: opened at the first record, at `recordsPath`. */
  records: RecordStreamWriter | null;
  recordsPath: string | null;
  dump: DumpTarget | null;
  /** Stale temp files removed at start, by directory. */
  staleRemoved: { dir: string; names: string[] }[];
  close(): void;
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/**
 * A directory capture writes into (`target` itself, or the directory of the file `target`):
 * usable now, or creatable (its nearest existing ancestor is a writable directory).
 */
function checkDir(opt: string, dir: string, runAs: RunAs | null, target = dir): DirCheck {
  const what = target === dir ? `${opt} ${dir}:` : `${opt} ${target}: ${dir}`;
  let st: Stats | null = null;
  try {
    st = statSync(dir);
  } catch (err) {
    if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw new UsageError(`${what} ${describeError(err)}`);
  }
  if (st !== null) {
    if (!st.isDirectory()) throw new UsageError(`${what} ${target === dir ? 'exists and ' : ''}is not a directory`);
    try {
      accessSync(dir, constants.W_OK | constants.X_OK); // as root too: EROFS
    } catch (err) {
      throw new UsageError(`${what} ${target === dir ? 'not' : 'is not'} writable: ${describeError(err)}`);
    }
    return { path: dir, exists: true, writable: runAs === null || modeAllows(st, runAs, 0o3) };
  }
  let anc = dirname(dir);
  for (;;) {
    let a: Stats;
    try {
      a = statSync(anc);
    } catch (err) {
      if ((code(err) === 'ENOENT' || code(err) === 'ENOTDIR') && dirname(anc) !== anc) { anc = dirname(anc); continue; }
      throw new UsageError(`${opt} ${target}: cannot be created: ${anc}: ${describeError(err)}`);
    }
    if (!a.isDirectory()) throw new UsageError(`${opt} ${target}: cannot be created: ${anc} is not a directory`);
    break;
  }
  try {
    accessSync(anc, constants.W_OK | constants.X_OK);
  } catch (err) {
    throw new UsageError(`${opt} ${target}: cannot be created in ${anc}: ${describeError(err)}`);
  }
  return { path: dir, exists: false, writable: true };
}

/**
 * Refuses, in one line, every output that cannot be used. `runAs`: the user capture continues
 * as (null: no drop).
 */
export function checkOutputs(req: OutputRequest, runAs: RunAs | null): OutputPlan {
  const out = checkDir('--out', req.out, runAs);
  if (req.outNeeded && out.exists && !out.writable) {
    // A directory fd does not help: creating files needs write permission on the directory itself.
    const st = statSync(req.out);
    throw new UsageError(`--out ${req.out}: user ${runAs!.name}, whom capture runs as after opening the interface, cannot write to it (${ownerText(st)}): ` +
      `chown ${runAs!.name} ${req.out}, choose a new directory (capture creates it), or pass --user root`);
  }
  let records: OutputPlan['records'] = null;
  if (req.records !== null) {
    let st: Stats | null = null;
    try {
      st = statSync(req.records);
    } catch (err) {
      if (code(err) !== 'ENOENT' && code(err) !== 'ENOTDIR') throw new UsageError(`--records ${req.records}: ${describeError(err)}`);
    }
    if (st !== null && st.isDirectory()) throw new UsageError(`--records ${req.records}: is a directory`);
    const dir = st === null ? (dirname(req.records) === req.out ? out : checkDir('--records', dirname(req.records), runAs, req.records)) : null;
    records = { path: req.records, exists: st !== null, dir };
  }
  const dump = req.dumpRing !== null ? checkDir('--dump-ring', dirname(req.dumpRing), runAs, req.dumpRing) : null;
  if (req.journalDir !== null) {
    let st: Stats;
    try {
      st = statSync(req.journalDir);
    } catch (err) {
      throw new UsageError(code(err) === 'ENOENT' ? `--journal-dir ${req.journalDir}: no such directory` : `--journal-dir ${req.journalDir}: ${describeError(err)}`);
    }
    if (!st.isDirectory()) throw new UsageError(`--journal-dir ${req.journalDir}: not a directory`);
  }
  return { req, out, records, dump };
}

/** Runs one setup step; a failure (a race since the check, a full disk) is one line naming the option. */
function step<T>(opt: string, path: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const e = err as Error & { file?: string };
    throw new UsageError(e.file !== undefined ? `${opt}: ${e.message}` : `${opt} ${path}: ${describeError(err)}`);
  }
}

/** Creates and opens what the plan needs before the privilege drop (see the file comment). */
export function openOutputs(plan: OutputPlan, runAs: RunAs | null): CaptureOutputs {
  const owner: FileOwner | undefined = runAs ? { uid: runAs.uid, gid: runAs.gid } : undefined;
  const held: OutputDir[] = [];
  const staleRemoved: CaptureOutputs['staleRemoved'] = [];
  // Only what this program writes, as the user it writes as: --out and --dump-ring may be a
  // shared directory (/tmp) where other programs keep temp files of the same .NAME.PID.tmp form.
  const uid = runAs?.uid ?? process.geteuid?.() ?? 0;
  const clean = (d: OutputDir, ours: (name: string) => boolean): void => {
    const names = removeStaleTemps(d, uid, ours);
    if (names.length) staleRemoved.push({ dir: d.path, names });
  };
  const hold = (opt: string, path: string): OutputDir => step(opt, path, () => {
    ensurePrivateDir(path, owner);
    const d = OutputDir.hold(path);
    held.push(d);
    return d;
  });
  let records: RecordStreamWriter | null = null;
  try {
    const out = runAs !== null && plan.req.outNeeded ? hold('--out', plan.out.path) : new OutputDir(plan.out.path);
    if (plan.out.exists || out.held) clean(out, isOutName);
    let recordsPath: string | null = null;
    if (plan.records !== null) {
      const r = plan.records;
      recordsPath = r.path;
      if (r.exists || runAs !== null) {
        // An existing stream is opened now either way: its framing is checked at start.
        if (!r.exists) step('--records', dirname(r.path), () => ensurePrivateDir(dirname(r.path), owner));
        records = step('--records', r.path, () => RecordStreamWriter.open(r.path, { owner }));
      }
    }
    let dump: DumpTarget | null = null;
    if (plan.req.dumpRing !== null && plan.dump !== null) {
      const name = basename(plan.req.dumpRing);
      const isDump = (n: string): boolean => n === name;
      if (runAs === null) {
        dump = { dir: new OutputDir(plan.dump.path), name }; // created when the dump is written
        if (plan.dump.exists) clean(dump.dir, isDump);
      } else if (plan.dump.writable) {
        dump = { dir: hold('--dump-ring', plan.dump.path), name };
        clean(dump.dir, isDump);
      } else {
        // The user after the drop cannot create files here (/root): open the dump file itself
        // now and write it in place at the end.
        const dir = plan.dump.path;
        clean(new OutputDir(dir), isDump);
        dump = { file: step('--dump-ring', plan.req.dumpRing, () => PreopenedFile.create(dir, name, owner)) };
      }
    }
    return {
      out, records, recordsPath, dump, staleRemoved,
      close: () => { for (const d of held) { try { d.close(); } catch { /* closed */ } } },
    };
  } catch (err) {
    for (const d of held) { try { d.close(); } catch { /* closed */ } }
    records?.close();
    throw err;
  }
}
