/**
 * One place for every default (issue 9 §2): the commands and the library take theirs from
 * config/defaults.ts, so changing a default there changes it everywhere (the slow threshold used
 * to be written in four places: capture, analyze, records and the library).
 */
import { describe, expect, it } from 'vitest';
import { DEFAULTS, DEFAULT_SLOW_MS } from '../../../src/config/defaults.js';
import { parseCaptureOptions } from '../../../src/cli/capture.js';
import { parseOptions as parseAnalyzeOptions } from '../../../src/cli/analyze.js';
import { proxyClock } from '../../../src/cli/options.js';
import { CAPTURE_DEFAULTS } from '../../../src/sources/live-capture.js';
import { JOURNAL_DEFAULTS } from '../../../src/sources/journald.js';
import { DEFAULT_EVENT_FIELDS } from '../../../src/correlate/journal-event.js';
import { analyzeCaptures } from '../../../src/index.js';
import { runCli, CAPTURES } from '../../helpers/cli.js';
import { join } from 'node:path';

describe('every command takes its defaults from config/defaults.ts', () => {
  it('the slow threshold is 200 ms, once', () => {
    expect(DEFAULT_SLOW_MS).toBe(200);
    expect(DEFAULTS.handshake.slowMs).toBe(DEFAULT_SLOW_MS);
  });
  it('capture: with no options, every default is the config default', () => {
    const o = parseCaptureOptions(['-i', 'lo'], {})!;
    expect(o.slowMs).toBe(DEFAULTS.handshake.slowMs);
    expect(o.holdMs).toBe(DEFAULTS.handshake.holdMs);
    expect(o.marginMs).toBe(DEFAULTS.handshake.marginMs);
    expect(o.proxyClock).toBe(DEFAULTS.handshake.proxyClock);
    expect(o.maxWritesPerSec).toBe(DEFAULTS.output.maxWritesPerSec);
    expect(o.eventQueue).toBe(DEFAULTS.events.queue);
    expect(o.out).toBe(DEFAULTS.output.directory);
    expect(o.pcapFormat).toBe(DEFAULTS.output.pcapFormat);
    expect(o.journal.journalctl).toBe(DEFAULTS.journal.journalctl);
    expect(o.events.messagePattern).toEqual(new RegExp(DEFAULTS.events.pattern, 'i'));
    expect(o.events.fields).toEqual(DEFAULTS.events.fields);
    const { interface: _i, user: _u, ...capture } = DEFAULTS.capture;
    expect(o.capture).toEqual({ ...capture, device: 'lo', timeoutMs: CAPTURE_DEFAULTS.timeoutMs });
  });
  it('the shared default objects are the config defaults themselves, not copies', () => {
    expect(DEFAULT_EVENT_FIELDS).toBe(DEFAULTS.events.fields);
    expect(JOURNAL_DEFAULTS.units).toBe(DEFAULTS.journal.units);
    expect(CAPTURE_DEFAULTS.ringSize).toBe(DEFAULTS.capture.ringSize);
    expect(Object.isFrozen(DEFAULTS) && Object.isFrozen(DEFAULTS.events.fields.remote)).toBe(true);
  });
  it('analyze, the library and --proxy-clock', async () => {
    expect(parseAnalyzeOptions(['x.pcap'], {})!.slowMs).toBe(DEFAULT_SLOW_MS);
    expect(proxyClock(undefined)).toBe(DEFAULTS.handshake.proxyClock);
    const { analyzer } = await analyzeCaptures([join(CAPTURES, 'fast-tls13.pcap')]);
    expect(analyzer.opts.slowMs).toBe(DEFAULT_SLOW_MS);
  });
  it('the help texts print the config defaults', () => {
    const capture = runCli(['capture', '--help']).stdout;
    expect(capture).toContain(`--slow MS                slow threshold for records (default ${DEFAULT_SLOW_MS})`);
    expect(capture).toContain('--ring-size SIZE         packet ring in memory (default 256MiB;');
    expect(capture).toContain('--hold TIME              keep collecting a flow after its event (default 2s)');
    expect(runCli(['analyze', '--help']).stdout).toContain(`(default ${DEFAULT_SLOW_MS})`);
    expect(runCli(['records', '--help']).stdout).toContain(`assumes the default ${DEFAULT_SLOW_MS})`);
  });
});
