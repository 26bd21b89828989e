/**
 * Sizes ("512MiB", "1GiB", "64M", "4096") and durations ("30s", "10m", "1h", "250ms", "2") as
 * CLI and config values. Errors name the option and the expected form.
 */
import { UsageError } from '../cli/errors.js';

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, k: 1e3, kb: 1e3, kib: 1024, m: 1e6, mb: 1e6, mib: 1024 ** 2, g: 1e9, gb: 1e9, gib: 1024 ** 3, t: 1e12, tb: 1e12, tib: 1024 ** 4,
};

/** Bytes, or null when `text` is not a size. */
export function sizeOf(text: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  return m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : null;
}

export function parseSize(option: string, text: string): number {
  const n = sizeOf(text);
  if (n === null) throw new UsageError(`${option}: expected a size such as 512MiB, 1GiB or 65536, got "${text}"`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000, '': 1000 };

/** Milliseconds, or null when `text` is not a duration. A bare number is seconds. */
export function durationOf(text: string): number | null {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/.exec(text);
  const unit = m ? DURATION_UNITS[m[2]!] : undefined;
  return m && unit !== undefined ? Number(m[1]) * unit : null;
}

/** Milliseconds. A bare number is seconds. */
export function parseDuration(option: string, text: string): number {
  const n = durationOf(text);
  if (n === null) throw new UsageError(`${option}: expected a duration such as 30s, 10m or 1h, got "${text}"`);
  return n;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(n % 1024 ** 3 ? 1 : 0)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(n % 1024 ** 2 ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}

/** A byte count as the config file writes it: the largest binary unit that divides it ("256MiB"). */
export function formatSize(n: number): string {
  for (const [u, f] of [['TiB', 1024 ** 4], ['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}

/** Milliseconds as the config file writes them: the largest unit that divides it ("2s", "7d"). */
export function formatDuration(ms: number): string {
  for (const [u, f] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) {
    if (ms >= f && ms % f === 0) return `${ms / f}${u}`;
  }
  return `${ms}ms`;
}
