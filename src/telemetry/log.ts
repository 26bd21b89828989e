/**
 * Structured logs (pino) on stderr. User-facing results and one-line errors are plain text; these
 * logs carry operational detail for whoever runs slowshake as a service or debugs it.
 * Level from SLOWSHAKE_LOG_LEVEL (default "warn"); messages are capitalised sentences ending with
 * a period, fields structured (style.md §2).
 *
 * pino is loaded on the first message at an enabled level: loading it costs ~50 ms of start-up,
 * and `analyze` on its defaults logs nothing (issue 13).
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';

const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };
const level = process.env.SLOWSHAKE_LOG_LEVEL ?? 'warn';
const threshold = LEVELS[level] ?? 0; // an unknown level: let pino itself judge (and complain)
let real: Logger | null = null;

function logger(): Logger {
  if (real === null) {
    const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
    real = pino({ name: 'slowshake', level, base: { pid: process.pid } }, pino.destination({ dest: 2, sync: true }));
  }
  return real;
}

type LogFn = (obj: object, msg?: string) => void;
const at = (name: 'debug' | 'info' | 'warn' | 'error', n: number): LogFn => (obj, msg) => {
  if (n >= threshold) logger()[name](obj, msg);
};

export const log = { debug: at('debug', 20), info: at('info', 30), warn: at('warn', 40), error: at('error', 50) };
