/**
 * A real Alertmanager (Debian's prometheus-alertmanager, its binary put in /usr/local/bin by
 * scripts/install.sh) for the alerting tests: on 127.0.0.1 of the root namespace, or inside a
 * test's network namespace (so a watch running there reaches it on that namespace's loopback).
 * Clustering is off (no gossip port). Its v2 API is read with curl in the same namespace.
 *
 * With `webhook`, Alertmanager's one receiver posts its notifications (firing and resolved) to
 * that URL: how a test sees a resolve arrive through Alertmanager, not only the alert vanish.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Proc, sleep, spawnTracked } from './netns.js';

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  status: { state: string };
  fingerprint: string;
}

export interface Alertmanager {
  /** http://127.0.0.1:PORT (as seen from its namespace). */
  url: string;
  proc: Proc;
  /** GET /api/v2/alerts (active, unresolved alerts). */
  alerts(): Promise<AmAlert[]>;
  /** Polls alerts() until `ok` holds; the last list. Throws with it after `ms`. */
  alertsUntil(ok: (a: AmAlert[]) => boolean, ms: number, what: string): Promise<AmAlert[]>;
  stop(): Promise<void>;
}

const BIN = '/usr/local/bin/alertmanager';

function inNs(netns: string | null, cmd: string, args: string[]): [string, string[]] {
  return netns === null ? [cmd, args] : ['ip', ['netns', 'exec', netns, cmd, ...args]];
}

/**
 * Starts Alertmanager listening on 127.0.0.1:port (inside `netns` when given); resolves once its
 * API answers. `groupWait`/`groupInterval`/`repeatInterval` are Alertmanager's route timings,
 * short by default so notifications reach a webhook within a test.
 */
export async function startAlertmanager(opts: { port: number; netns?: string | null; webhook?: string; groupWait?: string; groupInterval?: string; resolveTimeout?: string }): Promise<Alertmanager> {
  const netns = opts.netns ?? null;
  const dir = mkdtempSync(join(tmpdir(), 'slowshake-am-'));
  const cfg = [
    'global:',
    `  resolve_timeout: ${opts.resolveTimeout ?? '5m'}`,
    'route:',
    '  receiver: test',
    '  group_by: [alertname, network, verdict]',
    `  group_wait: ${opts.groupWait ?? '1s'}`,
    `  group_interval: ${opts.groupInterval ?? '1s'}`,
    '  repeat_interval: 1h',
    'receivers:',
    '  - name: test',
    ...(opts.webhook ? ['    webhook_configs:', `      - url: ${JSON.stringify(opts.webhook)}`, '        send_resolved: true'] : []),
    '',
  ].join('\n');
  writeFileSync(join(dir, 'alertmanager.yml'), cfg);
  const url = `http://127.0.0.1:${opts.port}`;
  const [cmd, args] = inNs(netns, BIN, [
    `--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${opts.port}`, '--cluster.listen-address=', '--log.level=warn',
  ]);
  const proc = spawnTracked(`alertmanager :${opts.port}`, cmd, args);
  const get = (path: string): { status: number | null; body: string } => {
    const [c, a] = inNs(netns, 'curl', ['-sS', '--fail', '--max-time', '5', `${url}${path}`]);
    const r = spawnSync(c, a, { encoding: 'utf8' });
    return { status: r.status, body: r.stdout ?? '' };
  };
  const end = Date.now() + 15_000;
  while (get('/api/v2/status').status !== 0) {
    if (proc.exit) throw new Error(`alertmanager exited ${JSON.stringify(proc.exit)}: ${proc.stderr.slice(-800)} (installed by bash scripts/install.sh)`);
    if (Date.now() > end) { await proc.stop('SIGKILL'); throw new Error(`alertmanager on ${url}: API not up after 15 s: ${proc.stderr.slice(-800)}`); }
    await sleep(100);
  }
  const alerts = async (): Promise<AmAlert[]> => {
    const r = get('/api/v2/alerts');
    if (r.status !== 0) throw new Error(`GET ${url}/api/v2/alerts failed (curl ${r.status})`);
    return JSON.parse(r.body) as AmAlert[];
  };
  return {
    url, proc, alerts,
    alertsUntil: async (ok, ms, what) => {
      const stop = Date.now() + ms;
      for (;;) {
        const a = await alerts();
        if (ok(a)) return a;
        if (Date.now() > stop) throw new Error(`alertmanager: ${what} not reached within ${ms} ms; alerts now: ${JSON.stringify(a.map((x) => x.labels))}`);
        await sleep(250);
      }
    },
    stop: async () => {
      await proc.stop('SIGTERM', 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
