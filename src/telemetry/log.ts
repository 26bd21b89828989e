/**
 * Structured logs (pino) on stderr. User-facing results and one-line errors are plain text; these
 * logs carry operational detail for whoever runs slowshake as a service or debugs it.
 * Level from SLOWSHAKE_LOG_LEVEL (default "warn"); messages are capitalised sentences ending with
 * a period, fields structured (style.md §2).
 */
import { pino } from 'pino';

export const log = pino(
  { name: 'slowshake', level: process.env.SLOWSHAKE_LOG_LEVEL ?? 'warn', base: { pid: process.pid } },
  pino.destination({ dest: 2, sync: true }),
);
