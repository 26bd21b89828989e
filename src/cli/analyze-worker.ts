/**
 * One worker of `analyze --threads N` (worker_threads; the main side is analyze-threads.ts).
 *
 * 1. Reads every input file itself, in order, through an Analyzer that keeps only its share of
 *    the flows (flow hash modulo N): every packet is framed and decoded, so each share sees the
 *    whole clock, and only its own flows are tracked. Reading the file N times costs a copy from
 *    the page cache per worker; handing packets to workers from one reader would make that
 *    reader the bottleneck (it must decode every packet to find its flow).
 * 2. Each record goes to the main thread with its order key (Analyzer keyPos/keySub). In text
 *    mode (ndjson without events, pcaps, records or reverse DNS) the worker attributes the client
 *    and serialises the line itself, so the main thread only merges and writes; otherwise the
 *    record object goes over (structured clone) with what the main thread's onRecord needs.
 * 3. Every CHECKPOINT packets it posts the batch and its frontier (no later record has a
 *    smaller key), then waits while it is more than WINDOW checkpoints ahead of the slowest
 *    worker or of what the main thread has merged: memory stays flat.
 * 4. A new flow that finds `shareFlowLimit` flows of the share tracked, or a reuse of the share's
 *    part of the kept-packet area, means the single run might evict or reuse here: the worker
 *    reports `unsafe` and stops (the main thread falls back).
 * 5. Capture-file errors end that file as in the single run; the first worker reports reads and
 *    problems, every worker its counters.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DecodedPacket } from '../decode/packet.js';
import { Analyzer } from '../handshake/analyzer.js';
import type { FlowRecord } from '../handshake/record.js';
import { JsonOut, writeRecordJson } from '../handshake/record-json.js';
import type { HandshakeTracker, KeptPacket } from '../handshake/tracker.js';
import { readCaptureFile, type ReadResult } from '../sources/capture-file.js';
import { CaptureFileError } from '../sources/capture-error.js';
import type { PacketSink } from '../sources/capture-error.js';
import { openEnricher, type EnrichSettings, type Enricher } from '../enrich/index.js';

/** Packets between two posts to the main thread. */
export const CHECKPOINT = 1 << 14;
/** Checkpoints a worker may run ahead of the slowest worker or of the main thread's merge. */
export const WINDOW = 32;

export interface WorkerInput {
  files: string[];
  index: number;
  count: number;
  slowMs: number;
  keepPackets: boolean;
  flowFilter: string | null;
  maxFlows: number | undefined;
  shareFlowLimit: number;
  /** Text mode: the worker enriches and serialises (settings without rdns). */
  text: EnrichSettings | null;
  /** Which records need their kept packets on the main thread. */
  keptForSlow: boolean;
  /** Int32Array over it: [0..count) checkpoints posted per worker, [count] checkpoints merged by the main thread. */
  progress: SharedArrayBuffer;
}

/** A record in object mode: what analyze.ts's onRecord reads from the tracker. */
export interface RecordItem { rec: FlowRecord; start: number; firstTs: number; lastTs: number; kept: KeptPacket[] | null }

export interface Batch {
  kind: 'batch';
  /** keyPos, keySub per record. */
  keys: number[];
  /** Object mode: the records. Text mode: the record when it is slow (for the summary's top networks), else 0. */
  items: (RecordItem | FlowRecord | 0)[];
  /** Text mode: the ndjson lines, one after another (the buffer is transferred), and where each ends. */
  text: Uint8Array | null;
  ends: number[];
  /** No later record of this worker has keyPos below this. */
  frontier: number;
  /** Worker 0: bytes read so far and the total, for the progress bar. */
  progress?: [number, number];
}

export interface Done {
  kind: 'done';
  stats: Analyzer['stats'];
  anomalies: number[];
  reads: (ReadResult & { file: string })[];
  problems: string[];
  enrich: { records: number; range_matches: number; asn_matches: number; asn_errors: number } | null;
}

export type WorkerMessage = Batch | Done | { kind: 'unsafe'; at: number } | { kind: 'error'; message: string; stack?: string };

async function main(w: WorkerInput): Promise<void> {
  const port = parentPort!;
  const shared = new Int32Array(w.progress);
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const enricher: Enricher | null = w.text !== null ? openEnricher({ ...w.text, rdns: false }) : null;
  let keys: number[] = [];
  let items: Batch['items'] = [];
  let text = w.text !== null ? new JsonOut() : null;
  let ends: number[] = [];
  let posted = 0;
  let unsafe = false;
  let progress: [number, number] | undefined;
  const analyzer: Analyzer = new Analyzer({
    slowMs: w.slowMs,
    keepPackets: w.keepPackets,
    flowFilter: w.flowFilter,
    maxFlows: w.maxFlows,
    share: { index: w.index, count: w.count },
    shareFlowLimit: w.shareFlowLimit,
    onRecord: (rec: FlowRecord, t: HandshakeTracker) => {
      keys.push(analyzer.keyPos, analyzer.keySub);
      if (enricher !== null) {
        enricher.attribute(rec);
        writeRecordJson(rec, text!);
        text!.room(1);
        text!.buf[text!.pos++] = 10;
        ends.push(text!.pos);
        items.push(rec.slow ? rec : 0);
        return;
      }
      const needKept = t.kept !== null && ((w.keptForSlow && rec.slow) || (w.flowFilter !== null && (rec.client === w.flowFilter || rec.server === w.flowFilter)));
      items.push({ rec, start: t.timeline[0]! >= 0 ? t.timeline[0]! : t.firstTs, firstTs: t.firstTs, lastTs: t.lastTs, kept: needKept ? t.kept : null });
    },
  });
  const post = (frontier: number): void => {
    const bytes = text !== null ? text.buf.subarray(0, text.pos) : null;
    const b: Batch = { kind: 'batch', keys, items, text: bytes, ends, frontier, progress };
    // the text's buffer is handed over, not copied (a Buffer may share a pool: only a whole one of its own)
    port.postMessage(b, bytes !== null && bytes.buffer.byteLength === text!.buf.length && text!.buf.byteOffset === 0 ? [bytes.buffer as ArrayBuffer] : []);
    keys = [];
    items = [];
    ends = [];
    if (text !== null) text = new JsonOut();
  };
  /** Posts the batch, then waits while too far ahead (see 3. above). */
  const checkpoint = (): void => {
    if (analyzer.unsafeAt >= 0 || analyzer.keptAreaWrapped) {
      unsafe = true;
      port.postMessage({ kind: 'unsafe', at: analyzer.unsafeAt });
      throw new Unsafe();
    }
    post(2 * analyzer.stats.packets);
    posted++;
    Atomics.store(shared, w.index, posted);
    for (;;) {
      let min = Atomics.load(shared, w.count);
      for (let i = 0; i < w.count; i++) if (i !== w.index) min = Math.min(min, Atomics.load(shared, i));
      if (posted - min <= WINDOW) break;
      Atomics.wait(sleeper, 0, 0, 1);
    }
  };
  let n = 0;
  const sink: PacketSink = {
    onPacket(p) {
      analyzer.onPacket(p);
      if (++n === CHECKPOINT) { n = 0; checkpoint(); }
    },
  };
  const pkt = new DecodedPacket();
  const reads: (ReadResult & { file: string })[] = [];
  const problems: string[] = [];
  const onProgress = w.index === 0 ? (done: number, total: number) => { progress = [done, total]; } : undefined;
  try {
    for (const file of w.files) {
      try {
        const r = await readCaptureFile(file, pkt, sink, { onProgress });
        reads.push({ ...r, file });
        problems.push(...r.warnings);
      } catch (err) {
        if (!(err instanceof CaptureFileError)) throw err;
        problems.push(err.message);
        reads.push({ file, format: 'pcap', gzip: false, bytes: err.offset, packets: 0, warnings: [err.message] });
      }
    }
  } catch (err) {
    if (err instanceof Unsafe) return;
    throw err;
  }
  if (unsafe) return;
  analyzer.finish();
  if (analyzer.unsafeAt >= 0 || analyzer.keptAreaWrapped) {
    port.postMessage({ kind: 'unsafe', at: analyzer.unsafeAt });
    return;
  }
  Atomics.store(shared, w.index, 0x7fffffff); // finished: never the slowest
  post(Infinity);
  const es = enricher?.stats;
  const done: Done = {
    kind: 'done', stats: analyzer.stats, anomalies: [...analyzer.anomalies.counts], reads, problems,
    enrich: es ? { records: es.records, range_matches: es.range_matches, asn_matches: es.asn_matches, asn_errors: enricher!.asn?.errors ?? 0 } : null,
  };
  port.postMessage(done);
}

class Unsafe extends Error {}

main(workerData as WorkerInput).catch((err: unknown) => {
  const e = err as Error;
  parentPort!.postMessage({ kind: 'error', message: e?.message ?? String(err), stack: e?.stack });
});
