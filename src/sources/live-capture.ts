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
import type { KernelFilterMode } from '../config/schema.js';
import { formatCidr, parseCidr } from './cidr.js';

/**
 * Kernel-side packet selection (design.md "Always-on"; native/src/kernel_filter.h). Not given:
 * mode 'off', every packet (full capture, the user's filter in the kernel).
 */
export interface KernelFilterOptions {
  mode: KernelFilterMode;
  /** Per-flow packet budget from the SYN. */
  flowPackets: number;
  /** Per-flow time budget from the SYN, ms. */
  flowTimeMs: number;
  /** Entries of the eBPF flow map (LRU). */
  maxFlows: number;
}

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
  kernelFilter?: KernelFilterOptions;
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

/** The eBPF filter's counters (summed over CPUs); all zero when it is not in use. */
export interface FilterStats {
  /** Packets passed to the capture, FIN/RST included. */
  passed: number;
  passedFinRst: number;
  /** Dropped: the flow was marked done. */
  droppedDone: number;
  /** Dropped: the flow's packet or time budget ran out. */
  droppedBudget: number;
  /** Dropped: TCP with no flow entry (no SYN seen, or the entry was evicted from the LRU map). */
  droppedUntracked: number;
  droppedNonTcp: number;
  /** SYNs that created (or reset) a flow entry. */
  flowsStarted: number;
  /** SYNs that created an entry (no entry for the flow yet; the rest reset one). */
  flowsInserted: number;
  /**
   * The LRU map's entry count is not readable cheaply (counting walks every key). Entries are
   * never deleted, so min(flowsInserted, maxFlows) bounds it from above, and evictions are at
   * least flowsInserted - maxFlows.
   */
  mapEntriesAtMost: number;
  evictionsAtLeast: number;
  /** Packets queued between opening the socket and attaching the filter (unfiltered), discarded. */
  preAttachDiscarded: number;
  /** Flows whose budget ran out before they were marked done. */
  budgetEnded: number;
  /** Dropped: both sides sent application data (the handshake is over) and the flow's tail of FLOW_DATA_TAIL_AFTER packets (FLOW_DATA_TAIL after early data) passed. */
  droppedData: number;
  /** Flows ended that way before user space marked them done. */
  dataEnded: number;
  /** markDone calls that found the flow's entry. */
  markedDone: number;
  /** markDone calls whose flow had no entry (evicted, or its SYN was never seen). */
  markMissing: number;
  /** markDone calls the kernel refused for another reason; markError: the last such error. */
  markFailed: number;
  markError: string | null;
  /** Packets the eBPF filter passed that the user's --filter then rejected in the capture thread. */
  userFilterRejected: number;
  /**
   * Adaptive evidence (LiveCapture.widen): packets the rules above would have dropped that passed
   * because their source or destination is in a widened network (counted in `passed` too), and
   * their bytes (as captured from the link header).
   */
  passedWide: number;
  wideBytes: number;
  /** Widened networks a packet found expired, or with their byte budget spent (once per entry). */
  wideExpired: number;
  wideBudgetEnded: number;
  /** Networks widened now (lapsed ones included until widened() lists them once more). */
  wideEntries: number;
  /** widen calls the kernel refused (the map full, or an error). */
  widenFailed: number;
}

/** The answer of LiveCapture.widen: done, or one line saying why not. */
export type WidenResult = { ok: true } | { ok: false; reason: string };

/** One widened network as LiveCapture.widened() lists it. */
export interface WidenedNetwork {
  /** Canonical text (dotted quad, RFC 5952 IPv6) with the prefix length. */
  cidr: string;
  /** Until it expires (0: expired). */
  msLeft: number;
  /** Of its byte budget (0: spent). */
  bytesLeft: number;
  /** Packets and bytes that passed in full because of it (not those the normal rules pass anyway). */
  packets: number;
  bytes: number;
  /** 'active', or why it stopped: 'expired' (time), 'budget' (bytes). Lapsed entries are listed once, then removed. */
  state: 'active' | 'expired' | 'budget';
}

/** widen's bounds: a day, and what a double counts exactly. */
export const WIDEN_MAX_MS = 86_400_000;
export const WIDEN_MAX_BYTES = Number.MAX_SAFE_INTEGER;

export interface KernelFilterState {
  mode: 'ebpf' | 'classic' | 'off';
  /** Why the eBPF filter is not in use (mode 'auto' fell back), one line; else null. */
  reason: string | null;
}

interface Addon {
  open(o: object): {
    handle: unknown; ring: ArrayBuffer; index: ArrayBuffer; flows: ArrayBuffer; linkType: number; nanosecond: boolean;
    filterMode: 'ebpf' | 'classic' | 'off'; filterReason: string | null; faultInMs: number;
  };
  markDone(h: unknown, ipVersion: number, client: Uint8Array, clientPort: number, server: Uint8Array, serverPort: number): boolean;
  filterStats(h: unknown): FilterStats;
  /** "" when done, else why not. */
  widen(h: unknown, ipVersion: number, addr: Uint8Array, prefixLen: number, durationMs: number, maxBytes: number): string;
  narrow(h: unknown, ipVersion: number, addr: Uint8Array, prefixLen: number): boolean;
  widened(h: unknown): WidenedNetwork[];
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
  const k = o.kernelFilter;
  if (k !== undefined) {
    if (!['auto', 'ebpf', 'classic', 'off'].includes(k.mode)) throw new CaptureError(`kernel_filter.mode: must be auto, ebpf, classic or off, got ${String(k.mode)}`);
    if (!Number.isInteger(k.flowPackets) || k.flowPackets < 1 || k.flowPackets > 1_000_000) throw new CaptureError(`kernel_filter.flow_packets: must be 1..1000000, got ${k.flowPackets}`);
    if (!Number.isFinite(k.flowTimeMs) || k.flowTimeMs < 1 || k.flowTimeMs > 3_600_000) throw new CaptureError(`kernel_filter.flow_time: must be 1 ms..1 h, got ${k.flowTimeMs} ms`);
    if (!Number.isInteger(k.maxFlows) || k.maxFlows < 1024 || k.maxFlows > 16_777_216) throw new CaptureError(`kernel_filter.max_flows: must be 1024..16777216, got ${k.maxFlows}`);
  }
}

export class LiveCapture implements RingSource {
  readonly ring: ArrayBuffer;
  readonly index: ArrayBuffer;
  readonly flows: ArrayBuffer;
  readonly linkType: number;
  readonly nanosecond: boolean;
  /** Time taken at open to fault the ring (and its index and flow table) in, so that no packet pays a page fault. */
  readonly faultInMs: number;
  /** The kernel filter in use, and why eBPF is not when 'auto' fell back. */
  readonly kernelFilter: KernelFilterState;
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
    this.faultInMs = r.faultInMs;
    this.kernelFilter = { mode: r.filterMode, reason: r.filterReason };
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

  /**
   * Marks a flow's handshake done in the eBPF filter's map: from now on only its FIN/RST reach
   * the capture. Addresses in network byte order (4 or 16 bytes); either endpoint order works.
   * One map update, no allocation; a no-op without the eBPF filter. Needs no privilege (the map
   * fd was opened at load), so it works after capture dropped root. Counted in filterStats()
   * (markedDone, or markMissing when the flow has no entry).
   */
  markDone(ipVersion: 4 | 6, clientAddr: Uint8Array, clientPort: number, serverAddr: Uint8Array, serverPort: number): void {
    if (this.kernelFilter.mode !== 'ebpf') return;
    this.#addon.markDone(this.#handle, ipVersion, clientAddr, clientPort, serverAddr, serverPort);
  }

  /** The eBPF filter's counters (zeros in modes 'classic' and 'off'). */
  filterStats(): FilterStats {
    return this.#addon.filterStats(this.#handle);
  }

  /**
   * Adaptive evidence (issue 12): from now on the eBPF filter passes every TCP packet to or from
   * `cidr` in full (not only handshakes), for `durationMs` or until about `maxBytes` more bytes
   * passed because of it (the packet that finds budget left passes whole), whichever comes first;
   * then the normal rules apply again by themselves, in the kernel. Widening a network again
   * replaces its time and budget and keeps its counts. At most 64 networks at once (lapsed ones
   * make room). Nested networks: a packet is matched by the longest widened prefix holding its
   * address (an LPM trie), so while a lapsed /24 is still listed, a live /16 around it does not
   * apply to it. A few map syscalls, no privilege needed (fds opened at load), so it works after
   * the privilege drop. Counted in filterStats() (passedWide, wideBytes, wideExpired,
   * wideBudgetEnded, wideEntries, widenFailed).
   *
   * Throws CidrError (SLOWSHAKE_ERR_CIDR) for a bad cidr and CaptureError (SLOWSHAKE_ERR_ARG) for a
   * duration or budget out of range (1 ms..1 day, 1 byte..2^53-1): caller mistakes. Returns
   * `{ ok: false, reason }` when the kernel filter cannot do it (classic or off, the map full).
   */
  widen(cidr: string, durationMs: number, maxBytes: number): WidenResult {
    const c = parseCidr(cidr);
    if (!Number.isFinite(durationMs) || durationMs < 1 || durationMs > WIDEN_MAX_MS) {
      throw new CaptureError(`widen ${cidr}: duration must be 1 ms..1 day, got ${durationMs} ms`, 'SLOWSHAKE_ERR_ARG');
    }
    if (!Number.isInteger(maxBytes) || maxBytes < 1 || maxBytes > WIDEN_MAX_BYTES) {
      throw new CaptureError(`widen ${cidr}: byte budget must be an integer 1..2^53-1, got ${maxBytes}`, 'SLOWSHAKE_ERR_ARG');
    }
    const no = this.#cannotWiden();
    if (no !== null) return { ok: false, reason: no };
    const err = this.#addon.widen(this.#handle, c.ipVersion, c.addr, c.prefixLen, Math.round(durationMs), maxBytes);
    return err === '' ? { ok: true } : { ok: false, reason: `widen ${formatCidr(c)}: ${err}` };
  }

  /**
   * Ends the widening of exactly `cidr` (as widened) at once. true when it was widened; false
   * when not, or without the eBPF filter. Throws CidrError for a bad cidr.
   */
  narrow(cidr: string): boolean {
    const c = parseCidr(cidr);
    if (this.kernelFilter.mode !== 'ebpf') return false;
    return this.#addon.narrow(this.#handle, c.ipVersion, c.addr, c.prefixLen);
  }

  /**
   * The widened networks. An entry that lapsed (expired, or its budget spent) is listed once more,
   * with its final counts and why, and removed from the kernel's map then (an empty map costs the
   * filter nothing per packet, see handshake_filter.bpf.c); so polling this shows each switch back.
   * Empty without the eBPF filter.
   */
  widened(): WidenedNetwork[] {
    if (this.kernelFilter.mode !== 'ebpf') return [];
    return this.#addon.widened(this.#handle);
  }

  #cannotWiden(): string | null {
    switch (this.kernelFilter.mode) {
      case 'ebpf': return null;
      case 'classic': return 'kernel filter classic: cannot widen per network (only the eBPF filter keeps per-network state)';
      case 'off': return 'kernel filter off: every packet already passes in full, nothing to widen';
    }
  }

  /** Stops the capture thread (joins it); the ring stays readable. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#addon.stop(this.#handle);
  }
}
