/** Option values shared by several commands. */
import { UsageError } from './errors.js';
import { PROXY_CLOCKS, type ProxyClock } from '../correlate/proxy-lag.js';
import { DEFAULTS } from '../config/defaults.js';

export type OutputFormat = 'table' | 'json' | 'ndjson';

/** --format (or SLOWSHAKE_FORMAT): table on a terminal, ndjson when stdout is not one. */
export function outputFormat(flag: string | undefined, env: NodeJS.ProcessEnv): OutputFormat {
  const format = flag ?? env.SLOWSHAKE_FORMAT ?? (process.stdout.isTTY ? 'table' : 'ndjson');
  if (format !== 'table' && format !== 'json' && format !== 'ndjson') {
    throw new UsageError(`--format: expected table, json or ndjson, got "${format}"`);
  }
  return format;
}

/** --proxy-clock: where the proxy's handshake clock starts (see correlate/proxy-lag.ts). */
export function proxyClock(text: string | undefined): ProxyClock {
  const v = text ?? DEFAULTS.handshake.proxyClock;
  if (!(PROXY_CLOCKS as readonly string[]).includes(v)) throw new UsageError(`--proxy-clock: expected accept or syn, got "${v}"`);
  return v as ProxyClock;
}

/** A millisecond option such as --slow or --event-margin: a number >= 0. */
export function milliseconds(option: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`${option}: expected a number of milliseconds >= 0, got "${text}"`);
  return n;
}
