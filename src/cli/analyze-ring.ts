/**
 * The packet ring between the reader thread and the analysis workers of `analyze --threads`
 * (analyze-reader.ts fills it, analyze-worker.ts consumes it), in two SharedArrayBuffers:
 *
 *   control (Int32Array):  [PUBLISHED] blocks published so far (absolute count)
 *                          [DONE]      1 once the reader has published its last block
 *                          [MERGED]    checkpoints the main thread has merged (min over workers)
 *                          [COUNT + b] descriptors in block slot b
 *                          [CONSUMED + w] blocks worker w has finished
 *   blocks: BLOCKS slots, each DATA bytes of packet bytes, then DESCS descriptors of
 *           DESC_FIELDS float64: tsSec, tsNsec, tsUs, caplen, origLen, linkType, ifIndex,
 *           owner (worker index, or -1: not a TCP packet anyone tracks), data offset.
 *
 *   reader ──► slot 0 │ slot 1 │ … │ slot BLOCKS-1 ──► every worker reads every slot in order
 *
 * Block n lives in slot n % BLOCKS; the reader reuses a slot only when every worker's CONSUMED
 * is past it. Every worker walks every descriptor (other shares' packets only move its clock);
 * only the owner's packets have their bytes copied in.
 */
// 6 slots of 2 MiB + 16384 descriptors (3.2 MB each, 19 MB in all). 8 slots of twice that took
// no less CPU on the dense benchmark (2.0–2.4 against 1.9–2.2 CPU-s) and ~30 MiB more peak RSS.
export const BLOCKS = 6;
export const DATA = 2 * 1024 * 1024;
export const DESCS = 16384;
export const DESC_FIELDS = 9;
export const SLOT_BYTES = DATA + DESCS * DESC_FIELDS * 8;

export const PUBLISHED = 0;
export const DONE = 1;
export const MERGED = 2;
export const COUNT = 3;
export const CONSUMED = COUNT + BLOCKS;

export const controlWords = (workers: number): number => CONSUMED + workers;

/** Blocks a worker may be ahead of what the main thread has merged (its memory stays flat). */
export const MERGE_WINDOW = 2 * BLOCKS;
