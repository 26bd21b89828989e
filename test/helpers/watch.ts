/**
 * `slowshake watch` on an EdgeLab's server-side veth (root only), and the probes its tests use:
 * the Prometheus endpoint scraped over real HTTP with curl inside the server namespace (the
 * metrics listen on that namespace's loopback, so the scrape is never on the captured veth), the
 * pino lines on stdout, and the journalctl child's readiness.
 */
import { metric } from './prom.js';
import { spawnSync } from 'node:child_process';
import { CLI } from './cli.js';
import { EdgeLab, fdTargets, journalctlChild, ndjson } from './edge.js';
import { sleep, type Proc } from './netns.js';

/** `watch -i <server veth> …args`; resolves once it printed its start line and (unless `journal` is false) its journalctl has the journal open. */
export async function startWatch(lab: EdgeLab, args: string[], opts: { journal?: boolean; env?: Record<string, string>; name?: string } = {}): Promise<Proc> {
  const env = Object.entries(opts.env ?? {}).map(([k, v]) => `${k}=${v}`);
  const p = env.length > 0
    ? lab.spawn(opts.name ?? 'watch', 'server', 'env', [...env, process.execPath, CLI, 'watch', '-i', lab.devServer, ...args])
    : lab.spawn(opts.name ?? 'watch', 'server', process.execPath, [CLI, 'watch', '-i', lab.devServer, ...args]);
  await p.waitFor(/^Watching /m, 15_000, 'stderr');
  if (opts.journal === false) return p;
  const end = Date.now() + 5000;
  for (;;) {
    const j = journalctlChild(p.pid);
    if (j !== null && fdTargets(j).some((f) => f.endsWith('.journal'))) break;
    if (p.exit) throw new Error(`watch exited early: ${p.stderr}`);
    if (Date.now() > end) throw new Error(`watch (pid ${p.pid}): no journalctl child with the journal open after 5 s`);
    await sleep(20);
  }
  await sleep(200);
  return p;
}

/** GET http://127.0.0.1:port/metrics from inside the server namespace (curl); the body. */
export async function scrape(lab: EdgeLab, port: number): Promise<string> {
  const c = lab.spawn(`scrape ${port}`, 'server', 'curl', ['-sS', '--fail', '--max-time', '5', `http://127.0.0.1:${port}/metrics`]);
  const e = await c.wait(10_000);
  if (e.code !== 0) throw new Error(`scrape of 127.0.0.1:${port} failed (${e.code}): ${c.stderr}`);
  return c.stdout;
}

export { metric };

/** Scrapes until `ok(text)` holds; the last scrape. Throws with the last values after `ms`. */
export async function scrapeUntil(lab: EdgeLab, port: number, ok: (text: string) => boolean, ms = 15_000, what = 'metrics'): Promise<string> {
  const end = Date.now() + ms;
  for (;;) {
    const t = await scrape(lab, port);
    if (ok(t)) return t;
    if (Date.now() > end) throw new Error(`${what}: not reached within ${ms} ms; last scrape:\n${t.split('\n').filter((l) => /^slowshake_(handshakes_total|evidence|slow_)/.test(l)).join('\n')}`);
    await sleep(250);
  }
}

/** `promtool check metrics` on a scrape: its output (empty when clean) and status. */
export function promtool(text: string): { status: number | null; out: string } {
  const r = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
  if (r.error) throw new Error(`promtool (Debian package prometheus) must be installed: bash scripts/install.sh (${r.error.message})`);
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
}

/** The pino lines watch printed on stdout so far. */
export function pinoLines<T = Record<string, unknown>>(p: Proc): T[] {
  return ndjson<T>(p.stdout);
}

/** Waits until watch printed at least `n` pino lines that pass `f`. */
export async function waitLines<T = Record<string, unknown>>(p: Proc, n: number, ms: number, f: (x: T) => boolean = () => true): Promise<T[]> {
  const end = Date.now() + ms;
  for (;;) {
    const l = pinoLines<T>(p).filter(f);
    if (l.length >= n) return l;
    if (p.exit) throw new Error(`watch exited with ${l.length}/${n} lines: ${p.stderr.slice(-800)}`);
    if (Date.now() > end) throw new Error(`watch printed ${l.length}/${n} lines in ${ms} ms; stderr: ${p.stderr.slice(-800)}`);
    await sleep(50);
  }
}
