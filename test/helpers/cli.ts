import { expect } from 'vitest';
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

/** Bad input ends as one line on stderr, exit 2, no stack trace. */
export function expectOneLineError(r: CliResult, pattern: RegExp): void {
  expect(r.status).toBe(2);
  const lines = r.stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}
