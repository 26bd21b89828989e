/**
 * Alert delivery (issue 12): every Alertmanager URL (v2 API, `POST /api/v2/alerts`, an array of
 * alerts) and every generic webhook (a JSON POST) is a sink with its own bounded queue, so one
 * that is down or slow never holds back another, and nothing here ever blocks capture:
 *
 * - `send(alert)` only queues. A queue holds at most `queue` alerts; a newer notification for an
 *   alert already queued replaces the older one (Alertmanager only needs the latest state), and
 *   beyond the bound the oldest is dropped (counted).
 * - One request in flight per sink, with a timeout; a batch carries every queued alert (up to
 *   BATCH). A failure (connection refused, timeout, 5xx, 429) keeps the batch queued and retries
 *   with exponential backoff and full jitter (RETRY_MIN_MS … RETRY_MAX_MS); a notification older
 *   than `retryForMs` is dropped (counted). A 4xx other than 429 will not succeed on retry: the
 *   batch is dropped, counted and logged.
 * - Counters per sink: sent (alerts delivered), failed (attempts that failed), retried (alerts put
 *   back for another attempt), dropped. One log line when a sink starts failing, one when it is
 *   reachable again.
 */
import type { Logger } from 'pino';

export interface AmAlert {
  labels: Record<string, string>;
  annotations: Record<string, string>;
  startsAt: string;
  endsAt: string;
  generatorURL?: string;
}

export interface SinkCounters { sent: number; failed: number; retried: number; dropped: number }

export interface SinkStats extends SinkCounters {
  name: string;
  kind: 'alertmanager' | 'webhook';
  queued: number;
  /** The last failure (null once an attempt succeeded). */
  lastError: string | null;
}

export interface DeliveryOptions {
  alertmanagers: readonly string[];
  webhooks: readonly string[];
  queue: number;
  timeoutMs: number;
  retryForMs: number;
  /** Labels of the webhook payload's envelope. */
  host: string;
  log?: Pick<Logger, 'warn' | 'info' | 'error'>;
  /** Tests: the backoff bounds (ms). */
  retryMinMs?: number;
  retryMaxMs?: number;
}

const BATCH = 256;
const RETRY_MIN_MS = 500;
const RETRY_MAX_MS = 60_000;

interface Queued { alert: AmAlert; key: string; queuedAt: number; version: number }

/** A stable key of an alert's labels (its identity in Alertmanager). */
export function fingerprint(labels: Record<string, string>): string {
  return Object.keys(labels).sort().map((k) => `${k}=${labels[k]}`).join('\u0000');
}

/** "http://user:pw@am:9093/x" → "am:9093/x": the metric label and log name, never credentials. */
function sinkName(url: string): string {
  const u = new URL(url);
  return `${u.host}${u.pathname.replace(/\/$/, '')}`;
}

class Sink {
  readonly queue = new Map<string, Queued>();
  readonly counters: SinkCounters = { sent: 0, failed: 0, retried: 0, dropped: 0 };
  readonly name: string;
  readonly target: string;
  inFlight: Promise<void> | null = null;
  nextAttemptMs = 0;
  failures = 0;
  lastError: string | null = null;
  #version = 0;

  constructor(readonly kind: 'alertmanager' | 'webhook', url: string, readonly o: DeliveryOptions) {
    this.name = `${kind === 'webhook' ? 'webhook ' : ''}${sinkName(url)}`;
    // A base URL gets the v2 path; one that already names it is used as given.
    this.target = kind === 'alertmanager' && !/\/api\/v2\/alerts\/?$/.test(new URL(url).pathname) ? `${url.replace(/\/+$/, '')}/api/v2/alerts` : url;
  }

  put(alert: AmAlert, nowMs: number): void {
    const key = fingerprint(alert.labels);
    const had = this.queue.get(key);
    // Replaced in place keeps its age: an alert that never gets through is still dropped in time.
    if (had !== undefined) this.queue.delete(key);
    else if (this.queue.size >= this.o.queue) {
      const oldest = this.queue.keys().next().value as string;
      this.queue.delete(oldest);
      this.counters.dropped++;
    }
    this.queue.set(key, { alert, key, queuedAt: had?.queuedAt ?? nowMs, version: ++this.#version });
  }

  body(batch: Queued[]): string {
    if (this.kind === 'alertmanager') return JSON.stringify(batch.map((q) => q.alert));
    const now = new Date().toISOString();
    const alerts = batch.map((q) => ({ status: q.alert.endsAt <= now ? 'resolved' : 'firing', ...q.alert }));
    return JSON.stringify({
      version: '1', sender: 'slowshake', host: this.o.host,
      status: alerts.some((a) => a.status === 'firing') ? 'firing' : 'resolved', alerts,
    });
  }
}

export class Delivery {
  readonly #sinks: Sink[];
  readonly #o: DeliveryOptions;
  #closed = false;

  constructor(o: DeliveryOptions) {
    this.#o = o;
    this.#sinks = [...o.alertmanagers.map((u) => new Sink('alertmanager', u, o)), ...o.webhooks.map((u) => new Sink('webhook', u, o))];
  }

  get empty(): boolean { return this.#sinks.length === 0; }

  /** Queues an alert's notification for every sink (never blocks). */
  send(alert: AmAlert, nowMs = Date.now()): void {
    for (const s of this.#sinks) s.put(alert, nowMs);
    this.pump(nowMs);
  }

  /** Starts what is due: called after send() and on the daemon's timer. */
  pump(nowMs = Date.now()): void {
    if (this.#closed) return;
    for (const s of this.#sinks) {
      if (s.inFlight !== null || s.queue.size === 0 || nowMs < s.nextAttemptMs) continue;
      this.#expire(s, nowMs);
      if (s.queue.size === 0) continue;
      s.inFlight = this.#attempt(s);
    }
  }

  #expire(s: Sink, nowMs: number): void {
    for (const [k, q] of s.queue) {
      if (nowMs - q.queuedAt <= this.#o.retryForMs) continue;
      s.queue.delete(k);
      s.counters.dropped++;
    }
  }

  async #attempt(s: Sink): Promise<void> {
    const batch = [...s.queue.values()].slice(0, BATCH);
    let error: string | null = null, permanent = false;
    try {
      const r = await fetch(s.target, {
        method: 'POST', headers: { 'content-type': 'application/json' }, body: s.body(batch),
        signal: AbortSignal.timeout(this.#o.timeoutMs),
      });
      // The body is read (and discarded) so the connection can be reused.
      const text = await r.text().catch(() => '');
      if (!r.ok) {
        error = `HTTP ${r.status}${text ? `: ${text.trim().split('\n')[0]!.slice(0, 200)}` : ''}`;
        permanent = r.status >= 400 && r.status < 500 && r.status !== 429 && r.status !== 408;
      }
    } catch (err) {
      const e = err as Error & { cause?: { code?: string; message?: string } };
      error = e.name === 'TimeoutError' ? `no answer within ${this.#o.timeoutMs} ms` : (e.cause?.code ?? e.cause?.message ?? e.message);
    }
    const now = Date.now();
    if (error === null) {
      for (const q of batch) if (s.queue.get(q.key)?.version === q.version) s.queue.delete(q.key); // a newer version stays queued
      s.counters.sent += batch.length;
      if (s.failures > 0) this.#o.log?.info({ sink: s.name, delivered: batch.length }, `Alert delivery to ${s.name} works again after ${s.failures} failed attempts.`);
      s.failures = 0;
      s.lastError = null;
      s.nextAttemptMs = 0;
    } else {
      s.counters.failed++;
      s.lastError = error;
      if (permanent) {
        for (const q of batch) if (s.queue.get(q.key)?.version === q.version) { s.queue.delete(q.key); s.counters.dropped++; }
        this.#o.log?.error({ sink: s.name, error }, `Alert delivery to ${s.name} was refused (${error}): ${batch.length} alerts dropped.`);
      } else {
        s.counters.retried += batch.length;
        if (s.failures === 0) this.#o.log?.warn({ sink: s.name, error, queued: s.queue.size }, `Alert delivery to ${s.name} failed (${error}); retrying with backoff, ${s.queue.size} alerts queued (at most ${this.#o.queue}).`);
        s.failures++;
        const cap = Math.min(this.#o.retryMaxMs ?? RETRY_MAX_MS, (this.#o.retryMinMs ?? RETRY_MIN_MS) * 2 ** Math.min(16, s.failures - 1));
        s.nextAttemptMs = now + cap / 2 + Math.random() * cap / 2; // jitter: the sinks of a fleet do not retry in step
      }
    }
    s.inFlight = null; // before pump(): what was queued meanwhile goes out now
    this.pump(now);
  }

  stats(): SinkStats[] {
    return this.#sinks.map((s) => ({ name: s.name, kind: s.kind, queued: s.queue.size, lastError: s.lastError, ...s.counters }));
  }

  /** Waits (until `deadlineMs` at most) for what is queued to go out once; then stops. */
  async flush(deadlineMs: number): Promise<void> {
    for (const s of this.#sinks) s.nextAttemptMs = 0;
    this.pump();
    const inflight = (): Promise<void>[] => this.#sinks.map((s) => s.inFlight).filter((p): p is Promise<void> => p !== null);
    while (Date.now() < deadlineMs && inflight().length > 0) {
      let t: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(inflight()), new Promise((r) => { t = setTimeout(r, Math.max(0, deadlineMs - Date.now())); })]);
      clearTimeout(t);
    }
    this.#closed = true;
  }
}
