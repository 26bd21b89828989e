/**
 * systemd service notifications (sd_notify(3)) for `Type=notify` units: READY once the daemon
 * works, WATCHDOG pings from the loop that does the work (so a stuck loop really stops them),
 * STATUS lines, STOPPING on shutdown.
 *
 * 1. `$NOTIFY_SOCKET` names the socket (a path, or `@name` in the abstract namespace); without it
 *    (not started by systemd) every call is a no-op.
 * 2. Node has no unix datagram sockets, so the datagram goes out through the native addon
 *    (native/src/notify.cc): one socket, one sendto, close.
 * 3. A failed send is an operational failure: counted, the most recent message kept, never thrown.
 * 4. `watchdogIntervalMs`: half of `$WATCHDOG_USEC` (sd_watchdog_enabled(3): ping at least that
 *    often), when `$WATCHDOG_PID` is unset or is this process.
 */
import { loadAddon } from '../sources/live-capture.js';

export interface SdNotifyStats {
  sent: number;
  failed: number;
  /** The most recent failure, with the socket path. */
  lastError: string | null;
}

export class SdNotifier {
  readonly socket: string | null;
  readonly stats: SdNotifyStats = { sent: 0, failed: 0, lastError: null };

  constructor(env: NodeJS.ProcessEnv = process.env) {
    const s = env.NOTIFY_SOCKET;
    this.socket = s !== undefined && s !== '' ? s : null;
  }

  /** True when systemd waits for notifications from this process. */
  get enabled(): boolean {
    return this.socket !== null;
  }

  /** Sends `fields` (KEY=value pairs) as one datagram; false when it could not be sent. */
  send(fields: Record<string, string | number>): boolean {
    if (this.socket === null) return false;
    const message = Object.entries(fields).map(([k, v]) => `${k}=${String(v).replace(/\n/g, ' ')}`).join('\n');
    let err: string;
    try {
      err = loadAddon().sdNotify(this.socket, message);
    } catch (e) {
      err = (e as Error).message; // the addon is not built: counted like any failed send
    }
    if (err === '') {
      this.stats.sent++;
      return true;
    }
    this.stats.failed++;
    this.stats.lastError = err;
    return false;
  }

  ready(status: string): boolean {
    return this.send({ READY: 1, STATUS: status, MAINPID: process.pid });
  }

  watchdog(): boolean {
    return this.send({ WATCHDOG: 1 });
  }

  status(text: string): boolean {
    return this.send({ STATUS: text });
  }

  stopping(status = 'Stopping.'): boolean {
    return this.send({ STOPPING: 1, STATUS: status });
  }
}

/** How often to ping the watchdog (half its timeout), or null when no watchdog is armed for us. */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv = process.env, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID !== undefined && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 2000));
}
