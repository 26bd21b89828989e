/**
 * One analysis worker of `analyze --threads N` (worker_threads; the main side is
 * analyze-threads.ts, the reader analyze-reader.ts, the ring between them analyze-ring.ts).
 *
 * 1. Walks every block of the ring in order: its own packets (the reader picked the owner by
 *    flow hash) go through an Analyzer as in the single run, every other packet only moves the
 *    clock and the counts (Analyzer.skipPacket), so sweeps happen at the single run's packets.
 * 2. Each record goes to the main thread with its order key (Analyzer keyPos/keySub). In text
 *    mode (ndjson without events, pcaps, records or reverse DNS) the worker attributes the client
 *    and serialises the line itself, so the main thread only merges and writes; otherwise the
 *    record object goes over (structured clone) with what the main thread's onRecord needs.
 * 3. After each block it posts the batch and its frontier (no later record has a smaller key).
 *    It waits while MERGE_WINDOW blocks ahead of what the main thread has merged, and the
 *    reader waits for the slowest worker: memory stays flat.
 * 4. A new flow that finds `shareFlowLimit` flows of the share tracked, or a reuse of the share's
 *    part of the kept-packet area, means the single run might evict or reuse here: the worker
 *    reports `unsafe` and stops (the main thread falls back to one thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DecodedPacket } from '../decode/packet.js';
import { Analyzer } from '../handshake/analyzer.js';
import type { FlowRecord } from '../handshake/record.js';
import { JsonOut, writeRecordJson } from '../handshake/record-json.js';
import type { HandshakeTracker, KeptPacket } from '../handshake/tracker.js';
import { BLOCKS, CONSUMED, COUNT, DATA, DESC_FIELDS, DESCS, DONE, MERGE_WINDOW, MERGED, PUBLISHED, SLOT_BYTES } from './analyze-ring.js';
import { openEnricher, type EnrichSettings, type Enricher } from '../enrich/index.js';

export interface WorkerInput {
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
  /** The ring (analyze-ring.ts). */
  control: SharedArrayBuffer;
  blocks: SharedArrayBuffer;
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
}

export interface Done {
  kind: 'done';
  stats: Analyzer['stats'];
  anomalies: number[];
  enrich: { records: number; range_matches: number; asn_matches: number; asn_errors: number } | null;
}

export type WorkerMessage = Batch | Done | { kind: 'unsafe'; at: number } | { kind: 'error'; message: string; stack?: string };

async function main(w: WorkerInput): Promise<void> {
  const port = parentPort!;
  const ctl = new Int32Array(w.control);
  const enricher: Enricher | null = w.text !== null ? openEnricher({ ...w.text, rdns: false }) : null;
  let keys: number[] = [];
  let items: Batch['items'] = [];
  let text = w.text !== null ? new JsonOut() : null;
  let ends: number[] = [];
  const analyzer: Analyzer = new Analyzer({
    slowMs: w.slowMs,
    keepPackets: w.keepPackets,
    flowFilter: w.flowFilter,
    maxFlows: w.maxFlows,
    share: { count: w.count },
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
    const b: Batch = { kind: 'batch', keys, items, text: bytes, ends, frontier };
    // the text's buffer is handed over, not copied
    port.postMessage(b, bytes !== null && bytes.buffer.byteLength === text!.buf.length && text!.buf.byteOffset === 0 ? [bytes.buffer as ArrayBuffer] : []);
    keys = [];
    items = [];
    ends = [];
    if (text !== null) text = new JsonOut();
  };
  const unsafe = (): boolean => {
    if (analyzer.unsafeAt < 0 && !analyzer.keptAreaWrapped) return false;
    port.postMessage({ kind: 'unsafe', at: analyzer.unsafeAt });
    return true;
  };

  const pkt = new DecodedPacket();
  for (let abs = 0; ; abs++) {
    // wait for block `abs` (or the end), and for the main thread's merge (see 3. above)
    for (;;) {
      const pub = Atomics.load(ctl, PUBLISHED);
      if (pub > abs && abs - Atomics.load(ctl, MERGED) <= MERGE_WINDOW) break;
      if (pub <= abs && Atomics.load(ctl, DONE) === 1 && Atomics.load(ctl, PUBLISHED) <= abs) {
        analyzer.finish();
        if (unsafe()) return;
        post(Infinity);
        const es = enricher?.stats;
        const done: Done = {
          kind: 'done', stats: analyzer.stats, anomalies: [...analyzer.anomalies.counts],
          enrich: es ? { records: es.records, range_matches: es.range_matches, asn_matches: es.asn_matches, asn_errors: enricher!.asn?.errors ?? 0 } : null,
        };
        port.postMessage(done);
        return;
      }
      Atomics.wait(ctl, PUBLISHED, pub, 5);
    }
    const slot = abs % BLOCKS;
    const data = Buffer.from(w.blocks, slot * SLOT_BYTES, DATA);
    const desc = new Float64Array(w.blocks, slot * SLOT_BYTES + DATA, DESCS * DESC_FIELDS);
    const count = Atomics.load(ctl, COUNT + slot);
    const me = w.index;
    pkt.buf = data;
    for (let i = 0, d = 0; i < count; i++, d += DESC_FIELDS) {
      if (desc[d + 7] !== me) {
        analyzer.skipPacket(desc[d]!, desc[d + 4]!);
        continue;
      }
      pkt.tsSec = desc[d]!;
      pkt.tsNsec = desc[d + 1]!;
      pkt.tsUs = desc[d + 2]!;
      pkt.caplen = desc[d + 3]!;
      pkt.origLen = desc[d + 4]!;
      pkt.linkType = desc[d + 5]!;
      pkt.ifIndex = desc[d + 6]!;
      pkt.off = desc[d + 8]!;
      analyzer.onPacket(pkt);
    }
    Atomics.store(ctl, CONSUMED + me, abs + 1);
    Atomics.notify(ctl, CONSUMED + me);
    if (unsafe()) return;
    post(2 * analyzer.stats.packets);
  }
}



main(workerData as WorkerInput).catch((err: unknown) => {
  const e = err as Error;
  parentPort!.postMessage({ kind: 'error', message: e?.message ?? String(err), stack: e?.stack });
});
