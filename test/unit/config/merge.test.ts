/**
 * Precedence (flags over the file over the defaults) and the reload split (which changed keys a
 * SIGHUP applies live, which need a restart).
 */
import { describe, expect, it } from 'vitest';
import { applyReload, mergeConfig, reloadable, resolveConfig } from '../../../src/config/merge.js';
import { parseConfigText } from '../../../src/config/load.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { KEYS } from '../../../src/config/schema.js';

const file = parseConfigText(`
[capture]
interface = "eth1"
ring_size = "512MiB"
[handshake]
slow_threshold = "300ms"
hold = "5s"
[journal]
units = ["fly-proxy.service"]
[events.fields]
sni = ["TLS_SNI"]
`, 'edge.toml');

describe('mergeConfig: flags win over the file, the file over the defaults', () => {
  it('each key comes from the highest layer that sets it', () => {
    const c = mergeConfig({ file, flags: { capture: { interface: 'eth0' }, handshake: { holdMs: 1500 }, journal: { units: ['edge.service'] } } });
    expect(c.capture.interface).toBe('eth0'); // flag over file
    expect(c.capture.ringSize).toBe(512 * 2 ** 20); // file over default
    expect(c.capture.bufferSize).toBe(DEFAULTS.capture.bufferSize); // default
    expect(c.handshake).toEqual({ ...DEFAULTS.handshake, slowMs: 300, holdMs: 1500 });
    expect(c.journal.units).toEqual(['edge.service']); // a list is replaced, not appended
    expect(c.events.fields).toEqual({ ...DEFAULTS.events.fields, sni: ['TLS_SNI'] }); // nested tables merge per key
  });
  it('no file: flags over the defaults; nothing: the defaults', () => {
    expect(mergeConfig({ flags: { capture: { interface: 'eth0' } } })).toEqual({ ...DEFAULTS, capture: { ...DEFAULTS.capture, interface: 'eth0' } });
    expect(mergeConfig({})).toEqual(DEFAULTS);
  });
  it('is pure: its inputs are unchanged, the result is frozen and shares nothing mutable with them', () => {
    const flags = { journal: { identifiers: ['edge'] } };
    const before = JSON.stringify([file, flags]);
    const c = mergeConfig({ file, flags });
    expect(JSON.stringify([file, flags])).toBe(before);
    expect(Object.isFrozen(c.journal.identifiers)).toBe(true);
    expect(c.journal.identifiers).not.toBe(flags.journal.identifiers);
    expect(Object.isFrozen(flags.journal.identifiers)).toBe(false);
  });
});

describe('reloadable: the SIGHUP split', () => {
  const old = resolveConfig(file);
  it('nothing changed: nothing to do', () => {
    expect(reloadable(old, resolveConfig(file))).toEqual({ live: [], restart: [] });
  });
  it('live keys and restart keys, by their file names', () => {
    const next = resolveConfig(file, {
      handshake: { slowMs: 500, proxyClock: 'syn' }, journal: { identifiers: ['edge'] }, events: { fields: { remote: ['R'] } },
      output: { retentionBytes: 2 ** 30 }, capture: { ringSize: 2 ** 30, filter: 'port 443' }, metrics: { listen: '0.0.0.0:9464' },
    });
    expect(reloadable(old, next)).toEqual({
      live: ['journal.identifiers', 'events.fields.remote', 'handshake.slow_threshold', 'handshake.proxy_clock', 'output.retention_bytes'],
      restart: ['capture.filter', 'capture.ring_size', 'metrics.listen'],
    });
  });
  it('applyReload takes the live keys and keeps the restart keys as they run', () => {
    const next = resolveConfig(file, { handshake: { slowMs: 500 }, capture: { ringSize: 2 ** 30 }, state: { directory: '/srv/state' } });
    const c = applyReload(old, next);
    expect(c.handshake.slowMs).toBe(500);
    expect(c.capture.ringSize).toBe(512 * 2 ** 20);
    expect(c.state.directory).toBe(DEFAULTS.state.directory);
    expect(reloadable(old, c)).toEqual({ live: ['handshake.slow_threshold'], restart: [] });
    expect(Object.isFrozen(c)).toBe(true);
  });
  it('the capture device, the kernel filter and the listeners need a restart; matching and thresholds apply live', () => {
    const cls = Object.fromEntries(KEYS.map((k) => [`${k.section}.${k.key}`, k.reload]));
    for (const key of ['capture.interface', 'capture.ring_size', 'capture.user', 'kernel_filter.mode', 'metrics.listen', 'state.directory', 'journal.directory', 'output.directory']) expect(cls[key], key).toBe('restart');
    for (const key of ['handshake.slow_threshold', 'handshake.hold', 'handshake.margin', 'events.pattern', 'events.regex', 'journal.units', 'output.retention_age']) expect(cls[key], key).toBe('live');
  });
});
