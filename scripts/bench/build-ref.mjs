// Builds the analyzer of a git ref for "before" runs: src/ from git archive, compiled with this
// tree's TypeScript into `dir` (the work tree is not touched); node_modules is a symlink, so the
// native addon is this tree's (the JS analysis is what a --before run compares).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';

const MiB = 1024 * 1024;

/** Returns { app: dir, rev } with dir/dist/cli/index.js built from `ref`; throws with a one-line reason. */
export function buildRef(root, ref, dir) {
  mkdirSync(dir, { recursive: true });
  const tar = spawnSync('git', ['-C', root, 'archive', '--format=tar', ref, 'src', 'tsconfig.json', 'package.json'], { maxBuffer: 256 * MiB });
  if (tar.status !== 0) throw new Error(`--before ${ref}: git archive failed: ${tar.stderr.toString().trim()}`);
  const x = spawnSync('tar', ['-x', '-C', dir], { input: tar.stdout });
  if (x.status !== 0) throw new Error(`--before ${ref}: tar failed: ${x.stderr.toString().trim()}`);
  if (!existsSync(join(dir, 'node_modules'))) symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
  const tsc = spawnSync(join(root, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { encoding: 'utf8', timeout: 300_000 });
  if (!existsSync(join(dir, 'dist/cli/index.js'))) {
    throw new Error(`--before ${ref}: the build produced no dist/cli/index.js: ${(tsc.stdout + tsc.stderr).trim().split('\n').slice(-2).join(' | ')}`);
  }
  const rev = spawnSync('git', ['-C', root, 'rev-parse', '--short', ref], { encoding: 'utf8' }).stdout.trim();
  return { app: dir, rev };
}
