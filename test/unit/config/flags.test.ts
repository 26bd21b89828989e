/**
 * Flags as a config layer (`watch --config FILE -i IFACE …`): each flag is validated with its
 * key's schema type and named in its error; flags win over the file, the file over the defaults;
 * every key documented with a flag really has that flag.
 */
import { describe, expect, it } from 'vitest';
import { parseArgs } from 'node:util';
import { FLAG_OPTIONS, layerFromFlags } from '../../../src/config/flags.js';
import { parseConfigText } from '../../../src/config/load.js';
import { mergeConfig, resolveConfig } from '../../../src/config/merge.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { KEYS } from '../../../src/config/schema.js';
import { UsageError } from '../../../src/cli/errors.js';

const flags = (argv: string[]): Record<string, string | boolean | string[] | undefined> => parseArgs({ args: argv, options: FLAG_OPTIONS }).values;

const file = parseConfigText(`
[capture]
interface = "eth1"
ring_size = "512MiB"
[handshake]
slow_threshold = "300ms"
hold = "5s"
[events.fields]
remote = ["CLIENT"]
[metrics]
listen = "127.0.0.1:9100"
`, 'edge.toml');

describe('layerFromFlags', () => {
  it('capture\'s spellings and units: --slow in ms, a bare --hold in seconds, sizes as capture takes them', () => {
    const l = layerFromFlags(flags(['-i', 'eth0', '--slow', '250', '--hold', '3', '--margin', '500ms', '--ring-size', '1GiB', '--no-promisc',
      '--unit', 'a.service', '--unit', 'b.service', '--max-writes-per-sec', '20', '--metrics-listen', '[::1]:9464', '--no-journal']));
    expect(l).toEqual({
      capture: { interface: 'eth0', ringSize: 2 ** 30, promisc: false },
      journal: { units: ['a.service', 'b.service'], enabled: false },
      handshake: { slowMs: 250, holdMs: 3000, marginMs: 500 },
      output: { maxWritesPerSec: 20 },
      metrics: { listen: '[::1]:9464' },
    });
  });
  it('flags over the file over the defaults', () => {
    const fromFile = resolveConfig(file);
    const c = mergeConfig({ file, flags: layerFromFlags(flags(['-i', 'eth0', '--hold', '1s', '--event-field', 'remote=PEER']), {}, fromFile) });
    expect(c.capture.interface).toBe('eth0');
    expect(c.capture.ringSize).toBe(512 * 2 ** 20);
    expect(c.handshake).toEqual({ ...DEFAULTS.handshake, slowMs: 300, holdMs: 1000 });
    expect(c.events.fields.remote).toEqual(['PEER', 'CLIENT']); // tried first, then the file's names
    expect(c.events.fields.sni).toEqual(DEFAULTS.events.fields.sni);
    expect(c.metrics.listen).toBe('127.0.0.1:9100');
  });
  it('environment twins, under the flags', () => {
    const env = { SLOWSHAKE_INTERFACE: 'eth2', SLOWSHAKE_SLOW: '400', SLOWSHAKE_UNIT: 'x.service,y.service', SLOWSHAKE_METRICS_LISTEN: '0.0.0.0:9464' };
    expect(layerFromFlags(flags(['--slow', '100']), env)).toEqual({
      capture: { interface: 'eth2' }, journal: { units: ['x.service', 'y.service'] }, handshake: { slowMs: 100 }, metrics: { listen: '0.0.0.0:9464' },
    });
  });
  it.each([
    [['--ring-size', '12'], '--ring-size: expected a size between 1MiB and 4GiB, got "12"'],
    [['--ring-size', 'big'], '--ring-size: expected a size such as 256MiB, 64k or 65536, got "big"'],
    [['--hold', 'soon'], '--hold: expected a duration such as 250ms, 2s, 10m, 1h or 7d (a string with its unit), got "soon"'],
    [['--max-writes-per-sec', '0'], '--max-writes-per-sec: expected a number >= 1, got "0"'],
    [['--max-writes-per-sec', 'many'], '--max-writes-per-sec: expected a whole number, got "many"'],
    [['--pcap-format', 'erf'], '--pcap-format: expected one of "pcapng", "pcap", got "erf"'],
    [['--metrics-listen', '9464'], '--metrics-listen: expected ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464, got "9464"'],
    [['--event-regex', 'x=(\\S+)'], '--event-regex: expected a regular expression with a named group (?<remote>…) for the client address, got "x=(\\\\S+)"'],
    [['--event-field', 'peer=X'], '--event-field: expected KEY=NAME with KEY one of remote, local, sni, elapsed, got "peer=X"'],
  ])('%j is one line naming the flag and its value', (argv, message) => {
    let err: unknown;
    try { layerFromFlags(flags(argv)); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(UsageError);
    expect((err as Error).message).toBe(message);
  });
  it('every key documented with a flag has that flag', () => {
    for (const k of KEYS) {
      if (!k.flag) continue;
      const name = k.flag === '-i' ? 'interface' : k.flag.replace(/^--/, '').split(' ')[0]!;
      expect(FLAG_OPTIONS[name], `${k.section}.${k.key} ${k.flag}`).toBeDefined();
    }
  });
});
