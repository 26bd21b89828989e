/**
 * Sizes ("512MiB", "1GiB", "64M", "4096") and durations ("30s", "10m", "1h", "250ms", "2") as
 * CLI and config values. Errors name the option and the expected form.
 */
import { UsageError } from '../cli/errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4,
};

export function parseSize(option: string, text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${option}: expected a size such as 512MiB, 1GiB or 65536, got "${text}"`);
  return Math.floor(Number(m[1]) * unit);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, '': 1000 };

/** Milliseconds. A bare number is seconds. */
export function parseDuration(option: string, text: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/.exec(text);
  const unit = m ? DURATION_UNITS[m[2]!] : undefined;
  if (!m || unit === undefined) throw new UsageError(`${option}: expected a duration such as 30s, 10m or 1h, got "${text}"`);
  return Number(m[1]) * unit;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 ? 1 : 0)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(n % 1024 ** 2 ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
