/**
 * `slowshake config` (built CLI): --print-defaults prints a file --check accepts; --check exits 0
 * with one OK line, or 2 with one line naming the file, the key and the value (no stack trace).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expectOneLineError, runCli, tempDir } from '../helpers/cli.js';
import { KEYS } from '../../src/config/schema.js';

let dir: string;
beforeAll(() => { dir = tempDir(); });
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

function file(name: string, text: string): string {
  const f = join(dir, name);
  writeFileSync(f, text);
  return f;
}

describe('slowshake config', () => {
  it('--print-defaults: a commented file that --check accepts', () => {
    const r = runCli(['config', '--print-defaults']);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^# slowshake configuration \(TOML\)\./);
    expect(r.stdout).toContain('\n[capture]\n');
    expect(r.stdout).toContain('\nslow_threshold = "200ms"\n');
    const f = file('defaults.toml', r.stdout);
    const c = runCli(['config', '--check', f]);
    expect(c.status).toBe(0);
    expect(c.stderr).toBe('');
    // every key the default file sets (46 with output.report_interval; output.report is commented out)
    expect(c.stdout).toBe(`${f}: OK (${KEYS.filter((k) => !k.unsetByDefault).length} keys set, the rest default)\n`);
  });
  it('--check: a small good file', () => {
    const f = file('small.toml', '[capture]\ninterface = "eth0"\n[metrics]\nlisten = "127.0.0.1:9100"\n');
    const r = runCli(['config', '--check', f]);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe(`${f}: OK (2 keys set, the rest default)\n`);
  });
  it.each([
    ['unknown key', '[output]\nretention = "1GiB"\n', /: output\.retention: unknown key \(did you mean output\.retention_age\?\), got "1GiB"$/],
    ['wrong type', '[capture]\nsnaplen = true\n', /: capture\.snaplen: expected a size such as 256MiB, 64k or 65536, got true$/],
    ['bad duration', '[handshake]\nmargin = "1 sec"\n', /: handshake\.margin: expected a duration .*, got "1 sec"$/],
    ['out of range', '[metrics]\ntop_networks = 0\n', /: metrics\.top_networks: expected a number >= 1, got 0$/],
    ['bad enum', '[handshake]\nproxy_clock = "ack"\n', /: handshake\.proxy_clock: expected one of "accept", "syn", got "ack"$/],
    ['malformed TOML', '[capture\ninterface = "eth0"\n', /:1:\d+: invalid TOML: .*, at: \[capture$/],
  ])('--check: %s is one line naming file, key and value, exit 2', (name, text, pattern) => {
    const f = file(`${name.replace(/ /g, '-')}.toml`, text);
    const r = runCli(['config', '--check', f]);
    expectOneLineError(r, pattern);
    expect(r.stderr.startsWith(`slowshake: ${f}`)).toBe(true);
    expect(r.stdout).toBe('');
  });
  it('--check: a missing file, a directory', () => {
    expectOneLineError(runCli(['config', '--check', join(dir, 'nope.toml')]), /^slowshake: \S+nope\.toml: cannot read the config file: no such file$/);
    expectOneLineError(runCli(['config', '--check', dir]), /: cannot read the config file: is a directory$/);
  });
  it('usage errors: no action, both actions, an unknown option', () => {
    expectOneLineError(runCli(['config']), /^slowshake: config: give --print-defaults or --check FILE/);
    expectOneLineError(runCli(['config', '--print-defaults', '--check', 'x.toml']), /^slowshake: config: give --print-defaults or --check FILE, not both$/);
    expectOneLineError(runCli(['config', '--frobnicate']), /^slowshake: config: Unknown option '--frobnicate'/);
    expectOneLineError(runCli(['config', '--check']), /^slowshake: config: Option '--check <value>' argument missing/);
  });
  it('--help, and the command is listed in slowshake help', () => {
    expect(runCli(['config', '--help']).stdout).toMatch(/^usage: slowshake config --print-defaults/);
    expect(runCli(['help']).stdout).toMatch(/\n {2}config {12}print the default config file/);
  });
});
