/**
 * The [enrich] config keys and their flags (the FLAG_OPTIONS table watch spreads into its own):
 * --ranges repeatable (SLOWSHAKE_RANGES comma-separated), --asn-db, --rdns / --no-rdns,
 * --dns-server validated, --rdns-timeout in ms; the file's keys validated with the same types.
 */
import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ANALYZE_RDNS, DEFAULTS } from '../../../src/config/defaults.js';
import { FLAG_OPTIONS, layerFromFlags } from '../../../src/config/flags.js';
import { parseConfigText } from '../../../src/config/load.js';
import { printDefaults } from '../../../src/config/print.js';
import { resolveConfig } from '../../../src/config/merge.js';

const flags = (args: string[]) => layerFromFlags(parseArgs({ args, options: FLAG_OPTIONS, strict: true }).values as Record<string, string | boolean | string[] | undefined>);

describe('[enrich] flags and keys', () => {
  it('rdns defaults on for the daemon and off for analyze', () => {
    expect(DEFAULTS.enrich.rdns).toBe(true);
    expect(ANALYZE_RDNS).toBe(false);
  });

  it('flags set the layer', () => {
    expect(flags(['--ranges', 'a.json', '--ranges', 'b.json', '--asn-db', 'x.mmdb', '--no-rdns', '--dns-server', '[::1]:5353', '--rdns-timeout', '250']).enrich)
      .toEqual({ ranges: ['a.json', 'b.json'], asnDb: 'x.mmdb', rdns: false, dnsServer: '[::1]:5353', rdnsTimeoutMs: 250 });
    expect(flags(['--rdns']).enrich).toEqual({ rdns: true });
    expect(layerFromFlags({}, { SLOWSHAKE_RANGES: 'a.json,b.json', SLOWSHAKE_DNS_SERVER: '127.0.0.1' }).enrich).toEqual({ ranges: ['a.json', 'b.json'], dnsServer: '127.0.0.1' });
  });

  it.each([
    [['--dns-server', 'dns.example'], /^--dns-server: expected an IP address with an optional port/],
    [['--dns-server', '127.0.0.1:70000'], /^--dns-server: expected/],
    [['--rdns-timeout', '1'], /^--rdns-timeout: expected a duration between 10ms and 30s, got "1"$/],
    [['--rdns', '--no-rdns'], /^--rdns and --no-rdns: give one of them$/],
  ])('%j is refused', (args, re) => {
    expect(() => flags(args)).toThrow(re);
  });

  it('the file takes the same keys; the default file documents them and loads to the defaults', () => {
    const c = parseConfigText('[enrich]\nranges = ["/etc/slowshake/ip-ranges.json"]\nrdns = false\nrdns_rate = 10\n', 'edge.toml');
    expect(c.enrich).toMatchObject({ ranges: ['/etc/slowshake/ip-ranges.json'], rdns: false, rdnsRate: 10 });
    expect(() => parseConfigText('[enrich]\ndns_server = "resolver.example"\n', 'edge.toml')).toThrow(/enrich\.dns_server/);
    const text = printDefaults();
    expect(text).toMatch(/\n\[enrich\]\n/);
    expect(resolveConfig(parseConfigText(text, 'defaults.toml')).enrich).toEqual(DEFAULTS.enrich);
  });
});
