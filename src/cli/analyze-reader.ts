/**
 * The reader thread of `analyze --threads N` (analyze-ring.ts has the layout).
 *
 * 1. Reads the files in order with the single run's reader (readCaptureFile), so capture-file
 *    errors and warnings are the single run's, word for word.
 * 2. Decodes every packet once to find its flow (the symmetric flow hash modulo N picks the
 *    worker; both directions hash alike) and counts the decode anomalies for all workers.
 * 3. Copies the owner's packet bytes and a descriptor of every packet into the current block;
 *    publishes it when full. A full ring waits for the slowest worker.
 * Measured on the bulk benchmark (issue 13): workers that each read and decoded the whole file
 * cost 0.5–0.8 CPU-s more per extra worker than this one reader.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { decodePacket } from '../decode/dispatch.js';
import { DecodedPacket } from '../decode/packet.js';
import { Status } from '../decode/reader.js';
import { flowHashAt } from '../ring/flow-hash.js';
import { readCaptureFile, type ReadResult } from '../sources/capture-file.js';
import { CaptureFileError, type PacketSink } from '../sources/capture-error.js';
import { AnomalyCounters } from '../telemetry/anomalies.js';
import { BLOCKS, CONSUMED, COUNT, DATA, DESC_FIELDS, DESCS, DONE, PUBLISHED, SLOT_BYTES } from './analyze-ring.js';

export interface ReaderInput { files: string[]; workers: number; control: SharedArrayBuffer; blocks: SharedArrayBuffer; progress: boolean }

export interface ReaderDone {
  kind: 'read';
  reads: (ReadResult & { file: string })[];
  problems: string[];
  anomalies: number[];
}

const copy = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** A packet too large for a block: the caller falls back to one thread. */
class TooLarge extends Error {}

async function main(r: ReaderInput): Promise<void> {
  const port = parentPort!;
  const ctl = new Int32Array(r.control);
  const n = r.workers;
  const anomalies = new AnomalyCounters();
  let abs = 0; // absolute number of the block being filled
  let slot = 0;
  let data = new Uint8Array(r.blocks, 0, DATA);
  let desc = new Float64Array(r.blocks, DATA, DESCS * DESC_FIELDS);
  let count = 0;
  let pos = 0;

  /** Waits until every worker has finished the block that used slot `abs % BLOCKS` before. */
  const acquire = (): void => {
    for (;;) {
      let min = -1, minAt = 0;
      for (let w = 0; w < n; w++) {
        const c = Atomics.load(ctl, CONSUMED + w);
        if (min < 0 || c < min) { min = c; minAt = w; }
      }
      if (min > abs - BLOCKS) return;
      Atomics.wait(ctl, CONSUMED + minAt, min, 20);
    }
  };
  const publish = (): void => {
    Atomics.store(ctl, COUNT + slot, count);
    Atomics.store(ctl, PUBLISHED, abs + 1);
    Atomics.notify(ctl, PUBLISHED);
    abs++;
    slot = abs % BLOCKS;
    acquire();
    data = new Uint8Array(r.blocks, slot * SLOT_BYTES, DATA);
    desc = new Float64Array(r.blocks, slot * SLOT_BYTES + DATA, DESCS * DESC_FIELDS);
    count = 0;
    pos = 0;
  };

  const sink: PacketSink = {
    onPacket(p: DecodedPacket) {
      const tsSec = p.tsSec, tsNsec = p.tsNsec, tsUs = p.tsUs, caplen = p.caplen, origLen = p.origLen, linkType = p.linkType, ifIndex = p.ifIndex;
      const off = p.off, buf = p.buf;
      let owner = -1;
      if (decodePacket(p, anomalies) === Status.OK) {
        owner = flowHashAt(p.buf, p.srcAddrOff, p.dstAddrOff, p.ipVersion === 6 ? 16 : 4, p.srcPort, p.dstPort) % n;
        if (caplen > DATA) throw new TooLarge();
        if (pos + caplen > DATA) publish();
      }
      if (count === DESCS) publish();
      const d = count * DESC_FIELDS;
      desc[d] = tsSec;
      desc[d + 1] = tsNsec;
      desc[d + 2] = tsUs;
      desc[d + 3] = caplen;
      desc[d + 4] = origLen;
      desc[d + 5] = linkType;
      desc[d + 6] = ifIndex;
      desc[d + 7] = owner;
      desc[d + 8] = pos;
      if (owner >= 0) {
        // a native copy with no view made per packet (set(subarray) allocated one)
        copy.call(buf, data, pos, off, off + caplen);
        pos += caplen;
      }
      count++;
    },
  };

  const onProgress = r.progress ? (done: number, total: number) => port.postMessage({ kind: 'progress', done, total }) : undefined;
  const pkt = new DecodedPacket();
  const reads: (ReadResult & { file: string })[] = [];
  const problems: string[] = [];
  acquire();
  try {
    for (const file of r.files) {
      try {
        const res = await readCaptureFile(file, pkt, sink, { onProgress });
        reads.push({ ...res, file });
        problems.push(...res.warnings);
      } catch (err) {
        if (!(err instanceof CaptureFileError)) throw err;
        problems.push(err.message);
        reads.push({ file, format: 'pcap', gzip: false, bytes: err.offset, packets: 0, warnings: [err.message] });
      }
    }
  } catch (err) {
    if (err instanceof TooLarge) { port.postMessage({ kind: 'unsafe', at: -1 }); return; }
    throw err;
  }
  if (count > 0) publish();
  Atomics.store(ctl, DONE, 1);
  Atomics.notify(ctl, PUBLISHED);
  const done: ReaderDone = { kind: 'read', reads, problems, anomalies: [...anomalies.counts] };
  port.postMessage(done);
}

main(workerData as ReaderInput).catch((err: unknown) => {
  const e = err as Error;
  parentPort!.postMessage({ kind: 'error', message: e?.message ?? String(err), stack: e?.stack });
});
