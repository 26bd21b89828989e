/**
 * Issue 8 item 3, input from pipes: `slowshake analyze <(zcat dump.pcap.gz)` and a FIFO failed
 * with "internal error: ESPIPE: invalid seek" (format detection read the magic with a positioned
 * read). Process substitution (/dev/fd/N), a FIFO (mkfifo), stdin (`-`) and gzip through each
 * must give exactly the output of the file itself, also for a capture far larger than a pipe's
 * buffer (records straddle reads), and broken input through a pipe is still one line naming the
 * input and the byte offset.
 *
 * Runs the built CLI (dist/cli/index.js). Every child is spawned here and killed by PID when the
 * test ends, whether or not it passed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CAPTURES, CLI, runCli, tempDir, type CliResult } from '../helpers/cli.js';
import { replicateCapture } from '../helpers/replicate.js';

const FAST = join(CAPTURES, 'fast-tls13.pcap');
const NG = join(CAPTURES, 'network-delay-ns.pcapng');

let dir: string;
let big: string;
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = tempDir('slowshake-pipes-');
  big = join(dir, 'big.pcap');
  writeFileSync(big, replicateCapture(FAST, 400)); // ~10 MB: many pipe reads, more than one 4 MiB chunk
  writeFileSync(join(dir, 'big.pcap.gz'), gzipSync(readFileSync(big)));
});
afterEach(() => {
  for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null && c.pid) process.kill(c.pid, 'SIGKILL');
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function start(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(c);
  return c;
}

function collect(c: ChildProcess, timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    let stdout = '', stderr = '';
    c.stdout!.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    c.stderr!.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const t = setTimeout(() => reject(new Error(`timed out; stderr: ${stderr}`)), timeoutMs);
    c.on('close', (status) => { clearTimeout(t); resolve({ status, stdout, stderr }); });
  });
}

/** `analyze ARGS <(PRODUCER)` through bash process substitution (/dev/fd/N). */
function viaProcessSubstitution(producer: string, file: string, args: string[] = ['--format', 'ndjson']): Promise<CliResult> {
  return collect(start('bash', ['-c', `exec "$0" "$1" analyze ${args.join(' ')} <(${producer} "$2")`, process.execPath, CLI, file]));
}

/** `analyze ARGS FIFO` with PRODUCER writing the FIFO from another process. */
async function viaFifo(producer: string, file: string, args: string[] = ['--format', 'ndjson']): Promise<CliResult & { fifo: string }> {
  const fifo = join(dir, `fifo-${children.length}`);
  execFileSync('mkfifo', [fifo]);
  try {
    const writer = start('sh', ['-c', `exec ${producer} "$0" > "$1"`, file, fifo]);
    const reader = collect(start(process.execPath, [CLI, 'analyze', ...args, fifo]));
    const [r] = await Promise.all([reader, collect(writer)]);
    return { ...r, fifo };
  } finally {
    rmSync(fifo, { force: true });
  }
}

function expectSame(r: CliResult, want: CliResult): void {
  expect(r.stderr).toBe(want.stderr);
  expect(r.status).toBe(0);
  expect(r.stdout).toBe(want.stdout);
}

describe('analyze reads pipes, FIFOs and process substitution like a file', () => {
  it('process substitution: <(cat f.pcap) gives the file\'s output', async () => {
    const want = runCli(['analyze', '--format', 'ndjson', FAST]);
    expect(want.status).toBe(0);
    expect(want.stdout.trim().split('\n')).toHaveLength(3);
    expectSame(await viaProcessSubstitution('cat', FAST), want);
  });

  it('a FIFO (mkfifo) gives the file\'s output', async () => {
    expectSame(await viaFifo('cat', FAST), runCli(['analyze', '--format', 'ndjson', FAST]));
  });

  it('gzip through process substitution, a FIFO and stdin', async () => {
    const want = runCli(['analyze', '--format', 'ndjson', FAST]);
    expectSame(await viaProcessSubstitution('gzip -c', FAST), want);
    expectSame(await viaFifo('gzip -c', FAST), want);
    expectSame(runCli(['analyze', '--format', 'ndjson', '-'], { input: gzipSync(readFileSync(FAST)) }), want);
  });

  it('stdin: cat f | analyze -', () => {
    expectSame(runCli(['analyze', '--format', 'ndjson', '-'], { input: readFileSync(FAST) }), runCli(['analyze', '--format', 'ndjson', FAST]));
  });

  it('pcapng through process substitution and a FIFO', async () => {
    const want = runCli(['analyze', '--format', 'ndjson', NG]);
    expect(want.stdout.trim().length).toBeGreaterThan(0);
    expectSame(await viaProcessSubstitution('cat', NG), want);
    expectSame(await viaFifo('cat', NG), want);
  });

  it('a 10 MB capture (records straddling pipe reads and chunks), plain and gzip, every way in', async () => {
    const want = runCli(['analyze', '--format', 'ndjson', big]);
    expect(want.status).toBe(0);
    expect(want.stdout.trim().split('\n')).toHaveLength(1200);
    const gz = join(dir, 'big.pcap.gz');
    expectSame(await viaProcessSubstitution('cat', big), want);
    expectSame(await viaFifo('cat', big), want);
    expectSame(await viaProcessSubstitution('gzip -dc', gz), want);
    expectSame(await viaFifo('gzip -dc', gz), want);
    expectSame(await viaProcessSubstitution('cat', gz), want);
    expectSame(runCli(['analyze', '--format', 'ndjson', '-'], { input: readFileSync(big) }), want);
    // Table output too (its summary and table are on stdout).
    expectSame(await viaProcessSubstitution('cat', big, ['--format', 'table', '--all']), runCli(['analyze', '--format', 'table', '--all', big]));
  });
});

describe('broken input through a pipe: one line naming the input and the byte offset', () => {
  const corrupt = (): { file: string; offset: number } => {
    const d = Buffer.from(readFileSync(FAST));
    let o = 24;
    for (let i = 0; i < 10; i++) o += 16 + d.readUInt32LE(o + 8);
    d.writeUInt32LE(0x7fffffff, o + 8);
    const file = join(dir, 'corrupt.pcap');
    writeFileSync(file, d);
    return { file, offset: o };
  };

  it('a corrupt record length', async () => {
    const { file, offset } = corrupt();
    for (const r of [await viaProcessSubstitution('cat', file), await viaFifo('cat', file), await viaProcessSubstitution('gzip -c', file)]) {
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^slowshake: (/dev/fd/\\d+|${dir}/fifo-\\d+): byte ${offset}: record length 2147483647 exceeds the maximum`, 'm'));
      expect(r.stderr).toMatch(/Summary: 10 packets/);
      expect(r.stderr).not.toMatch(/internal error|\n\s+at /);
    }
    const f = await viaFifo('cat', file);
    expect(f.stderr).toContain(`${f.fifo}: byte ${offset}: record length`);
  });

  it('not a capture, and an empty pipe', async () => {
    const text = join(dir, 'text.pcap');
    writeFileSync(text, 'hello world, not a capture\n');
    const r = await viaProcessSubstitution('cat', text);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^slowshake: \/dev\/fd\/\d+: byte 0: not a pcap or pcapng file \(magic 0x68656c6c\)\n$/);
    const empty = await viaFifo('cat', '/dev/null');
    expect(empty.status).toBe(2);
    expect(empty.stderr).toBe(`slowshake: ${empty.fifo}: byte 0: empty file (no pcap or pcapng header)\n`);
  });

  it('a truncated last record through a pipe is a warning with its offset (exit 0)', async () => {
    const full = readFileSync(FAST);
    const cut = join(dir, 'cut.pcap');
    writeFileSync(cut, full.subarray(0, full.length - 10));
    const r = await viaProcessSubstitution('cat', cut);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/slowshake: warning: \/dev\/fd\/\d+: byte \d+: truncated last record \(\d+ of \d+ bytes\)/);
    expect(r.stderr).toBe(runCli(['analyze', '--format', 'ndjson', cut]).stderr.replace(cut, r.stderr.match(/\/dev\/fd\/\d+/)![0]));
  });
});
