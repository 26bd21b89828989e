/**
 * `slowshake config`: the config file's tools.
 *
 *   --print-defaults   the commented default file on stdout (every key at its default)
 *   --check FILE       validate FILE: one line "FILE: OK …" and exit 0, or the one-line error
 *                      naming file, key and value, and exit 2
 */
import { parseArgs } from 'node:util';
import { EXIT_OK, UsageError } from './errors.js';
import { writeStdout } from './stdout.js';

const HELP = `usage: slowshake config --print-defaults
       slowshake config --check FILE

  --print-defaults   print the default configuration file, every key documented
                     (slowshake config --print-defaults > /etc/slowshake/slowshake.toml)
  --check FILE       validate FILE: exit 0 with one OK line, or exit 2 with the error
                     naming the file, the key and the value`;

export async function run(argv: string[]): Promise<number> {
  let v;
  try {
    v = parseArgs({
      args: argv, allowPositionals: false,
      options: { 'print-defaults': { type: 'boolean' }, check: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
    }).values;
  } catch (err) {
    throw new UsageError(`config: ${(err as Error).message.split('\n')[0]}`);
  }
  if (v.help) {
    writeStdout(HELP + '\n');
    return EXIT_OK;
  }
  if (v['print-defaults'] && v.check !== undefined) throw new UsageError('config: give --print-defaults or --check FILE, not both');
  if (v['print-defaults']) {
    const { printDefaults } = await import('../config/print.js');
    writeStdout(printDefaults());
    return EXIT_OK;
  }
  if (v.check !== undefined) {
    const { loadConfigLayer } = await import('../config/load.js');
    const { resolveConfig } = await import('../config/merge.js');
    const layer = loadConfigLayer(v.check);
    resolveConfig(layer);
    const set = Object.values(layer).reduce((n, s) => n + countKeys(s), 0);
    writeStdout(`${v.check}: OK (${set} key${set === 1 ? '' : 's'} set, the rest default)\n`);
    return EXIT_OK;
  }
  throw new UsageError('config: give --print-defaults or --check FILE (see slowshake config --help)');
}

function countKeys(o: unknown): number {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return 1;
  return Object.values(o).reduce<number>((n, v) => n + countKeys(v), 0);
}
