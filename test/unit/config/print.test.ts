/**
 * `--print-defaults` output: it parses, loads to exactly DEFAULTS, documents every key, and its
 * commented examples are valid too.
 */
import { describe, expect, it } from 'vitest';
import { printDefaults } from '../../../src/config/print.js';
import { parseConfigText } from '../../../src/config/load.js';
import { resolveConfig } from '../../../src/config/merge.js';
import { DEFAULTS, DEFAULT_SLOW_MS } from '../../../src/config/defaults.js';
import { KEYS, SECTIONS } from '../../../src/config/schema.js';

const text = printDefaults();

describe('the default file', () => {
  it('loads to exactly the defaults', () => {
    expect(resolveConfig(parseConfigText(text, 'defaults.toml'))).toStrictEqual(DEFAULTS);
  });
  it('sets every key except those unset by default, which it shows commented out', () => {
    const layer = parseConfigText(text, 'defaults.toml') as Record<string, Record<string, unknown>>;
    for (const k of KEYS) {
      let v: unknown = layer;
      for (const p of k.field) v = (v as Record<string, unknown> | undefined)?.[p];
      if (k.unsetByDefault) {
        expect(v, `${k.section}.${k.key}`).toBeUndefined();
        expect(text).toContain(`\n# ${k.key} = `);
      } else {
        expect(v, `${k.section}.${k.key}`).toEqual((() => { let d: unknown = DEFAULTS; for (const p of k.field) d = (d as Record<string, unknown>)[p]; return d; })());
      }
    }
  });
  it('documents every key (its doc and its reload class above it) and every section', () => {
    for (const s of SECTIONS) expect(text).toContain(`\n[${s.name}]\n`);
    const lines = text.split('\n');
    for (const k of KEYS) {
      const from = lines.indexOf(`[${k.section}]`);
      const at = lines.findIndex((l, i) => i > from && (l.startsWith(`${k.key} = `) || l.startsWith(`# ${k.key} = `)));
      expect(at, k.key).toBeGreaterThan(from);
      expect(lines[at - 1], k.key).toBe(`# reload: ${k.reload}${k.flag ? `; flag: ${k.flag}` : ''}`);
      const doc: string[] = [];
      for (let i = at - 2; i > from && lines[i]!.startsWith('# ') && !lines[i]!.startsWith('# reload: ') && !/^# \w+ = /.test(lines[i]!); i--) doc.unshift(lines[i]!.slice(2));
      expect(doc.join(' '), k.key).toBe(k.doc);
    }
    expect(text).toContain(`slow_threshold = "${DEFAULT_SLOW_MS}ms"`);
    for (const line of text.split('\n')) expect(line.length, line).toBeLessThanOrEqual(100);
  });
  it('its commented examples are valid when uncommented', () => {
    const all = text.replace(/^# (\w+ = .*)$/gm, '$1').replace(/^# (\[\[alerts\.rule\]\])$/gm, '$1');
    const c = resolveConfig(parseConfigText(all, 'examples.toml'));
    expect(c.capture.interface).toBe('eth0');
    expect(c.capture.user).toBe('slowshake');
    expect(c.journal.directory).toBe('/var/log/journal/remote');
    expect(c.output.records).toBe('/var/lib/slowshake/records.pb');
    expect(new RegExp(c.events.regex!).exec('client=203.0.113.9:4433 x took 512ms')?.groups).toEqual({ remote: '203.0.113.9:4433', elapsed: '512' });
    expect(c.alerts.host).toBe('edge-fra-1');
    expect(c.alerts.rules).toMatchObject([{ name: 'slow_network', kind: 'rate', verdict: 'network', perMinute: 60, windowMs: 300_000, forMs: 600_000, severity: 'critical', labels: { team: 'edge' } }]);
  });
});
