/** Option values shared by several commands. */
import { UsageError } from './errors.js';

export type OutputFormat = 'table' | 'json' | 'ndjson';

/** --format (or SLOWSHAKE_FORMAT): table on a terminal, ndjson when stdout is not one. */
export function outputFormat(flag: string | undefined, env: NodeJS.ProcessEnv): OutputFormat {
  const format = flag ?? env.SLOWSHAKE_FORMAT ?? (process.stdout.isTTY ? 'table' : 'ndjson');
  if (format !== 'table' && format !== 'json' && format !== 'ndjson') {
    throw new UsageError(`--format: expected table, json or ndjson, got "${format}"`);
  }
  return format;
}
