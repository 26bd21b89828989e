/**
 * `slowshake report INPUT... -o report.html`: one self-contained HTML page from flow records
 * (src/report). INPUT: a capture/watch output directory, a records.pb stream, or
 * `analyze --format ndjson` output, recognised by content.
 *
 * 1. Options are validated up front (one-line errors naming the option).
 * 2. Every input is read; a bad one is one line naming the file (and byte offset), exit 2.
 * 3. The page is written atomically (0600); a one-line summary goes to stderr.
 */
import { parseArgs } from 'node:util';
import { buildReport, DEFAULT_TABLE_ROWS, DEFAULT_WATERFALLS, loadInputs, writeReportFile } from '../report/index.js';
import { describeError } from '../sinks/pcap-writer.js';
import { EXIT_OK, UsageError } from './errors.js';
import { writeStdout } from './stdout.js';

const HELP = `usage: slowshake report [options] INPUT... -o FILE

INPUT is a capture or watch output directory (its *.json records and *.pb streams), a record
stream (records.pb, analyze --records), or analyze --format ndjson/json output; recognised by
content. The same handshake given twice counts once.

  -o, --output FILE    the HTML page to write (0600; pcap links are relative to its directory)  [SLOWSHAKE_REPORT]
  --waterfalls N       draw a waterfall for the slowest N slow handshakes (default ${DEFAULT_WATERFALLS})
  --table-rows N       list the slowest N slow handshakes in the table (default ${DEFAULT_TABLE_ROWS})`;

interface Opts { output: string; waterfalls: number; tableRows: number; inputs: string[] }

function count(option: string, text: string | undefined, dflt: number): number {
  if (text === undefined) return dflt;
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n)) throw new UsageError(`${option}: expected a whole number >= 0, got "${text}"`);
  return n;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): Opts | null {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv, allowPositionals: true,
      options: { output: { type: 'string', short: 'o' }, waterfalls: { type: 'string' }, 'table-rows': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (err) {
    throw new UsageError(`report: ${(err as Error).message.split('\n')[0]}`);
  }
  const v = parsed.values;
  if (v.help) return null;
  const output = v.output ?? env.SLOWSHAKE_REPORT;
  if (output === undefined || output === '') throw new UsageError('report: no output file given (-o report.html)');
  if (parsed.positionals.length === 0) throw new UsageError('report: no input given (an output directory, records.pb or ndjson records)');
  return { output, waterfalls: count('--waterfalls', v.waterfalls, DEFAULT_WATERFALLS), tableRows: count('--table-rows', v['table-rows'], DEFAULT_TABLE_ROWS), inputs: parsed.positionals };
}

export async function run(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  if (opts === null) {
    writeStdout(HELP + '\n');
    return EXIT_OK;
  }
  const loaded = await loadInputs(opts.inputs);
  const html = await buildReport(loaded.records, { output: opts.output, waterfalls: opts.waterfalls, tableRows: opts.tableRows });
  try {
    writeReportFile(opts.output, html);
  } catch (err) {
    throw new UsageError(`--output ${opts.output}: ${describeError(err)}`);
  }
  const slow = loaded.records.filter((r) => r.slow).length;
  const kinds = loaded.inputs.map((i) => `${i.path} (${i.kind}, ${i.records})`).join(', ');
  process.stderr.write(`Report: ${opts.output}: ${loaded.records.length} records, ${slow} slow, ` +
    `${Math.min(slow, opts.waterfalls)} waterfalls, ${Math.round(html.length / 1024)} KiB; from ${kinds}` +
    `${loaded.duplicates > 0 ? `; ${loaded.duplicates} duplicate records counted once` : ''}\n`);
  return EXIT_OK;
}
