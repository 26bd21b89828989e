import { describe, expect, it } from 'vitest';
import { parseCaptureOptions } from '../../../src/cli/capture.js';
import { parseJournalEntry } from '../../../src/correlate/journal-event.js';

const parse = (args: string[]) => parseCaptureOptions(['-i', 'lo', ...args], {})!;

describe('capture options: spot-check settings', () => {
  it('defaults', () => {
    const o = parse([]);
    expect(o.journal).toMatchObject({ enabled: true, units: [], identifiers: [], directory: null });
    expect(o.holdMs).toBe(2000);
    expect(o.marginMs).toBe(1000);
    expect(o.format).toBe('table');
    expect(o.pcapFormat).toBe('pcapng');
    expect(o.events.messagePattern?.test('slow TLS Handshake')).toBe(true);
  });
  it('matches, holds, formats, limits', () => {
    const o = parse(['--unit', 'fly-proxy', '--unit', 'edge', '--identifier', 'px', '--journal-dir', '/j', '--hold', '500ms',
      '--margin', '3s', '--format', 'ndjson', '--pcap-format', 'pcap', '--max-writes-per-sec', '7', '--event-queue', '99', '--no-journal']);
    expect(o.journal).toMatchObject({ enabled: false, units: ['fly-proxy', 'edge'], identifiers: ['px'], directory: '/j' });
    expect([o.holdMs, o.marginMs, o.format, o.pcapFormat, o.maxWritesPerSec, o.eventQueue]).toEqual([500, 3000, 'ndjson', 'pcap', 7, 99]);
  });
  it('event fields and regex configure the parser', () => {
    const o = parse(['--event-field', 'remote=CLIENT', '--event-field', 'elapsed=HS_TIME']);
    const r = parseJournalEntry({ __REALTIME_TIMESTAMP: '1700000000000000', MESSAGE: 'TLS handshake took long', CLIENT: '198.51.100.7:4242', HS_TIME: '1.5s' }, 1, o.events);
    expect('event' in r && [r.event.client, r.event.elapsedMs]).toEqual(['198.51.100.7:4242', 1500]);
    const g = parse(['--event-regex', 'from (?<remote>\\S+) to (?<local>\\S+) in (?<elapsed>\\S+)']);
    const r2 = parseJournalEntry({ __REALTIME_TIMESTAMP: '1700000000000000', MESSAGE: 'slow from [2001:db8::9]:5000 to 203.0.113.1:443 in 812ms' }, 1, g.events);
    expect('event' in r2 && [r2.event.client, r2.event.serverPort, r2.event.elapsedMs]).toEqual(['[2001:db8::9]:5000', 443, 812]);
    expect('skip' in parseJournalEntry({ __REALTIME_TIMESTAMP: '1', MESSAGE: 'unrelated' }, 1, g.events)).toBe(true);
  });
  it('bad values name the option', () => {
    expect(() => parse(['--event-field', 'client=X'])).toThrow(/--event-field: expected KEY=NAME/);
    expect(() => parse(['--event-regex', '(?<remote>'])).toThrow(/--event-regex: not a valid regular expression/);
    expect(() => parse(['--event-regex', '(?<client>\\S+)'])).toThrow(/needs a named group \(\?<remote>/);
    expect(() => parse(['--hold', 'soon'])).toThrow(/--hold: expected a duration/);
    expect(() => parse(['--format', 'xml'])).toThrow(/--format: expected table or ndjson/);
    expect(() => parse(['--pcap-format', 'erf'])).toThrow(/--pcap-format: expected pcapng or pcap/);
    expect(() => parse(['--max-writes-per-sec', '0'])).toThrow(/--max-writes-per-sec: expected a positive whole number/);
  });
});
