#!/usr/bin/env node
/**
 * slowshake command line: parses the subcommand and dispatches. Every bad input ends as one line
 * on stderr and exit 2; unexpected failures as one line and exit 1 (stack with SLOWSHAKE_DEBUG=1).
 */
import './early-signals.js'; // first: SIGUSR1 must never reach Node's default (the inspector)
import { CaptureFileError } from '../sources/capture-error.js';
import { ConfigError } from '../config/errors.js';
import { EXIT_BAD_INPUT, EXIT_INTERNAL, UsageError } from './errors.js';

const USAGE = `usage: slowshake <command> [options]

commands:
  analyze FILE...   break every TLS handshake in pcap/pcapng files (or - for stdin) into phases
  capture -i IFACE  live capture into an in-memory packet ring (native libpcap thread)
  config            print the default config file (--print-defaults) or check one (--check FILE)
  demo              spot check on a throwaway edge in network namespaces (root, under a minute)
  watch -i IFACE    the always-on daemon: every handshake measured, Prometheus metrics, evidence for slow ones
  records FILE...   print flow records stored by analyze --records (protobuf record streams)
  report INPUT...   one self-contained HTML page (waterfalls, distributions, table) from records: -o FILE
  help              this text

run "slowshake <command> --help" for the options of a command`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'analyze': {
      const m = await import('./analyze.js');
      return m.run(rest);
    }
    case 'capture': {
      const m = await import('./capture.js');
      return m.run(rest);
    }
    case 'records': {
      const m = await import('./records.js');
      return m.run(rest);
    }
    case 'report': return (await import('./report.js')).run(rest);
    case 'watch': return (await import('./watch.js')).run(rest);
    case 'config': return (await import('./config.js')).run(rest);
    case 'demo': return (await import('./demo.js')).run(rest);
    case undefined: case 'help': case '--help': case '-h':
      process.stdout.write(USAGE + '\n');
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}" (try: slowshake help)`);
  }
}

process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0); // reader went away (| head): not an error
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err: unknown) => {
    const e = err as NodeJS.ErrnoException;
    if (e?.code === 'EPIPE') { process.exitCode = 0; return; }
    if (err instanceof UsageError || err instanceof CaptureFileError || err instanceof ConfigError) {
      process.stderr.write(`slowshake: ${err.message}\n`);
      process.exitCode = EXIT_BAD_INPUT;
      return;
    }
    process.stderr.write(`slowshake: internal error: ${e?.message ?? String(err)}\n`);
    if (process.env.SLOWSHAKE_DEBUG) process.stderr.write(`${e?.stack}\n`);
    process.exitCode = EXIT_INTERNAL;
  },
);
