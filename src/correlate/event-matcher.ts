/**
 * Offline event ↔ flow matching for `analyze --events`: an event names the client endpoint (and
 * maybe the server port); its timestamp is the handshake end. A record matches when the client is
 * the same, the server port agrees when logged (the server address is not compared: anycast and
 * NAT make it unreliable), and the event's end lies within [start − margin, end + margin] of the
 * flow. Of several events for one flow the closest to `done` is attached; the rest count as
 * duplicates. Events left over are reported as unmatched.
 */
import type { FlowRecord } from '../handshake/record.js';
import type { SlowEvent } from './journal-event.js';
import { attachEvent, type ProxyClock } from './proxy-lag.js';

export class EventMatcher {
  #byClient = new Map<string, SlowEvent[]>();
  #used = new Set<SlowEvent>();
  duplicates = 0;

  constructor(readonly events: readonly SlowEvent[], readonly marginMs = 2000, readonly proxyClock: ProxyClock = 'accept') {
    for (const e of events) {
      const list = this.#byClient.get(e.client);
      if (list) list.push(e);
      else this.#byClient.set(e.client, [e]);
    }
  }

  /** Attaches the best event to `rec` (event, event_elapsed_ms, proxy_gap_ms, proxy_lag_ms; see proxy-lag.ts). */
  attach(rec: FlowRecord, startUs: number, lastUs: number): SlowEvent | null {
    const list = this.#byClient.get(rec.client);
    if (!list) return null;
    const serverPort = Number(/:(\d+)$/.exec(rec.server)?.[1]);
    const endUs = rec.timeline.done ?? lastUs;
    const margin = this.marginMs * 1000;
    let best: SlowEvent | null = null;
    let bestDist = Infinity;
    for (const e of list) {
      if (this.#used.has(e)) continue;
      if (e.serverPort !== null && e.serverPort !== serverPort) continue;
      if (e.endUs < startUs - margin || e.endUs > endUs + margin) continue;
      const d = Math.abs(e.endUs - endUs);
      if (best !== null) this.duplicates++;
      if (d < bestDist) { best = e; bestDist = d; }
      this.#used.add(e);
    }
    if (best === null) return null;
    attachEvent(rec, best, this.proxyClock);
    return best;
  }

  unmatched(): SlowEvent[] {
    return this.events.filter((e) => !this.#used.has(e));
  }
}
