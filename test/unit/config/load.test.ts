/**
 * Config file validation (issue 9 §2): every kind of error is one line naming the file, the
 * dotted key, what was expected and the value received; a good file loads, normalised and frozen.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile, parseConfigText } from '../../../src/config/load.js';
import { ConfigError } from '../../../src/config/errors.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { resolveConfig } from '../../../src/config/merge.js';

function errorOf(text: string, file = 'edge.toml'): ConfigError {
  try {
    parseConfigText(text, file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.code).toBe('SLOWSHAKE_ERR_CONFIG');
    expect(e.message).not.toContain('\n');
    expect(e.file).toBe(file);
    return e;
  }
  throw new Error(`no error for: ${text}`);
}

describe('a good file', () => {
  it('normalises sizes and durations and leaves the rest at the defaults', () => {
    const c = resolveConfig(parseConfigText(`
[capture]
interface = "eth0"
ring_size = "1GiB"
buffer_size = 8388608
[handshake]
slow_threshold = "350ms"
hold = "3s"
[output]
retention_age = "2d"
retention_bytes = "500MB"
[events.fields]
remote = ["CLIENT"]
`, 'edge.toml'));
    expect(c.capture).toEqual({ ...DEFAULTS.capture, interface: 'eth0', ringSize: 2 ** 30, bufferSize: 8 * 2 ** 20 });
    expect(c.handshake).toEqual({ ...DEFAULTS.handshake, slowMs: 350, holdMs: 3000 });
    expect(c.output.retentionAgeMs).toBe(2 * 86_400_000);
    expect(c.output.retentionBytes).toBe(500e6);
    expect(c.events.fields).toEqual({ ...DEFAULTS.events.fields, remote: ['CLIENT'] });
    expect(c.metrics).toEqual(DEFAULTS.metrics);
    expect(Object.isFrozen(c) && Object.isFrozen(c.events.fields.remote)).toBe(true);
  });
  it('an empty file is the defaults', () => {
    expect(resolveConfig(parseConfigText('', 'empty.toml'))).toEqual(DEFAULTS);
  });
  it('loads from disk; an unreadable file is one line naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'slowshake-config-'));
    try {
      const f = join(dir, 'slowshake.toml');
      writeFileSync(f, '[metrics]\nlisten = "[::1]:9100"\n');
      expect(loadConfigFile(f).metrics.listen).toBe('[::1]:9100');
      expect(() => loadConfigFile(join(dir, 'missing.toml'))).toThrow(`${join(dir, 'missing.toml')}: cannot read the config file: no such file`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('every error names its key and value', () => {
  it.each([
    // [kind, file text, key, the whole expected message after "edge.toml: "]
    ['unknown key with a hint', '[capture]\nrng_size = "1GiB"', 'capture.rng_size', 'capture.rng_size: unknown key (did you mean capture.ring_size?), got "1GiB"'],
    ['unknown section', '[tracing]\nurl = "x"', 'tracing', 'tracing: unknown key (sections: capture, kernel_filter, journal, events, handshake, output, metrics, state, enrich, alerts), got { url = "x" }'],
    ['unknown section with a hint', '[captur]\nfilter = "tcp"', 'captur', 'captur: unknown key (did you mean capture?), got { filter = "tcp" }'],
    ['a key named like an Object method', '[capture]\nconstructor = 1', 'capture.constructor', 'capture.constructor: unknown key ([capture] takes interface, filter, snaplen, buffer_size, ring_size, promisc, user), got 1'],
    ['a key in the wrong section', '[journal]\nhold = "2s"', 'journal.hold', 'journal.hold: unknown key (hold belongs in [handshake]), got "2s"'],
    ['a top-level key', 'ring_size = "1GiB"', 'ring_size', 'ring_size: unknown key (ring_size belongs in [capture]), got "1GiB"'],
    ['a command-line spelling', '[handshake]\nslow = 200', 'handshake.slow', 'handshake.slow: unknown key (did you mean handshake.slow_threshold?), got 200'],
    ['wrong type', '[capture]\npromisc = "yes"', 'capture.promisc', 'capture.promisc: expected true or false, got "yes"'],
    ['wrong type (table for value)', 'capture = 3', 'capture', 'capture: expected a table, got 3'],
    ['wrong type in an array', '[journal]\nunits = ["nginx.service", 7]', 'journal.units[1]', 'journal.units[1]: expected a string, got 7'],
    ['bad size', '[capture]\nring_size = "12XB"', 'capture.ring_size', 'capture.ring_size: expected a size such as 256MiB, 64k or 65536, got "12XB"'],
    ['size out of range', '[capture]\nring_size = 4096', 'capture.ring_size', 'capture.ring_size: expected a size between 1MiB and 4GiB, got 4096'],
    ['bad duration', '[handshake]\nhold = "two seconds"', 'handshake.hold', 'handshake.hold: expected a duration such as 250ms, 2s, 10m, 1h or 7d (a string with its unit), got "two seconds"'],
    ['duration without its unit', '[handshake]\nslow_threshold = 200', 'handshake.slow_threshold', 'handshake.slow_threshold: expected a duration such as 250ms, 2s, 10m, 1h or 7d (a string with its unit), got 200'],
    ['duration out of range', '[kernel_filter]\nflow_time = "5ms"', 'kernel_filter.flow_time', 'kernel_filter.flow_time: expected a duration between 100ms and 1h, got "5ms"'],
    ['number out of range', '[output]\nmax_writes_per_sec = 0', 'output.max_writes_per_sec', 'output.max_writes_per_sec: expected a number >= 1, got 0'],
    ['number above range', '[metrics]\nipv4_prefix = 33', 'metrics.ipv4_prefix', 'metrics.ipv4_prefix: expected a number <= 32, got 33'],
    ['not a whole number', '[events]\nqueue = 1.5', 'events.queue', 'events.queue: expected a whole number, got 1.5'],
    ['bad enum', '[kernel_filter]\nmode = "bpf"', 'kernel_filter.mode', 'kernel_filter.mode: expected one of "auto", "ebpf", "classic", "off", got "bpf"'],
    ['bad enum (pcap format)', '[output]\npcap_format = "PCAPNG"', 'output.pcap_format', 'output.pcap_format: expected one of "pcapng", "pcap", got "PCAPNG"'],
    ['bad listen address', '[metrics]\nlisten = "localhost"', 'metrics.listen', 'metrics.listen: expected ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464, got "localhost"'],
    ['listen port out of range', '[metrics]\nlisten = "0.0.0.0:70000"', 'metrics.listen', 'metrics.listen: expected ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464, got "0.0.0.0:70000"'],
    ['bad regular expression', '[events]\nregex = "(?<remote>a"', 'events.regex', 'events.regex: expected a valid regular expression (Invalid regular expression: /(?<remote>a/: Unterminated group), got "(?<remote>a"'],
    ['regex without its remote group', '[events]\nregex = "client=(\\\\S+)"', 'events.regex', 'events.regex: expected a regular expression with a named group (?<remote>…) for the client address, got "client=(\\\\S+)"'],
    ['empty field list', '[events.fields]\nremote = []', 'events.fields.remote', 'events.fields.remote: expected at least 1 entry, got []'],
    ['empty string', '[output]\ndirectory = ""', 'output.directory', 'output.directory: expected a non-empty string, got ""'],
    ['bad interface name', '[capture]\ninterface = "a-very-long-interface0"', 'capture.interface', 'capture.interface: expected an interface name (at most 15 characters, no spaces or /), got "a-very-long-interface0"'],
    ['a unit with a space', '[journal]\nunits = ["fly proxy"]', 'journal.units[0]', 'journal.units[0]: expected a value without spaces, got "fly proxy"'],
    ['bad field name', '[events.fields]\nsni = ["tls sni"]', 'events.fields.sni[0]', 'events.fields.sni[0]: expected journal field or logfmt key names (letters, digits, _ . -), got "tls sni"'],
    ['bad user name', '[capture]\nuser = "no body"', 'capture.user', 'capture.user: expected a user name, got "no body"'],
    ['unknown key in a sub-table', '[events.fields]\nclient = ["C"]', 'events.fields.client', 'events.fields.client: unknown key ([events.fields] takes remote, local, sni, elapsed), got ["C"]'],
  ])('%s', (_kind, text, key, message) => {
    const e = errorOf(text);
    expect(e.key).toBe(key);
    expect(e.message).toBe(`edge.toml: ${message}`);
    expect(e.reason).toBe(message.includes('unknown key') ? 'unknown_key' : 'invalid_value');
  });

  it('several problems: the first is named and the rest counted, an unknown key first', () => {
    const e = errorOf('[capture]\nring_size = "x"\nsnaplen = 1\nbuffersize = "1MiB"');
    expect(e.message).toBe('edge.toml: capture.buffersize: unknown key (did you mean capture.buffer_size?), got "1MiB" (and 2 more problems)');
  });

  it('malformed TOML names the line and column', () => {
    const e = errorOf('[capture]\nfilter = "tcp"\nring_size = = "1GiB"\n');
    expect(e.reason).toBe('syntax');
    expect(e.key).toBeNull();
    expect(e.message).toMatch(/^edge\.toml:3:13: invalid TOML: \S.*, at: ring_size = = "1GiB"$/);
  });

  it('a duplicated key is malformed TOML, with its line', () => {
    expect(errorOf('[capture]\nfilter = "a"\nfilter = "b"\n').message).toBe('edge.toml:3:1: invalid TOML: trying to redefine an already defined table or value, at: filter = "b"');
  });
});
