/**
 * `slowshake report`: flow records → one self-contained HTML page.
 *
 * 1. Inputs are read and recognised by content (inputs.ts), de-duplicated and put in canonical
 *    order.
 * 2. Everything about all handshakes is aggregated in one pass (aggregate.ts): verdict counts and
 *    a fixed-size histogram per phase, so the page's size does not grow with the input.
 * 3. The slowest N slow handshakes get a waterfall, drawn from their pcap when it is readable
 *    (flow-packets.ts, waterfall.ts); the table lists the slowest `tableRows` slow ones.
 * 4. Top slow networks come from the records' client_info (enrich/top-networks.ts).
 * 5. The page (html.ts) is written atomically, mode 0600 (it holds client addresses).
 */
import { dirname, relative, resolve, sep } from 'node:path';
import { accessSync, closeSync, constants, existsSync, fsyncSync, openSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { describeError } from '../sinks/pcap-writer.js';
import type { FlowRecord } from '../handshake/record.js';
import { TopNetworks } from '../enrich/top-networks.js';
import { DEFAULTS } from '../config/defaults.js';
import { aggregate, slowestFirst } from './aggregate.js';
import { loadFlowPackets } from './flow-packets.js';
import { renderPage, type PageWaterfall } from './html.js';
import { renderWaterfall } from './waterfall.js';

import { loadInputs } from './inputs.js';

export { InputDeadlineError, loadInputs, type LoadedInputs } from './inputs.js';

export const DEFAULT_WATERFALLS = 20;
export const DEFAULT_TABLE_ROWS = 2000;

export interface ReportOptions {
  /** Where the page goes: pcap links are relative to its directory. */
  output: string;
  waterfalls?: number;
  tableRows?: number;
}

/** The pcap link of a record, relative to the page's directory ("/"-separated, URI-encoded). */
export function pcapHref(rec: FlowRecord, pageDir: string): string | null {
  if (rec.pcap === undefined) return null;
  const rel = relative(pageDir, resolve(rec.pcap)).split(sep).join('/');
  // "./" first, so a file name such as "javascript:…" stays a relative path, never a scheme
  return encodeURI(rel.startsWith('../') ? rel : `./${rel}`);
}

/** Builds the page for `records` (in canonical order: loadInputs gives them so). */
export async function buildReport(records: readonly FlowRecord[], opts: ReportOptions): Promise<string> {
  const pageDir = dirname(resolve(opts.output));
  const agg = aggregate(records);
  const slow = slowestFirst(records.filter((r) => r.slow));
  const waterfalls: PageWaterfall[] = [];
  for (const rec of slow.slice(0, opts.waterfalls ?? DEFAULT_WATERFALLS)) {
    waterfalls.push({ rec, svg: renderWaterfall(rec, await loadFlowPackets(rec)), pcapHref: pcapHref(rec, pageDir) });
  }
  let networks = null;
  if (records.some((r) => r.client_info !== undefined)) {
    const top = new TopNetworks();
    for (const r of records) if (r.slow) top.add(r);
    networks = top.top(DEFAULTS.enrich.topNetworks);
  }
  return renderPage({
    agg, waterfalls, rows: slow.slice(0, opts.tableRows ?? DEFAULT_TABLE_ROWS), tableRows: opts.tableRows ?? DEFAULT_TABLE_ROWS,
    networks, pcapHref: (r) => pcapHref(r, pageDir),
  });
}

/**
 * Writes the page atomically: a temp file beside it (0600), fsynced, renamed over the target,
 * the directory fsynced; a reader never sees half a page.
 */
export function writeReportFile(path: string, html: string): void {
  const dir = dirname(resolve(path));
  const tmp = resolve(dir, `.${path.split('/').pop()}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, html, { mode: 0o600 });
    const fd = openSync(tmp, 'r');
    try { fsyncSync(fd); } finally { closeSync(fd); }
    renameSync(tmp, path);
  } catch (err) {
    try { unlinkSync(tmp); } catch { /* not made */ }
    throw err;
  }
  const d = openSync(dir, 'r');
  try { fsyncSync(d); } finally { closeSync(d); }
}

/**
 * Reads `inputs` and writes the page to `output` in one go (`capture --report`, watch's
 * `output.report`). Inputs that do not exist (a quiet run made no output directory) are left out;
 * with none left the page says 0 handshakes.
 */
export async function writeReport(inputs: readonly string[], output: string, opts: Omit<ReportOptions, 'output'> & { dirStreams?: boolean; stop?: AbortSignal } = {}): Promise<{ records: number; slow: number; bytes: number }> {
  const present = inputs.filter((p) => existsSync(p));
  const loaded = await loadInputs(present, { dirStreams: opts.dirStreams, stop: opts.stop });
  const html = await buildReport(loaded.records, { ...opts, output });
  writeReportFile(output, html);
  return { records: loaded.records.length, slow: loaded.records.filter((r) => r.slow).length, bytes: Buffer.byteLength(html) };
}

/** Why `output` cannot be written (its directory is missing or not writable), or null. */
export function reportTargetProblem(output: string): string | null {
  const dir = dirname(resolve(output));
  try {
    if (!statSync(dir).isDirectory()) return `${dir} is not a directory`;
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    return `${dir}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such directory' : describeError(err)}`;
  }
  return null;
}
