/**
 * Blocking writes to standard output for the CLI. When stdout is a pipe Node may have made it
 * non-blocking, and a slow reader (`| less`, `| (sleep 2; wc -l)`) makes writeSync fail with
 * EAGAIN; then we wait a millisecond (Atomics.wait: a real sleep, no busy loop) and retry, so
 * output is never cut short and memory never fills with queued writes.
 */
import { writeSync } from 'node:fs';

const sleeper = new Int32Array(new SharedArrayBuffer(4));

export function writeStdout(s: string): void {
  writeStdoutBytes(Buffer.from(s));
}

export function writeStdoutBytes(b: Uint8Array): void {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(1, b, off, b.length - off);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  }
}
