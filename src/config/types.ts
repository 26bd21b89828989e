/**
 * The zod types of sizes and durations, shared by the config file's keys (schema.ts) and the
 * alert rule tables (src/alert/rules.ts). Sizes are bytes or strings ("256MiB", "64k");
 * durations are strings with their unit ("250ms", "2s", "7d"), through units.ts as the command
 * line's are.
 */
import { z } from 'zod';
import { durationOf, formatDuration, formatSize, sizeOf } from './units.js';

/** Types whose values print as sizes / durations in the default file. */
export const SIZE_TYPES = new WeakSet<z.ZodType>();
export const DURATION_TYPES = new WeakSet<z.ZodType>();

const SIZE = 'a size such as 256MiB, 64k or 65536';
const DURATION = 'a duration such as 250ms, 2s, 10m, 1h or 7d';

export function size(min: number, max: number): z.ZodType {
  const t = z.unknown().transform((v, ctx) => {
    const n = typeof v === 'number' ? (Number.isInteger(v) && v >= 0 ? v : null) : typeof v === 'string' ? sizeOf(v) : null;
    if (n === null) ctx.addIssue({ code: 'custom', message: SIZE });
    else if (n < min || n > max) ctx.addIssue({ code: 'custom', message: `a size between ${formatSize(min)} and ${formatSize(max)}` });
    return n ?? 0;
  });
  SIZE_TYPES.add(t);
  return t;
}

export function duration(minMs: number, maxMs: number): z.ZodType {
  // A unit is required: a bare 200 would be seconds by the command line's rule, and a slow
  // threshold of 200 s is never what was meant.
  const t = z.unknown().transform((v, ctx) => {
    const n = typeof v === 'string' && /[a-z]\s*$/.test(v) ? durationOf(v) : null;
    if (n === null) ctx.addIssue({ code: 'custom', message: `${DURATION} (a string with its unit)` });
    else if (n < minMs || n > maxMs) ctx.addIssue({ code: 'custom', message: `a duration between ${formatDuration(minMs)} and ${formatDuration(maxMs)}` });
    return n ?? 0;
  });
  DURATION_TYPES.add(t);
  return t;
}
