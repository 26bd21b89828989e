/**
 * Regression: with stdout a pipe whose reader is slow, writeSync failed with EAGAIN and analyze
 * stopped with "internal error" after part of the records. Output must be complete.
 */
import { describe, expect, it, afterAll } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { replicateCapture } from '../helpers/replicate.js';
import { CAPTURES, CLI, tempDir } from '../helpers/cli.js';

const dir = tempDir();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('analyze into a slow pipe', () => {
  it('writes every record (no EAGAIN) and exits 0', () => {
    const f = join(dir, 'many.pcap');
    writeFileSync(f, replicateCapture(join(CAPTURES, 'client-think.pcap'), 600));
    const r = spawnSync('bash', ['-c', `node "${CLI}" analyze "${f}" --format ndjson 2>"${dir}/err" | (sleep 1; wc -l); echo "rc=\${PIPESTATUS[0]}"`], { encoding: 'utf8' });
    const [count, rc] = r.stdout.trim().split('\n');
    expect(rc).toBe('rc=0');
    expect(Number(count)).toBe(1800);
  });
});
