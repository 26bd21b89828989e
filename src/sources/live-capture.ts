/**
 * Live capture source: the native addon (native/) runs libpcap on its own thread and writes every
 * packet into a fixed ring in native memory; this wrapper only opens it, exposes the ring memory
 * to the ring reader, and reads statistics. No JavaScript runs per packet.
 *
 * Option normalisation happens here (style.md §5): the addon receives plain numbers and strings.
 */
import { createRequire } from 'node:module';
import { totalmem } from 'node:os';
import type { RingSource } from '../ring/reader.js';
import { DEFAULTS } from '../config/defaults.js';

export interface CaptureOptions {
  device: string;
  filter: string;
  snaplen: number;
  /** Kernel packet buffer (libpcap buffer size), bytes. */
  bufferSize: number;
  promisc: boolean;
  ringSize: number;
  /** Packet buffer timeout: how long the kernel may hold packets before handing a block over. */
  timeoutMs: number;
}

/** Capture's defaults come from config/defaults.ts (the one place); timeoutMs is not a config key. */
export const CAPTURE_DEFAULTS: Omit<CaptureOptions, 'device'> = {
  filter: DEFAULTS.capture.filter,
  snaplen: DEFAULTS.capture.snaplen,
  bufferSize: DEFAULTS.capture.bufferSize,
  promisc: DEFAULTS.capture.promisc,
  ringSize: DEFAULTS.capture.ringSize,
  timeoutMs: 50,
};

export interface NativeStats {
  packets: number;
  bytes: number;
  wireBytes: number;
  overwrites: number;
  tooBig: number;
  head: number;
  tail: number;
  newestNs: number;
  kernelReceived: number;
  kernelDrops: number;
  ifDrops: number;
  pps: number;
  state: 'running' | 'stopped' | 'failed';
  error: string | null;
}

interface Addon {
  open(o: object): { handle: unknown; ring: ArrayBuffer; index: ArrayBuffer; flows: ArrayBuffer; linkType: number; nanosecond: boolean };
  positions(h: unknown, out: Float64Array): void;
  stats(h: unknown): NativeStats;
  stop(h: unknown): void;
  interfaces(): string;
  /** One sd_notify datagram; "" when sent, else the failure (native/src/notify.cc). */
  sdNotify(socketPath: string, message: string): string;
}

/** Capture could not start: one line for the user. */
export class CaptureError extends Error {
  constructor(message: string, readonly code = 'SLOWSHAKE_ERR_CAPTURE') {
    super(message);
    this.name = 'CaptureError';
  }
}

let addon: Addon | null = null;
/** The native addon, loaded once; CaptureError (SLOWSHAKE_ERR_NO_ADDON) when it is not built. */
export function loadAddon(): Addon {
  if (addon) return addon;
  try {
    addon = createRequire(import.meta.url)('slowshake-capture') as Addon;
    return addon;
  } catch (err) {
    throw new CaptureError((err as Error).message.split('\n')[0]!, 'SLOWSHAKE_ERR_NO_ADDON');
  }
}

/** Checks option ranges before touching the device (style.md §5 "fail fast"). */
export function validateCaptureOptions(o: CaptureOptions): void {
  if (!o.device) throw new CaptureError('-i/--interface: an interface name is required (e.g. eth0, any)');
  if (!Number.isFinite(o.ringSize) || o.ringSize < 1024 * 1024) {
    throw new CaptureError(`--ring-size: must be at least 1MiB, got ${o.ringSize} bytes`);
  }
  // Node 20 ArrayBuffers (the ring is one) stop at 4 GiB; the reader indexes it with >>> shifts.
  if (o.ringSize > 4 * 1024 ** 3) {
    throw new CaptureError(`--ring-size: at most 4GiB (the largest buffer Node can map), got ${(o.ringSize / 2 ** 30).toFixed(1)} GiB`);
  }
  const mem = totalmem();
  if (o.ringSize > mem * 0.9) {
    throw new CaptureError(`--ring-size: ${(o.ringSize / 2 ** 30).toFixed(1)} GiB does not fit in this machine's memory (${(mem / 2 ** 30).toFixed(1)} GiB)`);
  }
  if (!Number.isInteger(o.snaplen) || o.snaplen < 64 || o.snaplen > 262144) {
    throw new CaptureError(`--snaplen: must be between 64 and 262144 bytes, got ${o.snaplen}`);
  }
  if (!Number.isFinite(o.bufferSize) || o.bufferSize < 65536 || o.bufferSize > 2 ** 31 - 1) {
    throw new CaptureError(`--buffer-size: must be between 64KiB and 2GiB, got ${o.bufferSize} bytes`);
  }
}

export class LiveCapture implements RingSource {
  readonly ring: ArrayBuffer;
  readonly index: ArrayBuffer;
  readonly flows: ArrayBuffer;
  readonly linkType: number;
  readonly nanosecond: boolean;
  readonly #addon: Addon;
  readonly #handle: unknown;
  #stopped = false;

  private constructor(a: Addon, r: ReturnType<Addon['open']>, readonly options: CaptureOptions) {
    this.#addon = a;
    this.#handle = r.handle;
    this.ring = r.ring;
    this.index = r.index;
    this.flows = r.flows;
    this.linkType = r.linkType;
    this.nanosecond = r.nanosecond;
  }

  static open(o: CaptureOptions): LiveCapture {
    validateCaptureOptions(o);
    const a = loadAddon();
    try {
      return new LiveCapture(a, a.open({ ...o, ringSize: Math.floor(o.ringSize / 8) * 8 }), o);
    } catch (err) {
      throw new CaptureError((err as Error).message, (err as { code?: string }).code ?? 'SLOWSHAKE_ERR_CAPTURE_OPEN');
    }
  }

  static interfaces(): string {
    return loadAddon().interfaces();
  }

  positions(out: Float64Array): void {
    this.#addon.positions(this.#handle, out);
  }

  stats(): NativeStats {
    return this.#addon.stats(this.#handle);
  }

  /** Stops the capture thread (joins it); the ring stays readable. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#addon.stop(this.#handle);
  }
}
