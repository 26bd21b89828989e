/**
 * `slowshake records FILE…`: prints flow records stored in record stream files (length-delimited
 * protobuf, written by `analyze --records FILE` or the daemon) the way `analyze` prints them.
 *
 * 1. Options are validated up front (one-line errors naming the option).
 * 2. Files are read in order; ndjson streams records out as they are decoded, table and json
 *    collect them first.
 * 3. A truncated or corrupt file keeps the records before the bad frame; its error (file and byte
 *    offset) goes to stderr, the remaining files are still read, and the exit code is 2.
 */
import { parseArgs } from 'node:util';
import type { FlowRecord } from '../handshake/record.js';
import { recordToJson } from '../handshake/record-json.js';
import { CaptureFileError } from '../sources/capture-error.js';
import { readRecordStream } from '../sinks/protobuf-records.js';
import { renderTable, verdictTotals } from '../sinks/report.js';
import { renderTopNetworks, TopNetworks } from '../enrich/top-networks.js';
import { DEFAULTS } from '../config/defaults.js';
import { milliseconds, outputFormat } from './options.js';
import { writeStdout } from './stdout.js';
import { EXIT_BAD_INPUT, EXIT_OK, UsageError } from './errors.js';
import { DEFAULT_SLOW_MS } from '../config/defaults.js';

const HELP = `usage: slowshake records [options] FILE... (record streams written by analyze --records)

  --format table|json|ndjson  output format (default: table on a terminal, else ndjson)  [SLOWSHAKE_FORMAT]
  --slow MS                   re-decide "slow" from each record's total (default: keep the stored flag;
                              the table header then assumes the default ${DEFAULT_SLOW_MS})  [SLOWSHAKE_SLOW]
  --all                       table: include fast flows too (json/ndjson always carry every record)`;

interface Opts {
  format: 'table' | 'json' | 'ndjson';
  slowMs: number | null;
  all: boolean;
  files: string[];
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Opts | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { format: { type: 'string' }, slow: { type: 'string' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError(`records: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  if (v.help) return null;
  const format = outputFormat(v.format, env);
  const slowText = v.slow ?? env.SLOWSHAKE_SLOW;
  const slowMs = slowText !== undefined ? milliseconds('--slow', slowText) : null;
  if (parsed.positionals.length === 0) throw new UsageError('records: no record file given');
  return { format, slowMs, all: v.all ?? false, files: parsed.positionals };
}

/** Blocking stdout writes that survive a slow pipe (EAGAIN), shared with analyze. */
const writeOut = writeStdout;

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts === null) {
    writeOut(HELP + '\n');
    return EXIT_OK;
  }
  const records: FlowRecord[] = [];
  const files: { file: string; records: number; bytes: number; error: string | null }[] = [];
  const problems: string[] = [];
  let ndjsonBuf = '';
  let count = 0;
  // "Top slow networks" from the records' client_info (records written before it existed have none)
  const top = new TopNetworks();
  let attributed = false;
  for (const file of opts.files) {
    const stats = { bytes: 0, records: 0 };
    let error: string | null = null;
    try {
      for await (const rec of readRecordStream(file, stats)) {
        count++;
        // Without a lastTs the "observed" rule of analyze cannot be re-applied: no total keeps the flag.
        if (opts.slowMs !== null && rec.phases_ms.total !== null) rec.slow = rec.phases_ms.total >= opts.slowMs;
        if (rec.client_info !== undefined) {
          if (rec.slow) top.add(rec);
          const ci = rec.client_info;
          if (ci.provider !== null || ci.asn !== null || ci.rdns !== null) attributed = true;
        }
        if (opts.format === 'ndjson') {
          ndjsonBuf += recordToJson(rec) + '\n';
          if (ndjsonBuf.length > 65536) { writeOut(ndjsonBuf); ndjsonBuf = ''; }
        } else {
          records.push(rec);
        }
      }
    } catch (err) {
      if (!(err instanceof CaptureFileError)) throw err;
      error = err.message;
      problems.push(err.message);
    }
    files.push({ file, records: stats.records, bytes: stats.bytes, error });
  }
  if (count === 0 && problems.length > 0) {
    for (const p of problems) process.stderr.write(`slowshake: ${p}\n`);
    return EXIT_BAD_INPUT;
  }
  const rows = top.top(DEFAULTS.enrich.topNetworks);
  const topText = renderTopNetworks(rows);
  const summary = `Records: ${count} read from ${files.length} file${files.length === 1 ? '' : 's'}${topText ? `\n${topText}` : ''}`;
  if (opts.format === 'ndjson') {
    if (ndjsonBuf) writeOut(ndjsonBuf);
    process.stderr.write(summary + '\n');
  } else if (opts.format === 'json') {
    const s = { files, records: count, slow_flows: records.filter((r) => r.slow).length, verdicts: verdictTotals(records), top_slow_networks: rows };
    writeOut(JSON.stringify({ flows: records, summary: s }, null, 2) + '\n');
  } else {
    const cols = { pcap: records.some((r) => r.pcap !== undefined), event: records.some((r) => r.event !== undefined), network: attributed };
    writeOut(renderTable(records, opts.slowMs ?? DEFAULT_SLOW_MS, opts.all, cols));
    writeOut(summary + '\n');
  }
  for (const p of problems) process.stderr.write(`slowshake: ${p}\n`);
  return problems.length > 0 ? EXIT_BAD_INPUT : EXIT_OK;
}
