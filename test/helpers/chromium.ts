/**
 * A real headless Chromium (Debian's `chromium`, scripts/install.sh) driven over the DevTools
 * protocol on `--remote-debugging-pipe`: JSON messages separated by NUL bytes, commands to the
 * browser on fd 3, replies and events from it on fd 4. No WebSocket, no npm package, no port.
 *
 * `open(url)` makes a page, attaches to it (flat session), turns on the Runtime, Log, Network and
 * Page domains and navigates; every console error, uncaught exception, log error and network
 * request of the page is recorded for the test to check. `close()` stops the browser by its PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable, Writable } from 'node:stream';

export const CHROMIUM = process.env.SLOWSHAKE_CHROMIUM ?? '/usr/bin/chromium';

interface Pending { resolve: (v: unknown) => void; reject: (e: Error) => void; method: string }

export interface PageLog {
  /** Console messages of type error/assert, uncaught exceptions, and Log entries of level error. */
  errors: string[];
  /** URLs of every request the page made (the document itself included). */
  requests: string[];
}

export class Chromium {
  #proc: ChildProcess;
  #out: Writable;
  #id = 0;
  #pending = new Map<number, Pending>();
  #buf = '';
  #listeners: ((m: { method: string; params: Record<string, unknown>; sessionId?: string }) => void)[] = [];
  #profile: string;
  stderr = '';

  private constructor(proc: ChildProcess, profile: string) {
    this.#proc = proc;
    this.#profile = profile;
    this.#out = proc.stdio[3] as Writable;
    const input = proc.stdio[4] as Readable;
    input.setEncoding('utf8');
    input.on('data', (chunk: string) => {
      this.#buf += chunk;
      let nul: number;
      while ((nul = this.#buf.indexOf('\0')) >= 0) {
        const msg = JSON.parse(this.#buf.slice(0, nul)) as { id?: number; result?: unknown; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string };
        this.#buf = this.#buf.slice(nul + 1);
        if (msg.id !== undefined) {
          const p = this.#pending.get(msg.id);
          this.#pending.delete(msg.id);
          if (msg.error) p?.reject(new Error(`${p.method}: ${msg.error.message}`));
          else p?.resolve(msg.result);
        } else if (msg.method !== undefined) {
          for (const l of this.#listeners) l({ method: msg.method, params: msg.params ?? {}, sessionId: msg.sessionId });
        }
      }
    });
    proc.stderr!.setEncoding('utf8');
    proc.stderr!.on('data', (d: string) => { if (this.stderr.length < 65536) this.stderr += d; });
    proc.on('exit', () => {
      for (const p of this.#pending.values()) p.reject(new Error(`${p.method}: chromium exited\n${this.stderr}`));
      this.#pending.clear();
    });
  }

  static async launch(): Promise<Chromium> {
    const profile = mkdtempSync(join(tmpdir(), 'ss-chromium-'));
    const proc = spawn(CHROMIUM, [
      '--headless', '--no-sandbox', '--disable-gpu', '--remote-debugging-pipe', `--user-data-dir=${profile}`,
      '--no-first-run', '--no-default-browser-check', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--disable-extensions', '--hide-scrollbars', '--mute-audio', 'about:blank',
    ], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    const c = new Chromium(proc, profile);
    await c.send('Browser.getVersion'); // the pipe answers: the browser is up
    return c;
  }

  get pid(): number | undefined {
    return this.#proc.pid;
  }

  send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = ++this.#id;
    const p = new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, method });
      const t = setTimeout(() => { if (this.#pending.delete(id)) reject(new Error(`${method}: no answer in 30 s\n${this.stderr}`)); }, 30_000);
      t.unref();
    });
    this.#out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    return p;
  }

  /** Resolves with the first event `method` of `sessionId` for which `pred` holds. */
  waitEvent(method: string, sessionId: string, pred: (p: Record<string, unknown>) => boolean = () => true, ms = 30_000): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.#listeners = this.#listeners.filter((x) => x !== l); reject(new Error(`no ${method} in ${ms} ms`)); }, ms);
      const l = (m: { method: string; params: Record<string, unknown>; sessionId?: string }): void => {
        if (m.method !== method || m.sessionId !== sessionId || !pred(m.params)) return;
        clearTimeout(t);
        this.#listeners = this.#listeners.filter((x) => x !== l);
        resolve(m.params);
      };
      this.#listeners.push(l);
    });
  }

  /** Opens `url` in a new page of `width` × `height` CSS pixels; resolves after its load event. */
  async open(url: string, width = 1280, height = 900): Promise<{ session: string; log: PageLog }> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' });
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true });
    const log: PageLog = { errors: [], requests: [] };
    this.#listeners.push((m) => {
      if (m.sessionId !== sessionId) return;
      const p = m.params as Record<string, any>;
      if (m.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert')) {
        log.errors.push(`console.${p.type}: ${(p.args ?? []).map((a: { value?: unknown; description?: string }) => a.value ?? a.description).join(' ')}`);
      } else if (m.method === 'Runtime.exceptionThrown') {
        log.errors.push(`exception: ${p.exceptionDetails?.exception?.description ?? p.exceptionDetails?.text}`);
      } else if (m.method === 'Log.entryAdded' && p.entry?.level === 'error') {
        log.errors.push(`log: ${p.entry.text} ${p.entry.url ?? ''}`);
      } else if (m.method === 'Network.requestWillBeSent') {
        log.requests.push(p.request.url);
      }
    });
    for (const d of ['Runtime.enable', 'Log.enable', 'Network.enable', 'Page.enable']) await this.send(d, {}, sessionId);
    await this.send('Emulation.setDeviceMetricsOverride', { width, height, deviceScaleFactor: 1, mobile: false }, sessionId);
    const loaded = this.waitEvent('Page.loadEventFired', sessionId);
    const nav = await this.send('Page.navigate', { url }, sessionId);
    if (nav.errorText) throw new Error(`Page.navigate ${url}: ${nav.errorText}`);
    await loaded;
    return { session: sessionId, log };
  }

  /** Evaluates `expression` in the page and returns its value (JSON-serialisable); throws on an exception. */
  async evaluate<T>(session: string, expression: string): Promise<T> {
    const r = await this.send('Runtime.evaluate', { expression, returnByValue: true, awaitPromise: true }, session);
    if (r.exceptionDetails) throw new Error(`evaluate: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** A PNG of the page: `height` CSS pixels from `y` (the whole page when omitted). */
  async screenshot(session: string, height?: number, y = 0): Promise<Buffer> {
    const full = await this.evaluate<{ w: number; h: number }>(session, '({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})');
    const clip = { x: 0, y, width: full.w, height: height ?? full.h - y, scale: 1 };
    const { data } = await this.send('Page.captureScreenshot', { format: 'png', clip, captureBeyondViewport: true }, session);
    return Buffer.from(data as string, 'base64');
  }

  /** Stops the browser (SIGTERM, then SIGKILL after 5 s) and removes its profile. */
  async close(): Promise<void> {
    const p = this.#proc;
    if (p.exitCode === null && p.signalCode === null) {
      const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
      p.kill('SIGTERM');
      const t = setTimeout(() => p.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
    rmSync(this.#profile, { recursive: true, force: true });
  }
}
