/**
 * `slowshake capture -i IFACE`: live capture into the native ring.
 *
 * 1. Validate options (sizes, durations, ranges) and open the device; errors are one line.
 * 2. While capturing: a one-line status on a TTY (packets/s, ring reach, kernel drops,
 *    overwrites); SIGUSR1 writes a whole-ring snapshot into --out while capture goes on.
 * 3. On --duration, SIGINT/SIGTERM, or the interface going away: stop within a second, write
 *    --dump-ring, print the summary with the same figures.
 */
import { parseArgs } from 'node:util';
import { LiveCapture, CAPTURE_DEFAULTS, CaptureError, type CaptureOptions, type NativeStats } from '../sources/live-capture.js';
import { RingReader } from '../ring/reader.js';
import { AtomicCaptureWriter, ensurePrivateDir } from '../sinks/pcap-writer.js';
import { formatBytes, parseDuration, parseSize } from '../config/units.js';
import { EXIT_OK, UsageError } from './errors.js';
import { dirname, basename, resolve } from 'node:path';

const HELP = `usage: slowshake capture -i IFACE [options]

  -i, --interface IFACE    interface to capture on ("any" for all)           [SLOWSHAKE_INTERFACE]
  --filter BPF             capture filter (libpcap syntax)                    [SLOWSHAKE_FILTER]
  --snaplen BYTES          bytes kept per packet (default 262144)
  --buffer-size SIZE       kernel packet buffer (default 64MiB)               [SLOWSHAKE_BUFFER_SIZE]
  --ring-size SIZE         packet ring in memory (default 256MiB; 512MiB, 1GiB …) [SLOWSHAKE_RING_SIZE]
  --no-promisc             do not put the interface into promiscuous mode
  --duration TIME          stop after TIME (30s, 10m, 1h); default: until Ctrl-C
  --dump-ring FILE         at the end, write everything the ring holds to FILE (.pcap or .pcapng)
  --out DIR                directory for SIGUSR1 snapshots (default ./slowshake-out)  [SLOWSHAKE_OUT]`;

export interface CaptureCliOptions {
  capture: CaptureOptions;
  durationMs: number | null;
  dumpRing: string | null;
  out: string;
}

export function parseCaptureOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): CaptureCliOptions | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: false,
      options: {
        interface: { type: 'string', short: 'i' }, filter: { type: 'string' }, snaplen: { type: 'string' },
        'buffer-size': { type: 'string' }, 'ring-size': { type: 'string' }, 'no-promisc': { type: 'boolean' },
        duration: { type: 'string' }, 'dump-ring': { type: 'string' }, out: { type: 'string' }, help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    throw new UsageError(`capture: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  if (v.help) return null;
  const device = v.interface ?? env.SLOWSHAKE_INTERFACE;
  if (!device) throw new UsageError('capture: -i/--interface IFACE is required');
  const snaplenText = v.snaplen ?? env.SLOWSHAKE_SNAPLEN;
  const bufText = v['buffer-size'] ?? env.SLOWSHAKE_BUFFER_SIZE;
  const ringText = v['ring-size'] ?? env.SLOWSHAKE_RING_SIZE;
  const durText = v.duration ?? env.SLOWSHAKE_DURATION;
  const durationMs = durText !== undefined ? parseDuration('--duration', durText) : null;
  if (durationMs !== null && durationMs <= 0) throw new UsageError(`--duration: must be positive, got "${durText}"`);
  const dump = v['dump-ring'] ?? null;
  if (dump !== null && !/\.pcap(ng)?$/.test(dump)) throw new UsageError(`--dump-ring: file name must end in .pcap or .pcapng, got "${dump}"`);
  return {
    capture: {
      ...CAPTURE_DEFAULTS,
      device,
      filter: v.filter ?? env.SLOWSHAKE_FILTER ?? '',
      snaplen: snaplenText !== undefined ? parseSize('--snaplen', snaplenText) : CAPTURE_DEFAULTS.snaplen,
      bufferSize: bufText !== undefined ? parseSize('--buffer-size', bufText) : CAPTURE_DEFAULTS.bufferSize,
      ringSize: ringText !== undefined ? parseSize('--ring-size', ringText) : CAPTURE_DEFAULTS.ringSize,
      promisc: !v['no-promisc'],
    },
    durationMs,
    dumpRing: dump,
    out: v.out ?? env.SLOWSHAKE_OUT ?? 'slowshake-out',
  };
}

/** Writes every intact record in the ring to one file, atomically. */
export function dumpRing(reader: RingReader, path: string, linkType: number): { path: string; packets: number; torn: number } {
  const dir = dirname(resolve(path));
  ensurePrivateDir(dir);
  const w = new AtomicCaptureWriter(dir, basename(path), path.endsWith('.pcapng') ? 'pcapng' : 'pcap',
    'slowshake capture: whole-ring snapshot', 262144, linkType);
  try {
    const r = reader.forEach((p) => w.write(p));
    return { path: w.close(), packets: w.packets, torn: r.torn };
  } catch (err) {
    w.abort();
    throw err;
  }
}

function statusLine(s: NativeStats, reachSec: number, ringSize: number): string {
  const used = Math.min(1, (s.head - s.tail) / ringSize);
  return `${fmtRate(s.pps)} pkt/s, ${s.packets} packets, ring reaches ${reachSec.toFixed(1)} s (${(used * 100).toFixed(0)}% full), ` +
    `kernel drops ${s.kernelDrops}, interface drops ${s.ifDrops}, ring overwrites ${s.overwrites}`;
}

function fmtRate(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}k` : String(n);
}

export async function run(argv: string[]): Promise<number> {
  const o = parseCaptureOptions(argv);
  if (o === null) {
    process.stdout.write(HELP + '\n');
    return EXIT_OK;
  }
  let cap: LiveCapture;
  try {
    cap = LiveCapture.open(o.capture);
  } catch (err) {
    if (err instanceof CaptureError) throw new UsageError(err.message);
    throw err;
  }
  const reader = new RingReader(cap);
  const started = Date.now();
  const tty = process.stderr.isTTY === true;
  process.stderr.write(`Capturing on ${o.capture.device}${o.capture.filter ? ` (filter: ${o.capture.filter})` : ''}, ring ${formatBytes(o.capture.ringSize)}, kernel buffer ${formatBytes(o.capture.bufferSize)}\n`);
  let snapshots = 0;
  let reason = 'stopped';
  let exitCode = EXIT_OK;
  await new Promise<void>((resolveStop) => {
    let done = false;
    const finish = (why: string): void => {
      if (done) return;
      done = true;
      reason = why;
      clearInterval(timer);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      process.off('SIGUSR1', onUsr1);
      resolveStop();
    };
    const onInt = (): void => finish('interrupted');
    const onTerm = (): void => finish('terminated');
    const onUsr1 = (): void => {
      try {
        ensurePrivateDir(o.out);
        const name = `snapshot-${new Date().toISOString().replace(/[:.]/g, '-')}.pcap`;
        const r = dumpRing(reader, resolve(o.out, name), cap.linkType);
        snapshots++;
        process.stderr.write(`${tty ? '\r\x1b[K' : ''}Snapshot: ${r.packets} packets written to ${r.path}\n`);
      } catch (err) {
        process.stderr.write(`slowshake: snapshot failed: ${(err as Error).message}\n`);
      }
    };
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    process.on('SIGUSR1', onUsr1);
    const timer = setInterval(() => {
      const s = cap.stats();
      if (s.state === 'failed') {
        exitCode = 1;
        finish(`failed (${s.error ?? 'unknown libpcap error'})`);
        return;
      }
      if (o.durationMs !== null && Date.now() - started >= o.durationMs) { finish('duration reached'); return; }
      if (tty) process.stderr.write(`\r\x1b[K${statusLine(s, reader.reach().seconds, o.capture.ringSize)}`);
    }, 200);
  });
  cap.stop();
  if (tty) process.stderr.write('\r\x1b[K');
  const s = cap.stats();
  const reach = reader.reach();
  const secs = (Date.now() - started) / 1000;
  const lines = [
    `Capture ${reason} after ${secs.toFixed(1)} s on ${o.capture.device}.`,
    `Packets: ${s.packets} captured (${formatBytes(s.bytes)}; ${fmtRate(Math.round(s.packets / Math.max(secs, 0.001)))} pkt/s average), kernel received ${s.kernelReceived}, kernel drops ${s.kernelDrops}, interface drops ${s.ifDrops}`,
    `Ring: ${formatBytes(o.capture.ringSize)}, reaches ${reach.seconds.toFixed(1)} s, ${s.overwrites} records overwritten, ${s.tooBig} packets too large for the ring`,
  ];
  if (snapshots) lines.push(`Snapshots written: ${snapshots} (in ${resolve(o.out)})`);
  if (o.dumpRing !== null) {
    const r = dumpRing(reader, o.dumpRing, cap.linkType);
    lines.push(`Ring dump: ${r.packets} packets written to ${r.path}${r.torn ? ` (${r.torn} overwritten while copying)` : ''}`);
  }
  process.stdout.write(lines.join('\n') + '\n');
  if (exitCode !== EXIT_OK) process.stderr.write(`slowshake: capture on ${o.capture.device}: ${reason}\n`);
  return exitCode;
}
