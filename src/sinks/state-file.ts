/**
 * Small state files a daemon keeps across restarts (the journal cursor, later alert baselines),
 * replaced atomically (design.md style §9 "State on disk"): written to a temp file beside the
 * target, fsynced, renamed over it, and the directory fsynced, so a crash leaves the old or the
 * new file, never half of one. Files are 0600.
 */
import { closeSync, constants, fsyncSync, openSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { writeAndRename } from './pcap-writer.js';

/** A state file that exists but cannot be read or understood: names the file and what is wrong. */
export class StateFileError extends Error {
  readonly code = 'SLOWSHAKE_ERR_STATE_FILE';
  constructor(readonly path: string, what: string) {
    super(`${path}: ${what}`);
    this.name = 'StateFileError';
  }
}

/** Replaces `path` with `text` atomically. Throws the system error (with its code) on failure. */
export function writeStateFile(path: string, text: string): void {
  writeAndRename(join(dirname(path), `.${basename(path)}.${process.pid}.tmp`), path, Buffer.from(text));
  const d = openSync(dirname(path), constants.O_RDONLY | constants.O_DIRECTORY);
  try { fsyncSync(d); } finally { closeSync(d); }
}

/** The text of `path`, or null when it does not exist; StateFileError when it cannot be read. */
export function readStateFile(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return null;
    throw new StateFileError(path, `cannot read: ${code ?? (err as Error).message}`);
  }
}
