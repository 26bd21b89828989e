import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
export const CLI = join(ROOT, 'dist/cli/index.js');
export const CAPTURES = join(ROOT, 'captures/tls');

export interface CliResult { status: number | null; stdout: string; stderr: string }

/** Runs the built CLI (scripts/test.sh builds before testing). */
export function runCli(args: string[], opts: { input?: Buffer | string; env?: NodeJS.ProcessEnv; cwd?: string } = {}): CliResult {
  const r = spawnSync(process.execPath, [CLI, ...args], {
    input: opts.input, env: { ...process.env, ...opts.env }, cwd: opts.cwd ?? ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function tempDir(prefix = 'slowshake-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}
