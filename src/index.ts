/**
 * Library surface: analyse capture files in-process (used by tests and other tools).
 */
import { DecodedPacket } from './decode/packet.js';
import { Analyzer } from './handshake/analyzer.js';
import type { FlowRecord } from './handshake/record.js';
import type { KeptPacket } from './handshake/tracker.js';
import { readCaptureFile, type ReadResult } from './sources/capture-file.js';
import { DEFAULT_SLOW_MS } from './config/defaults.js';

export type { FlowRecord } from './handshake/record.js';
export { Analyzer } from './handshake/analyzer.js';
export { readCaptureFile } from './sources/capture-file.js';
export { CaptureFileError } from './sources/capture-error.js';
export { DecodedPacket } from './decode/packet.js';

export interface AnalyzeResult {
  records: FlowRecord[];
  /** Kept packets per record (only when keepPackets). */
  packets: Map<FlowRecord, KeptPacket[]>;
  analyzer: Analyzer;
  reads: ReadResult[];
}

/** Reads the files in order through one analyzer and returns every TLS flow's record. */
export async function analyzeCaptures(files: string[], opts: { slowMs?: number; keepPackets?: boolean; maxFlows?: number } = {}): Promise<AnalyzeResult> {
  const records: FlowRecord[] = [];
  const packets = new Map<FlowRecord, KeptPacket[]>();
  const analyzer = new Analyzer({
    slowMs: opts.slowMs ?? DEFAULT_SLOW_MS,
    keepPackets: opts.keepPackets ?? false,
    flowFilter: null,
    maxFlows: opts.maxFlows,
    onRecord: (rec, t) => {
      records.push(rec);
      if (t.kept) packets.set(rec, t.kept);
    },
  });
  const pkt = new DecodedPacket();
  const reads: ReadResult[] = [];
  for (const f of files) reads.push(await readCaptureFile(f, pkt, analyzer));
  analyzer.finish();
  return { records, packets, analyzer, reads };
}
