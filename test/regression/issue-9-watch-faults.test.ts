/**
 * Issue 9 §5–6: `slowshake watch` under faults, on real parts (an EdgeLab: the demo's TLS edge in
 * a namespace, real clients, the real journal; test/helpers/watch.ts).
 *
 * 1. ENOSPC: --out on a 64 KiB tmpfs the test mounts and fills. Writes fail, the records still
 *    come out saying why, slowshake_evidence_disk_full is 1, one log line says so (not one per
 *    record); once the filler is deleted evidence is written again and the gauge is 0; the
 *    process never crashes.
 * 2. Restart from the saved cursor: events logged while watch is down are processed after the
 *    restart, each once, and none of those it had finished before is repeated.
 * 3. SIGTERM during a burst of writes (a write budget holding most of them back): exit 0 within
 *    5 s, every event written, the cursor saved at the last event, no temp file left.
 * 4. A state directory that fills up: the failed cursor saves are logged once and counted in the
 *    summary (they were silent).
 * 3a. SIGTERM with the event queue full (10000 events, its default bound): exit 0 within 5 s (the
 *    flush took 11 s); what was not written by then is read again after a restart, exactly.
 * 5. Records written without a pcap (events whose flow is not in the ring) are on retention's
 *    books (slowshake_evidence_bytes counts them; they were never counted nor deleted).
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLIENT_IP, EdgeLab } from '../helpers/edge.js';
import { ensureJournald, journalSend, stockJournalPermissions, waitJournalEntry, type JournaldHandle } from '../helpers/journald.js';
import { IS_ROOT, NEEDS_ROOT, run, sleep, tsharkWarnings, type Proc } from '../helpers/netns.js';
import { until } from '../helpers/wait.js';
import { metric, pinoLines, promtool, scrapeUntil, startWatch, waitLines } from '../helpers/watch.js';

const QUIET = 8443; // the edge logs nothing: watch finds the slow handshakes itself
const dirs: string[] = [];
const mounts: string[] = [];
const tmp = (p: string): string => { const d = mkdtempSync(join(tmpdir(), p)); dirs.push(d); return d; };
/** A directory the user watch drops to can search (for state directories). */
const open = (p: string): string => { const d = tmp(p); chmodSync(d, 0o755); return d; };

/** A 64 KiB tmpfs (mode 0755) at a new directory; unmounted after the file. */
function smallTmpfs(): string {
  const mnt = tmp('ss-wfull-');
  run('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', mnt]);
  mounts.push(mnt);
  return mnt;
}

/** Fills the file system of `dir` to the last byte with `dir/fill` (delete it to give the space back). */
function fill(dir: string): string {
  const f = join(dir, 'fill');
  spawnSync('sh', ['-c', `head -c 1000000 /dev/zero > ${f}`]); // stops at ENOSPC
  expect(statSync(f).size).toBeGreaterThan(32 * 1024);
  return f;
}

interface Line { msg: string; client: string; slow: boolean; pcap?: string; reason?: string; event?: { message: string; cursor: string } }

/** watch's operational log lines (pino JSON on stderr). */
const logLines = (w: Proc): { level: number; msg: string }[] => w.stderr.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string });

const event = (identifier: string, client: string): void => journalSend({
  SYSLOG_IDENTIFIER: identifier, MESSAGE: `slow TLS handshake remote_addr=${client} local_addr=203.0.113.1:443 sni=app.example elapsed_ms=250`,
});

describe.skipIf(!IS_ROOT)(IS_ROOT ? 'watch under faults' : `watch under faults (skipped: ${NEEDS_ROOT})`, () => {
  let jd: JournaldHandle | undefined;
  let lab: EdgeLab | undefined;
  const ident = `ss-wfault-${process.pid}`;

  beforeAll(async () => {
    jd = await ensureJournald();
    stockJournalPermissions();
    lab = new EdgeLab('f');
    await lab.startEdge(`${ident}-edge`, QUIET, { 'slow-server.example': 300 }, 60_000);
  });

  afterAll(async () => {
    await lab?.destroy();
    await jd?.stop();
    for (const m of mounts) spawnSync('umount', ['-l', m]);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  async function slowCurl(clientPort: number): Promise<void> {
    const c = lab!.curl('slow-server.example', QUIET, clientPort);
    const e = await c.wait(30_000);
    expect(e.code, c.stderr).toBe(0);
  }

  it('ENOSPC: records still come out with the reason, the disk-full gauge is 1 and one line says so; when space returns evidence is written again and the gauge is 0; no crash', async () => {
    const mnt = smallTmpfs();
    const out = join(mnt, 'out');
    const w = await startWatch(lab!, ['--identifier', `${ident}-none`, '--out', out, '--state-dir', join(open('ss-wst-'), 'state'),
      '--metrics-listen', '127.0.0.1:19470', '--hold', '500ms'], { journal: false });
    const filler = fill(mnt);

    await slowCurl(41201);
    await slowCurl(41202);
    const full = await waitLines<Line>(w, 2, 15_000);
    for (const l of full) {
      expect(l.slow).toBe(true);
      expect(l.pcap).toBeUndefined();
      expect(l.reason).toMatch(new RegExp(`^pcap not written: ENOSPC \\(no space left on device\\): ${out}/\\S+\\.pcapng`));
    }
    let t = await scrapeUntil(lab!, 19470, (x) => metric(x, 'slowshake_evidence_disk_full') === 1 && metric(x, 'slowshake_evidence_write_failures_by_cause_total', { cause: 'ENOSPC' }) >= 2);
    expect(promtool(t)).toEqual({ status: 0, out: '' });
    expect(metric(t, 'slowshake_evidence_pcaps_written_total')).toBe(0);
    expect(metric(t, 'slowshake_handshakes_total', { slow: 'true' })).toBe(2);
    expect(logLines(w).filter((l) => /full/i.test(l.msg)).map((l) => [l.level, l.msg]))
      .toEqual([[40, 'Output directory is full: evidence is not written until space returns; records still go out with the reason.']]);

    // Space returns: the next slow handshake has its evidence; the gauge goes back to 0.
    unlinkSync(filler);
    await slowCurl(41203);
    const [ok] = await waitLines<Line>(w, 1, 15_000, (l) => l.client === `${CLIENT_IP}:41203`);
    expect(ok!.reason).toBeUndefined();
    expect(ok!.pcap).toMatch(new RegExp(`^${out}/\\S+\\.pcapng$`));
    const r = spawnSync('tshark', ['-r', ok!.pcap!, '-T', 'fields', '-e', 'tcp.srcport'], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(tsharkWarnings(r.stderr)).toEqual([]);
    expect(r.stdout).toContain('41203');
    expect(existsSync(ok!.pcap!.replace(/\.pcapng$/, '.json'))).toBe(true);
    t = await scrapeUntil(lab!, 19470, (x) => metric(x, 'slowshake_evidence_disk_full') === 0);
    expect(metric(t, 'slowshake_evidence_pcaps_written_total')).toBe(1);
    expect(logLines(w).filter((l) => /full|space/i.test(l.msg)).map((l) => l.msg)).toEqual([
      'Output directory is full: evidence is not written until space returns; records still go out with the reason.',
      'Space returned: evidence is written again.',
    ]);

    expect(w.exit).toBeNull(); // it never crashed
    const e = await w.stop('SIGTERM', 8000);
    expect(e.code, w.stderr).toBe(0);
    expect(w.stderr).not.toMatch(/^\s+at /m);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('ENOSPC with records that have no pcap (events whose flow is not in the ring): the gauge goes back to 0 once their .json is written again (it stayed 1)', async () => {
    const id = `${ident}-e`;
    const mnt = smallTmpfs();
    const out = join(mnt, 'out');
    const w = await startWatch(lab!, ['--identifier', id, '--out', out, '--state-dir', join(open('ss-wst-'), 'state'),
      '--metrics-listen', '127.0.0.1:19475', '--hold', '0s']);
    const filler = fill(mnt);
    event(id, '198.51.100.95:1');
    const [lost] = await waitLines<Line>(w, 1, 15_000);
    expect(lost!.reason).toMatch(new RegExp(`^no such flow in the ring; record file not written: ENOSPC \\(no space left on device\\): ${out}/\\S+\\.json`));
    await scrapeUntil(lab!, 19475, (x) => metric(x, 'slowshake_evidence_disk_full') === 1);
    unlinkSync(filler);
    event(id, '198.51.100.95:2');
    const [ok] = await waitLines<Line>(w, 1, 15_000, (l) => l.client === '198.51.100.95:2');
    expect(ok!.reason).toBe('no such flow in the ring');
    const t = await scrapeUntil(lab!, 19475, (x) => metric(x, 'slowshake_evidence_disk_full') === 0, 5000, 'disk_full back to 0');
    expect(metric(t, 'slowshake_evidence_bytes')).toBe(readdirSync(out).filter((f) => f.endsWith('.json')).reduce((a, f) => a + statSync(join(out, f)).size, 0));
    expect(logLines(w).filter((l) => /full|space/i.test(l.msg)).map((l) => l.msg)).toEqual([
      'Output directory is full: evidence is not written until space returns; records still go out with the reason.',
      'Space returned: evidence is written again.',
    ]);
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);
  });

  it('a restart resumes after the saved cursor: the events logged while it was down come out after it, each once, and none from before', async () => {
    const id = `${ident}-r`;
    const state = join(open('ss-wst-'), 'state');
    const out = join(tmp('ss-wout-'), 'out');
    const args = ['--identifier', id, '--out', out, '--state-dir', state, '--metrics-listen', '127.0.0.1:19471', '--hold', '0s'];
    const w1 = await startWatch(lab!, args, { name: 'watch 1' });
    event(id, '198.51.100.91:1');
    event(id, '198.51.100.91:2');
    await waitLines<Line>(w1, 2, 15_000);
    // Their records (no pcap: the flows are not in the ring) are evidence on retention's books
    // (they were not: never counted, never deleted by age or size).
    const jsons = readdirSync(out).filter((f) => f.endsWith('.json'));
    expect(jsons).toHaveLength(2);
    const bytes = jsons.reduce((a, f) => a + statSync(join(out, f)).size, 0);
    const t = await scrapeUntil(lab!, 19471, (x) => metric(x, 'slowshake_evidence_bytes') > 0, 5000, 'evidence bytes');
    expect(metric(t, 'slowshake_evidence_bytes')).toBe(bytes);
    expect(metric(t, 'slowshake_evidence_pcaps_written_total')).toBe(0); // no pcap: it counted every record written
    expect((await w1.stop('SIGTERM', 8000)).code, w1.stderr).toBe(0);
    expect(pinoLines<Line>(w1).map((l) => l.client)).toEqual(['198.51.100.91:1', '198.51.100.91:2']);
    const saved = JSON.parse(readFileSync(join(state, 'journal-cursor.json'), 'utf8')) as { version: number; cursor: string };
    expect(saved.cursor).toBe(pinoLines<Line>(w1)[1]!.event!.cursor);

    // Down: more than 10 entries of another program, then two events and an entry that is no
    // event (journalctl --follow --after-cursor without --lines shows the first 10 entries after
    // the cursor, the rest only once the journal changes again: see the queue-full test below).
    for (let i = 0; i < 12; i++) journalSend({ SYSLOG_IDENTIFIER: `${id}-other`, MESSAGE: `something else ${i}` });
    event(id, '198.51.100.91:3');
    journalSend({ SYSLOG_IDENTIFIER: id, MESSAGE: 'edge reloaded its certificates' });
    event(id, '198.51.100.91:4');
    await waitJournalEntry(id, 'remote_addr=198.51.100.91:4 ', 5000); // all in the journal before the restart

    const w2 = await startWatch(lab!, args, { name: 'watch 2' });
    await waitLines<Line>(w2, 2, 15_000);
    await sleep(1000); // anything read twice would come out by now
    const lines = pinoLines<Line>(w2);
    expect(lines.map((l) => l.client)).toEqual(['198.51.100.91:3', '198.51.100.91:4']);
    for (const l of lines) expect(l.reason).toBe('no such flow in the ring'); // before this capture started
    expect((await w2.stop('SIGTERM', 8000)).code, w2.stderr).toBe(0);
    expect(w2.stderr).toMatch(/^Journal: 3 entries, 2 events, /m);
  });

  it('SIGTERM during a burst of writes: exit 0 within 5 s, every event written once, the cursor saved at the last one, no temp file left', async () => {
    const id = `${ident}-t`;
    const state = join(open('ss-wst-'), 'state');
    const out = join(tmp('ss-wout-'), 'out');
    const w = await startWatch(lab!, ['--identifier', id, '--out', out, '--state-dir', state, '--metrics-listen', '127.0.0.1:19472',
      '--hold', '0s', '--max-writes-per-sec', '5']);
    const n = 40;
    for (let i = 1; i <= n; i++) event(id, `198.51.100.92:${i}`);
    await slowCurl(41301); // and one slow handshake with a pcap
    // Every event read (the budget holds most of them back), then SIGTERM while they are written.
    await scrapeUntil(lab!, 19472, (x) => metric(x, 'slowshake_journal_events_total') === n, 20_000, 'all events read');
    const before = pinoLines<Line>(w).length;
    expect(before).toBeLessThan(n);
    const t0 = performance.now();
    process.kill(w.pid, 'SIGTERM');
    const e = await w.wait(10_000);
    const ms = performance.now() - t0;
    expect(e.code, w.stderr).toBe(0);
    expect(ms, 'exit after SIGTERM (systemd waits TimeoutStopSec, then SIGKILL)').toBeLessThan(5000);
    const lines = pinoLines<Line>(w);
    const events = lines.filter((l) => l.event !== undefined).map((l) => l.client);
    expect(new Set(events).size).toBe(n);
    expect(events).toHaveLength(n);
    expect(lines.filter((l) => l.client === `${CLIENT_IP}:41301`)).toHaveLength(1);
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith('.tmp') || f.startsWith('.'))).toEqual([]);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(n + 1);
    const last = spawnSync('journalctl', ['-o', 'json', '--no-pager', '-n', '1', `SYSLOG_IDENTIFIER=${id}`], { encoding: 'utf8' });
    const lastCursor = (JSON.parse(last.stdout) as { __CURSOR: string }).__CURSOR;
    expect(JSON.parse(readFileSync(join(state, 'journal-cursor.json'), 'utf8'))).toEqual({ version: 1, cursor: lastCursor });
  });

  it('cursor saves that fail (the state directory\'s file system is full) are logged once and counted in the summary', async () => {
    const id = `${ident}-c`;
    const mnt = smallTmpfs();
    const state = join(mnt, 'state');
    const w = await startWatch(lab!, ['--identifier', id, '--out', join(tmp('ss-wout-'), 'out'), '--state-dir', state, '--metrics-listen', '127.0.0.1:19473', '--hold', '0s']);
    fill(mnt);
    event(id, '198.51.100.93:1');
    await waitLines<Line>(w, 1, 15_000);
    await until(() => logLines(w).some((l) => /cursor could not be saved/.test(l.msg)), 5000);
    event(id, '198.51.100.93:2');
    await waitLines<Line>(w, 2, 15_000);
    await sleep(1200); // another save tried
    expect(logLines(w).filter((l) => /cursor/.test(l.msg)).map((l) => l.msg))
      .toEqual(['The journal cursor could not be saved: a restart would read again what came since the last save; retrying.']);
    expect((await w.stop('SIGTERM', 8000)).code, w.stderr).toBe(0);
    expect(w.stderr).toMatch(/^Journal: .*; cursor saves failed \d+ times \(last: \S+journal-cursor\.json: ENOSPC\)$/m);
  });

  it('SIGTERM with the event queue full (10000 events waiting for the write budget, its default bound): exit 0 within 5 s; what was not written by then is read again after a restart, none lost, none twice', async () => {
    const id = `${ident}-q`;
    const state = join(open('ss-wst-'), 'state');
    const out = join(tmp('ss-wout-'), 'out');
    const args = ['--identifier', id, '--out', out, '--state-dir', state, '--metrics-listen', '127.0.0.1:19474', '--hold', '0s', '--max-writes-per-sec', '1'];
    const w = await startWatch(lab!, args, { name: 'watch q1' });
    const n = 10_000;
    const r = spawnSync('python3', ['-c', JSEND, id, String(n)], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    await scrapeUntil(lab!, 19474, (x) => metric(x, 'slowshake_journal_events_total') === n, 30_000, 'all events read');
    const t0 = performance.now();
    process.kill(w.pid, 'SIGTERM');
    const e = await w.wait(30_000);
    const ms = performance.now() - t0;
    expect(e.code, w.stderr).toBe(0);
    expect(ms, 'exit after SIGTERM (10000 pending events took 11 s to write)').toBeLessThan(5000);
    // What was written is a prefix of the journal's order; the cursor is saved right after it.
    const done = pinoLines<Line>(w);
    const k = done.length;
    expect(k).toBeGreaterThan(0);
    expect(k).toBeLessThan(n);
    expect(done.map((l) => l.client)).toEqual(Array.from({ length: k }, (_, i) => `198.51.100.94:${i + 2}`));
    expect(w.stderr).toContain(`Stop deadline: ${n - k} events not written yet are read again after a restart (the saved cursor is before them)`);
    expect(JSON.parse(readFileSync(join(state, 'journal-cursor.json'), 'utf8')).cursor).toBe(done[k - 1]!.event!.cursor);
    expect(readdirSync(out).filter((f) => f.endsWith('.tmp') || f.startsWith('.'))).toEqual([]);

    // The restart reads exactly the rest: n - k events, the first of them first. (Before
    // --lines=all it read 10 of them, and the rest waited for the next journal entry anyone logged.)
    const w2 = await startWatch(lab!, args, { name: 'watch q2' });
    const t = await scrapeUntil(lab!, 19474, (x) => metric(x, 'slowshake_journal_events_total') >= n - k, 30_000, 'the rest read');
    expect(metric(t, 'slowshake_journal_events_total')).toBe(n - k);
    const [next] = await waitLines<Line>(w2, 1, 10_000);
    expect(next!.client).toBe(`198.51.100.94:${k + 2}`);
    expect((await w2.stop('SIGTERM', 8000)).code, w2.stderr).toBe(0);
    expect(w2.stderr).toMatch(new RegExp(`^Journal: ${n - k} entries, ${n - k} events, `, 'm'));
  });
});

/** Sends argv[2] events of SYSLOG_IDENTIFIER argv[1] straight to journald's socket (one datagram each: fast). */
const JSEND = `
import socket, sys
ident, n = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.connect('/run/systemd/journal/socket')
for i in range(1, n + 1):
    s.send(f"MESSAGE=slow TLS handshake remote_addr=198.51.100.{94 + i // 60000}:{1 + i % 60000} local_addr=203.0.113.1:443 elapsed_ms=250\\nSYSLOG_IDENTIFIER={ident}\\n".encode())
`;
