/**
 * `analyze --threads N`: the flows split by hash into N shares, share 0 analysed on this thread
 * and each other share on a worker thread (analyze-worker.ts), their records merged back into
 * exactly the order of the single-threaded run.
 *
 * 1. Every thread reads the files itself (the page cache shares them) and walks every packet;
 *    each decodes and analyses only its share's (analyze-share.ts: the owner from the flow hash
 *    of the headers). Every record carries its order key (Analyzer keyPos/keySub), every batch
 *    the share's frontier. Measured on 2 CPUs (issue 13): one reader thread decoding every
 *    packet for two workers cost 2.1-2.7x the CPU-seconds of one thread; a walk that hashes the
 *    headers costs ~0.07 s per extra thread on the dense benchmark, ~0.35 s on the bulk one (most
 *    of it the read() copy), and this thread being share 0 saves an isolate.
 * 2. The merge releases the smallest head among the shares' queues once no share with an empty
 *    queue can still send a smaller key (its frontier is above it). Equal keys come from one
 *    share only (a packet belongs to one flow), so the order is the single run's.
 * 3. While this thread reads (synchronously), it takes the workers' batches off their ports at
 *    each of its checkpoints (receiveMessageOnPort) and merges; it waits (POSTED) when it is
 *    more than WINDOW checkpoints ahead of the slowest worker, a worker (MERGED) when it is
 *    ahead of what has been merged: memory stays flat.
 * 4. `unsafe` from any share (the shares together might have reached --max-flows, where the
 *    single run evicts oldest-first across all flows): the workers stop and the caller re-runs
 *    single-threaded, skipping the records already released (identical: all came before).
 * Only regular, uncompressed files (chooseThreads): the fall-back reads them again from the start.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { DecodedPacket } from '../decode/packet.js';
import type { FlowRecord } from '../handshake/record.js';
import type { AnalyzerStats } from '../handshake/analyzer.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import { readCaptureFile, type ReadResult } from '../sources/capture-file.js';
import { CaptureFileError } from '../sources/capture-error.js';
import type { EnrichSettings } from '../enrich/index.js';
import type { Done, WorkerInput, WorkerMessage } from './analyze-worker.js';
import { controlWords, MERGED, POSTED, ShareAnalysis, WINDOW, type Batch, type RecordItem, type SlowParts } from './analyze-share.js';

/** Below this much input a second thread does not pay for its start (~50 ms of module loading). */
export const MIN_THREADED_BYTES = 16 * 1024 * 1024;

/**
 * Threads by default: 1. Measured on 2 shared CPUs (issue 13, paired runs, medians, CPU-s =
 * user + sys). At load ~2 (other jobs on the machine): dense 1.19 s, 2.20 CPU-s against one
 * thread's 0.91 s, 1.20; bulk 2.05 s, 3.85 against 1.98 s, 2.36 (5 rounds each). At load 3-8:
 * dense 2.41 CPU-s vs 1.33, bulk 5.17 vs 2.75, slower by the wall clock in all 14 dense and 8 of
 * 11 bulk rounds. The reader-thread design before it: dense 2.45-2.80, bulk 5.10-6.22 CPU-s.
 * Each extra thread pays a read and walk of the whole file (~0.07 s dense, ~0.35 s bulk), its own
 * start-up and its own TurboFan compiles (the V8 platform threads' CPU doubles, ~0.5 -> ~1.1 s).
 * Two separate processes each given one share of the bulk file (no merge, no output) took
 * 1.65-1.82 s against 1.87-1.93 s for one process doing all (2 rounds each): the limit here is
 * the CPUs, not the merge. The reader-thread design before it cost 2.1-2.7x. A speed-up with
 * more (or idle) CPUs is not measured, so threads are asked for with --threads N; `cpus` stays
 * for when it is.
 */
export function defaultThreads(cpus = availableParallelism()): number {
  void cpus;
  return 1;
}

/**
 * Threads for the inputs: `asked` (null: defaultThreads) unless an input is standard input, a
 * pipe, gzip, or unreadable (1: a run that falls back must read it again from the start, and a
 * read error is the single run's to report), or the inputs are small when the count was not
 * asked for.
 */
export function chooseThreads(files: string[], asked: number | null): number {
  const want = asked ?? defaultThreads();
  if (want <= 1) return 1;
  let bytes = 0;
  const head = Buffer.alloc(2);
  for (const f of files) {
    if (f === '-') return 1;
    let fd = -1;
    try {
      const st = statSync(f);
      if (!st.isFile()) return 1;
      bytes += st.size;
      fd = openSync(f, 'r');
      if (readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b) return 1;
    } catch {
      return 1;
    } finally {
      if (fd >= 0) closeSync(fd);
    }
  }
  if (asked === null && bytes < MIN_THREADED_BYTES) return 1;
  return want;
}

export interface ThreadedOptions {
  files: string[];
  threads: number;
  slowMs: number;
  keepPackets: boolean;
  flowFilter: string | null;
  maxFlows: number;
  /** Text mode (see analyze-worker.ts): the enrich settings the workers attribute with. */
  text: EnrichSettings | null;
  keptForSlow: boolean;
  /**
   * Text mode: one ndjson line (bytes `start` to `end` of `text`, with its newline); when its
   * record is slow, `slow` and its entry `at` (analyze-share.ts SlowParts), else null.
   */
  onLine: (text: Uint8Array, start: number, end: number, slow: SlowParts | null, at: number) => void;
  /** Object mode: one record with what onRecord needs. */
  onItem: (item: RecordItem) => void;
  onProgress?: (done: number, total: number) => void;
}

/** What the summary reads from an analyzer, merged over the workers. */
export interface MergedAnalysis {
  stats: AnalyzerStats;
  anomalies: AnomalyCounters;
  maxFlows: number;
}

export type ThreadedResult =
  | { unsafe: false; analysis: MergedAnalysis; reads: (ReadResult & { file: string })[]; problems: string[]; enrich: Done['enrich'] }
  | { unsafe: true; released: number };

interface Queue { batches: Batch[]; item: number; slowItem: number; frontier: number; received: number; messages: number; done: Done | null }

/** Thrown out of this thread's read to stop the run (`why` says unsafe or the error). */
class Stop extends Error {}

/** A worker that has posted nothing for this long while this thread waits for it is taken for dead. */
const STALL_MS = 60_000;

export async function analyzeThreaded(o: ThreadedOptions): Promise<ThreadedResult> {
  const n = o.threads;
  const ctl = new Int32Array(new SharedArrayBuffer(4 * controlWords(n)));
  const queues: Queue[] = Array.from({ length: n }, () => ({ batches: [], item: 0, slowItem: 0, frontier: 0, received: 0, messages: 0, done: null }));
  const ports: MessagePort[] = [];
  const workers: Worker[] = [];
  let released = 0;
  /** Why the run stops early: 'unsafe', or the error. */
  let why: 'unsafe' | Error | null = null;

  /** Releases every record that no share can still precede (2. above). */
  const drain = (): void => {
    for (;;) {
      let best = -1, bestPos = 0, bestSub = 0;
      for (let w = 0; w < n; w++) {
        const q = queues[w]!;
        if (q.batches.length === 0) continue;
        const b = q.batches[0]!;
        const pos = b.keys[2 * q.item]!, sub = b.keys[2 * q.item + 1]!;
        if (best < 0 || pos < bestPos || (pos === bestPos && sub < bestSub)) { best = w; bestPos = pos; bestSub = sub; }
      }
      if (best < 0) return;
      for (let w = 0; w < n; w++) if (w !== best && queues[w]!.batches.length === 0 && bestPos >= queues[w]!.frontier) return;
      const q = queues[best]!;
      const b = q.batches[0]!;
      const it = b.items[q.item]!;
      if (b.text !== null) o.onLine(b.text, q.item === 0 ? 0 : b.ends[q.item - 1]!, b.ends[q.item]!, it === 0 ? null : b.slow, it === 0 ? 0 : q.slowItem++);
      else o.onItem(it as RecordItem);
      released++;
      if (++q.item === b.items.length) { q.batches.shift(); q.item = 0; q.slowItem = 0; }
    }
  };
  const receive = (w: number, m: WorkerMessage): void => {
    const q = queues[w]!;
    q.messages++;
    switch (m.kind) {
      case 'batch':
        q.frontier = m.frontier;
        if (m.items.length > 0) q.batches.push(m);
        q.received++;
        return;
      case 'done':
        q.done = m;
        return;
      case 'unsafe':
        why ??= 'unsafe';
        return;
      case 'error':
        why ??= Object.assign(new Error(m.message), { stack: m.stack });
    }
  };
  /** Merges what has come in and tells the workers how far (MERGED: the slowest running share's checkpoints). */
  const merge = (): void => {
    drain();
    let merged = 0x7fffffff;
    for (const q of queues) if (q.frontier !== Infinity) merged = Math.min(merged, q.received);
    Atomics.store(ctl, MERGED, merged);
    Atomics.notify(ctl, MERGED);
  };
  /** Takes every message the workers have posted off their ports, synchronously. */
  const pull = (): void => {
    for (let w = 1; w < n; w++) {
      for (;;) {
        const r = receiveMessageOnPort(ports[w]!);
        if (r === undefined) break;
        receive(w, r.message as WorkerMessage);
      }
    }
    merge();
  };

  const share: ShareAnalysis = new ShareAnalysis({
    index: 0, count: n, slowMs: o.slowMs, keepPackets: o.keepPackets, flowFilter: o.flowFilter, maxFlows: o.maxFlows,
    shareFlowLimit: Math.floor(o.maxFlows / n), keptForSlow: o.keptForSlow,
  }, null, () => {
    if (share.unsafe) why ??= 'unsafe';
    else receive(0, share.take());
    pull();
    if (why !== null) throw new Stop();
    // 3. above: wait while more than WINDOW checkpoints ahead of the slowest worker
    const q0 = queues[0]!;
    let waited = 0;
    for (;;) {
      let slow = -1;
      for (let w = 1; w < n; w++) if (queues[w]!.frontier !== Infinity && (slow < 0 || queues[w]!.received < queues[slow]!.received)) slow = w;
      if (slow < 0 || q0.received - queues[slow]!.received <= WINDOW) return;
      const q = queues[slow]!;
      if (Atomics.wait(ctl, POSTED + slow, q.messages, 50) === 'timed-out') {
        if ((waited += 50) >= STALL_MS) why ??= new Error(`analyze worker ${slow} posted nothing for ${STALL_MS / 1000} s`);
      } else waited = 0;
      pull();
      if (why !== null) throw new Stop();
    }
  });

  for (let i = 1; i < n; i++) {
    const { port1, port2 } = new MessageChannel();
    ports[i] = port1;
    const input: WorkerInput = {
      index: i, count: n, files: o.files, slowMs: o.slowMs, keepPackets: o.keepPackets, flowFilter: o.flowFilter,
      maxFlows: o.maxFlows, shareFlowLimit: Math.floor(o.maxFlows / n), text: o.text, keptForSlow: o.keptForSlow,
      control: ctl.buffer as SharedArrayBuffer, port: port2,
    };
    workers.push(new Worker(new URL('./analyze-worker.js', import.meta.url), { workerData: input, transferList: [port2] }));
  }
  const stopAll = (): void => {
    for (const w of workers) void w.terminate();
    for (let w = 1; w < n; w++) ports[w]!.close();
  };

  // 1. this thread's share, with the merge at every checkpoint
  const reads: (ReadResult & { file: string })[] = [];
  const problems: string[] = [];
  const pkt = new DecodedPacket();
  try {
    for (const file of o.files) {
      try {
        const r = await readCaptureFile(file, pkt, share, { onProgress: o.onProgress });
        reads.push({ ...r, file });
        problems.push(...r.warnings);
      } catch (err) {
        if (!(err instanceof CaptureFileError)) throw err;
        problems.push(err.message);
        reads.push({ file, format: 'pcap', gzip: false, bytes: err.offset, packets: 0, warnings: [err.message] });
      }
    }
    share.analyzer.finish();
    if (share.unsafe) why ??= 'unsafe';
    else receive(0, share.take(true));
    pull();
  } catch (err) {
    if (!(err instanceof Stop)) {
      stopAll();
      throw err;
    }
  }

  // the workers' ends, now on their ports' events
  if (why === null) {
    await new Promise<void>((resolve) => {
      const check = (): void => {
        merge();
        if (why !== null || queues.every((q, w) => w === 0 || q.done !== null)) resolve();
      };
      for (let w = 1; w < n; w++) {
        ports[w]!.on('message', (m: WorkerMessage) => { receive(w, m); check(); });
        workers[w - 1]!.on('error', (err) => { why ??= err; check(); });
        workers[w - 1]!.on('exit', (code) => {
          pull(); // what it posted before it exited may not have been delivered yet
          if (queues[w]!.done === null) why ??= new Error(`analyze worker ${w} exited (code ${code}) before it finished`);
          check();
        });
      }
      check();
    });
  }
  stopAll();
  if (why === 'unsafe') return { unsafe: true, released };
  if (why !== null) throw why;
  return finishResult(share, queues.slice(1).map((q) => q.done!), o.maxFlows, reads, problems);
}

function finishResult(share: ShareAnalysis, done: Done[], maxFlows: number, reads: (ReadResult & { file: string })[], problems: string[]): ThreadedResult {
  const stats = { ...share.analyzer.stats };
  for (const d of done) {
    for (const k of Object.keys(stats) as (keyof AnalyzerStats)[]) {
      if (k !== 'packets' && k !== 'bytes') stats[k] += d.stats[k]; // every share sees every packet
    }
  }
  const anomalies = new AnomalyCounters();
  anomalies.counts.set(share.analyzer.anomalies.counts);
  for (const d of done) d.anomalies.forEach((v, i) => { anomalies.counts[i]! += v; });
  let enrich: Done['enrich'] = null;
  for (const d of done) {
    if (d.enrich === null) continue;
    enrich ??= { records: 0, range_matches: 0, asn_matches: 0, asn_errors: 0 };
    enrich.records += d.enrich.records;
    enrich.range_matches += d.enrich.range_matches;
    enrich.asn_matches += d.enrich.asn_matches;
    enrich.asn_errors += d.enrich.asn_errors;
  }
  return { unsafe: false, analysis: { stats, anomalies, maxFlows }, reads, problems, enrich };
}
