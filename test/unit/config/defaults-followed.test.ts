/**
 * The commands follow config/defaults.ts: with other values in that module (vi.mock replaces
 * only the constants, every command's own code is real), capture, analyze, the library and the
 * shared option helpers change with it. Before the defaults moved there, each command had its
 * own literal (200 ms in four places) and this failed.
 */
import { describe, expect, it, vi } from 'vitest';
import { join } from 'node:path';

vi.mock('../../../src/config/defaults.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../../src/config/defaults.js')>();
  const d = structuredClone(real.DEFAULTS);
  d.handshake = { slowMs: 321, holdMs: 4321, marginMs: 1234, proxyClock: 'syn' };
  d.capture = { ...d.capture, ringSize: 32 * 2 ** 20, bufferSize: 8 * 2 ** 20, snaplen: 4096 };
  d.output = { ...d.output, directory: 'elsewhere-out', pcapFormat: 'pcap', maxWritesPerSec: 7 };
  d.events = { ...d.events, pattern: 'tls', queue: 77, fields: { ...d.events.fields, remote: ['PEER'] } };
  d.journal = { ...d.journal, journalctl: '/opt/bin/journalctl' };
  return { ...real, DEFAULT_SLOW_MS: 321, DEFAULTS: real.freezeDeep(d) };
});

const { parseCaptureOptions } = await import('../../../src/cli/capture.js');
const { parseOptions: parseAnalyzeOptions } = await import('../../../src/cli/analyze.js');
const { proxyClock } = await import('../../../src/cli/options.js');
const { CAPTURE_DEFAULTS } = await import('../../../src/sources/live-capture.js');
const { JOURNAL_DEFAULTS } = await import('../../../src/sources/journald.js');
const { DEFAULT_EVENT_FIELDS } = await import('../../../src/correlate/journal-event.js');
const { analyzeCaptures } = await import('../../../src/index.js');
const { CAPTURES } = await import('../../helpers/cli.js');

describe('defaults changed in config/defaults.ts change every command', () => {
  it('capture', () => {
    const o = parseCaptureOptions(['-i', 'lo'], {})!;
    expect([o.slowMs, o.holdMs, o.marginMs, o.proxyClock]).toEqual([321, 4321, 1234, 'syn']);
    expect([o.out, o.pcapFormat, o.maxWritesPerSec, o.eventQueue]).toEqual(['elsewhere-out', 'pcap', 7, 77]);
    expect(o.events.messagePattern).toEqual(/tls/i);
    expect(o.events.fields.remote).toEqual(['PEER']);
    expect(o.journal.journalctl).toBe('/opt/bin/journalctl');
    expect([o.capture.ringSize, o.capture.bufferSize, o.capture.snaplen]).toEqual([32 * 2 ** 20, 8 * 2 ** 20, 4096]);
  });
  it('analyze, --proxy-clock, the library, the sources\' and correlator\'s defaults', async () => {
    expect(parseAnalyzeOptions(['x.pcap'], {})!.slowMs).toBe(321);
    expect(proxyClock(undefined)).toBe('syn');
    expect(CAPTURE_DEFAULTS.ringSize).toBe(32 * 2 ** 20);
    expect(JOURNAL_DEFAULTS.journalctl).toBe('/opt/bin/journalctl');
    expect(DEFAULT_EVENT_FIELDS.remote).toEqual(['PEER']);
    const { analyzer } = await analyzeCaptures([join(CAPTURES, 'fast-tls13.pcap')]);
    expect(analyzer.opts.slowMs).toBe(321);
  });
});
