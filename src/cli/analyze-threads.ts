/**
 * `analyze --threads N`: the flows split by hash across N worker threads (analyze-worker.ts),
 * their records merged back into exactly the order of the single-threaded run.
 *
 * 1. A reader thread (analyze-reader.ts) reads the files and hands every packet to the worker of
 *    its flow through a shared ring (analyze-ring.ts); each worker analyses its share, every
 *    record carries its order key (Analyzer keyPos/keySub), and every batch the worker's frontier.
 * 2. The merge releases the smallest head among the workers' queues once no worker with an
 *    empty queue can still send a smaller key (its frontier is above it). Equal keys come from
 *    one worker only (a packet belongs to one flow), so the order is the single run's.
 * 3. Flow control: the reader waits for the slowest worker, a worker for the merge here (MERGED),
 *    so memory stays flat.
 * 4. `unsafe` from a worker (the shares together might have reached --max-flows, where the
 *    single run evicts oldest-first across all flows): the workers stop and the caller re-runs
 *    single-threaded, skipping the records already released (identical: all came before).
 * Only regular, uncompressed files (chooseThreads): the fall-back reads them again from the start.
 */
import { Worker } from 'node:worker_threads';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { FlowRecord } from '../handshake/record.js';
import type { AnalyzerStats } from '../handshake/analyzer.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import type { ReadResult } from '../sources/capture-file.js';
import type { EnrichSettings } from '../enrich/index.js';
import type { Batch, Done, RecordItem, WorkerInput, WorkerMessage } from './analyze-worker.js';
import type { ReaderDone, ReaderInput } from './analyze-reader.js';
import { BLOCKS, controlWords, MERGED, SLOT_BYTES } from './analyze-ring.js';

/** Below this much input a second thread does not pay for its start (~50 ms of module loading). */
export const MIN_THREADED_BYTES = 16 * 1024 * 1024;

/**
 * Worker threads by default: one per CPU but one, which the reader thread needs. Measured on 2
 * shared CPUs (issue 13, bulk benchmark, CPU-s per run): one thread 2.2–2.6; a reader and two
 * workers 4.8–6.1 (reader 1.2–1.5, each worker 1.0–1.4: every packet is decoded twice and passes
 * the ring, and each isolate warms up and collects on its own), and slower by the wall clock
 * too. A speed-up with more CPUs is not measured (no such machine here), so the default is 1
 * everywhere and threads are asked for with --threads N; `cpus` stays for when it is measured.
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
  /** Text mode: one ndjson line (bytes `start` to `end` of `text`, with its newline), and the record when it is slow. */
  onLine: (text: Uint8Array, start: number, end: number, slow: FlowRecord | null) => void;
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

interface Queue { batches: Batch[]; item: number; frontier: number; received: number; done: Done | null }

export function analyzeThreaded(o: ThreadedOptions): Promise<ThreadedResult> {
  const n = o.threads;
  const control = new SharedArrayBuffer(4 * controlWords(n));
  const ctl = new Int32Array(control);
  const blocks = new SharedArrayBuffer(BLOCKS * SLOT_BYTES);
  let read: ReaderDone | null = null;
  const queues: Queue[] = Array.from({ length: n }, () => ({ batches: [], item: 0, frontier: 0, received: 0, done: null }));
  const workers: Worker[] = [];
  let released = 0;
  let settled = false;

  return new Promise<ThreadedResult>((resolve, reject) => {
    const stopAll = (): void => { for (const w of workers) void w.terminate(); };
    const fail = (err: Error): void => {
      if (settled) return;
      settled = true;
      stopAll();
      reject(err);
    };

    /** Releases every record that no worker can still precede (2. above). */
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
        if (b.text !== null) o.onLine(b.text, q.item === 0 ? 0 : b.ends[q.item - 1]!, b.ends[q.item]!, it === 0 ? null : it as FlowRecord);
        else o.onItem(it as RecordItem);
        released++;
        if (++q.item === b.items.length) { q.batches.shift(); q.item = 0; }
      }
    };

    /** `w`: the worker's index (-1: the reader, which sends only `unsafe` and `error`). */
    const onMessage = (w: number, m: WorkerMessage): void => {
      if (settled) return;
      const q = queues[Math.max(0, w)]!;
      switch (m.kind) {
        case 'batch':
          q.frontier = m.frontier;
          if (m.items.length > 0) q.batches.push(m);
          q.received++;
          drain();
          {
            let merged = 0x7fffffff;
            for (const x of queues) if (x.frontier !== Infinity) merged = Math.min(merged, x.received);
            Atomics.store(ctl, MERGED, merged);
            Atomics.notify(ctl, MERGED);
          }
          return;
        case 'done':
          q.done = m;
          return complete();
        case 'unsafe':
          settled = true;
          stopAll();
          resolve({ unsafe: true, released });
          return;
        case 'error':
          fail(Object.assign(new Error(m.message), { stack: m.stack }));
      }
    };

    const complete = (): void => {
      if (read === null || !queues.every((x) => x.done !== null)) return;
      settled = true;
      drain();
      stopAll();
      resolve(finishResult(read, queues.map((x) => x.done!), o.maxFlows));
    };
    const readerInput: ReaderInput = { files: o.files, workers: n, control, blocks, progress: o.onProgress !== undefined };
    const reader = new Worker(new URL('./analyze-reader.js', import.meta.url), { workerData: readerInput });
    reader.on('message', (m: ReaderDone | { kind: 'progress'; done: number; total: number } | WorkerMessage) => {
      if (settled) return;
      if (m.kind === 'progress') o.onProgress?.(m.done, m.total);
      else if (m.kind === 'read') { read = m; complete(); }
      else onMessage(-1, m);
    });
    reader.on('error', (err) => fail(err));
    reader.on('exit', (code) => { if (!settled && read === null) fail(new Error(`analyze reader exited (code ${code}) before it finished`)); });
    workers.push(reader);
    for (let i = 0; i < n; i++) {
      const input: WorkerInput = {
        index: i, count: n, slowMs: o.slowMs, keepPackets: o.keepPackets, flowFilter: o.flowFilter,
        maxFlows: o.maxFlows, shareFlowLimit: Math.floor(o.maxFlows / n), text: o.text, keptForSlow: o.keptForSlow, control, blocks,
      };
      const w = new Worker(new URL('./analyze-worker.js', import.meta.url), { workerData: input });
      w.on('message', (m: WorkerMessage) => onMessage(i, m));
      w.on('error', (err) => fail(err));
      w.on('exit', (code) => { if (!settled && queues[i]!.done === null) fail(new Error(`analyze worker ${i} exited (code ${code}) before it finished`)); });
      workers.push(w);
    }
  });
}

function finishResult(read: ReaderDone, done: Done[], maxFlows: number): ThreadedResult {
  const stats = { ...done[0]!.stats };
  for (const d of done.slice(1)) {
    for (const k of Object.keys(stats) as (keyof AnalyzerStats)[]) {
      if (k !== 'packets' && k !== 'bytes') stats[k] += d.stats[k]; // every worker sees every packet
    }
  }
  const anomalies = new AnomalyCounters();
  read.anomalies.forEach((v, i) => { anomalies.counts[i]! += v; }); // decode anomalies: the reader decoded every packet
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
  return { unsafe: false, analysis: { stats, anomalies, maxFlows }, reads: read.reads, problems: read.problems, enrich };
}
