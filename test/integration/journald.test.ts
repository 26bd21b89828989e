import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { join } from 'node:path';
import { buildJournalctlArgs, JournalFollower, JOURNAL_DEFAULTS } from '../../src/sources/journald.js';
import { parseJournalEntry } from '../../src/correlate/journal-event.js';
import { ensureJournald, journalSend, waitJournalEntry, type JournaldHandle } from '../helpers/journald.js';
import { ROOT } from '../helpers/cli.js';

const root = process.getuid?.() === 0;
const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('buildJournalctlArgs', () => {
  it('starts at now, or after a cursor; matches units and identifiers; follows a directory', () => {
    expect(buildJournalctlArgs(JOURNAL_DEFAULTS, null)).toEqual(['--follow', '--output=json', '--no-pager', '--all', '--lines=0']);
    // matches are applied in-process (see buildJournalctlArgs), never passed to journalctl
    expect(buildJournalctlArgs({ ...JOURNAL_DEFAULTS, units: ['fly-proxy'], identifiers: ['edge'], directory: '/j' }, 's=1;i=2'))
      .toEqual(['--follow', '--output=json', '--no-pager', '--all', '--directory=/j', '--after-cursor=s=1;i=2', '--lines=all']);
  });
});

describe('JournalFollower with a fake journalctl', () => {
  it('counts malformed lines, decodes byte-array fields, resumes after the cursor on restart', async () => {
    const entries: Record<string, unknown>[] = [];
    const warnings: string[] = [];
    const f = new JournalFollower({ ...JOURNAL_DEFAULTS, journalctl: join(ROOT, 'test/fixtures/journalctl') }, {
      onEntry: (e) => entries.push(e), onWarning: (w) => warnings.push(w), backoffMs: 20,
    });
    await f.start();
    try {
      await until(() => entries.length === 3);
      expect(f.stats.malformedLines).toBe(2);
      expect(f.cursor).toBe('c3');
      const ev = entries.map((e, i) => parseJournalEntry(e, i + 1));
      expect(ev.map((x) => ('event' in x ? x.event.client : x.skip))).toEqual(['198.51.100.2:40001', '198.51.100.2:40002', '[2001:db8::2]:40003']);
      // kill the child: the restart resumes after c3, so nothing is repeated
      process.kill(f.pid!, 'SIGKILL');
      await until(() => f.stats.restarts === 1 && f.pid !== undefined);
      await new Promise((r) => setTimeout(r, 200));
      expect(entries).toHaveLength(3);
      expect(warnings.some((w) => /journalctl exited .*restarting/.test(w))).toBe(true);
      expect(warnings.some((w) => /--after-cursor=c3/.test(w))).toBe(true); // the fixture echoes its arguments on stderr
    } finally {
      await f.stop();
    }
  });
});

describe.skipIf(!root)('JournalFollower on a real journal (root)', () => {
  let jd: JournaldHandle;
  beforeAll(async () => { jd = await ensureJournald(); });
  afterAll(async () => { await jd?.stop(); });

  it('follows from now, survives journalctl being killed, loses and repeats nothing', async () => {
    const tag = `ss-test-${process.pid}`;
    journalSend({ MESSAGE: 'before the follower started', SYSLOG_IDENTIFIER: tag });
    // journald stores a datagram a moment after logger returns: the follower's tail cursor must
    // already be past this entry, or it is (rightly) delivered and the list below has 11.
    await waitJournalEntry(tag, 'before the follower started', 10_000);
    const got: string[] = [];
    const f = new JournalFollower({ ...JOURNAL_DEFAULTS, identifiers: [tag] }, {
      onEntry: (e) => got.push(String(e.MESSAGE)), backoffMs: 100,
    });
    await f.start();
    try {
      for (let i = 0; i < 5; i++) journalSend({ MESSAGE: `slow TLS handshake n=${i} remote_addr=198.51.100.2:${41000 + i} elapsed_ms=250`, SYSLOG_IDENTIFIER: tag });
      await until(() => got.length === 5);
      process.kill(f.pid!, 'SIGKILL');
      for (let i = 5; i < 10; i++) journalSend({ MESSAGE: `slow TLS handshake n=${i} remote_addr=198.51.100.2:${41000 + i} elapsed_ms=250`, SYSLOG_IDENTIFIER: tag });
      await until(() => got.length >= 10);
      await new Promise((r) => setTimeout(r, 300));
      expect(got).toEqual(Array.from({ length: 10 }, (_, i) => `slow TLS handshake n=${i} remote_addr=198.51.100.2:${41000 + i} elapsed_ms=250`));
      expect(f.stats.restarts).toBe(1);
      expect(f.stats.malformedLines).toBe(0);
    } finally {
      await f.stop();
    }
    expect(f.pid).toBeUndefined();
  });
});
