/**
 * One worker thread of `analyze --threads N`: share `index` (1 … N-1) of the flows; the main
 * thread runs share 0 and merges (analyze-threads.ts).
 *
 * 1. Reads every input file itself, in order, with the single run's reader (readCaptureFile: the
 *    page cache shares the file). Every packet is framed, only the share's own are decoded and
 *    analysed (ShareAnalysis, analyze-share.ts).
 * 2. Every CHECKPOINT packets it posts the batch on its port and counts it in POSTED, then waits
 *    while it is more than WINDOW checkpoints ahead of what the main thread has merged (MERGED):
 *    memory stays flat.
 * 3. In text mode (ndjson without events, pcaps, records or reverse DNS) it attributes the client
 *    and serialises the lines itself, so the main thread only merges and writes; otherwise the
 *    record objects go over (structured clone) with what the main thread's onRecord needs.
 * 4. When its share goes unsafe (see ShareAnalysis.unsafe) it reports `unsafe` and stops: the
 *    main thread falls back to one thread.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { DecodedPacket } from '../decode/packet.js';
import type { Analyzer } from '../handshake/analyzer.js';
import { readCaptureFile } from '../sources/capture-file.js';
import { CaptureFileError } from '../sources/capture-error.js';
import { openEnricher, type EnrichSettings } from '../enrich/index.js';
import { MERGED, POSTED, ShareAnalysis, WINDOW, type Batch, type ShareOptions } from './analyze-share.js';

export interface WorkerInput extends ShareOptions {
  files: string[];
  /** Text mode: the worker enriches and serialises (settings without rdns). */
  text: EnrichSettings | null;
  control: SharedArrayBuffer;
  /** Where every message goes (the main thread reads it synchronously while it analyses). */
  port: MessagePort;
}

export interface Done {
  kind: 'done';
  stats: Analyzer['stats'];
  anomalies: number[];
  enrich: { records: number; range_matches: number; asn_matches: number; asn_errors: number } | null;
}

export type WorkerMessage = Batch | Done | { kind: 'unsafe' } | { kind: 'error'; message: string; stack?: string };

/** Thrown out of the read when the share went unsafe; never escapes main(). */
class Unsafe extends Error {}

async function main(w: WorkerInput): Promise<void> {
  const port = w.port;
  const ctl = new Int32Array(w.control);
  const enricher = w.text !== null ? openEnricher({ ...w.text, rdns: false }) : null;
  let posted = 0, sent = 0;
  /** Every message is counted in POSTED, which the main thread waits on. */
  const send = (m: WorkerMessage, transfer: ArrayBuffer[] = []): void => {
    port.postMessage(m, transfer);
    Atomics.store(ctl, POSTED + w.index, ++sent);
    Atomics.notify(ctl, POSTED + w.index);
  };
  const post = (b: Batch): void => {
    send(b, b.text !== null ? [b.text.buffer as ArrayBuffer, b.slow!.rows.buffer as ArrayBuffer] : []);
    posted++;
  };
  const share: ShareAnalysis = new ShareAnalysis(w, enricher, () => {
    if (share.unsafe) throw new Unsafe();
    post(share.take());
    for (;;) {
      const merged = Atomics.load(ctl, MERGED);
      if (posted - merged <= WINDOW) return;
      Atomics.wait(ctl, MERGED, merged, 50);
    }
  });
  const pkt = new DecodedPacket();
  try {
    for (const file of w.files) {
      try {
        await readCaptureFile(file, pkt, share);
      } catch (err) {
        if (!(err instanceof CaptureFileError)) throw err; // the main thread reads the same and reports it
      }
    }
    share.analyzer.finish();
    if (share.unsafe) throw new Unsafe();
  } catch (err) {
    if (!(err instanceof Unsafe)) throw err;
    send({ kind: 'unsafe' });
    return;
  }
  post(share.take(true));
  const es = enricher?.stats;
  const done: Done = {
    kind: 'done', stats: share.analyzer.stats, anomalies: [...share.analyzer.anomalies.counts],
    enrich: es ? { records: es.records, range_matches: es.range_matches, asn_matches: es.asn_matches, asn_errors: enricher!.asn?.errors ?? 0 } : null,
  };
  send(done);
}

const input = workerData as WorkerInput;
main(input).catch((err: unknown) => {
  const e = err as Error;
  input.port.postMessage({ kind: 'error', message: e?.message ?? String(err), stack: e?.stack });
  const ctl = new Int32Array(input.control);
  Atomics.add(ctl, POSTED + input.index, 1);
  Atomics.notify(ctl, POSTED + input.index);
});
