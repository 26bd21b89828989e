/**
 * Reverse DNS (PTR, RFC 1035 §3.5 in-addr.arpa; RFC 3596 §2.5 ip6.arpa) of client addresses,
 * bounded in every direction so a slow, dead or hostile DNS server — or a flood of distinct
 * client addresses — costs a fixed amount of memory and queries:
 *
 * 1. Cache: one entry per address, at most `cacheSize` (least recently used evicted, counted).
 *    Answers live `cacheTtlMs`; no-answer outcomes (NXDOMAIN, timeout, failure) live
 *    `negativeTtlMs`, so a dead server is not asked again for every record. node:dns gives no
 *    TTL for PTR answers, hence fixed lifetimes. A lookup in progress is in the cache too: a
 *    second record from the same address waits on the same query.
 * 2. Concurrency: at most `concurrency` queries in flight.
 * 3. Rate: a token bucket of `ratePerSec` queries per second (burst: one second's worth).
 * 4. A lookup that cannot start at once (2 or 3) waits in a FIFO of at most `queue` lookups;
 *    beyond it the lookup is dropped at once (outcome `dropped`, counted). Waiting lookups start
 *    as slots and tokens free up (one timer, not one per lookup).
 * 5. Each query: node:dns `Resolver.resolvePtr` of the reverse name (c-ares, asynchronous)
 *    with one try and `timeoutMs` (c-ares gives up after about one to two times that: measured
 *    ~390 ms for 200 ms); `server` as ADDR[:PORT], or the system's resolvers.
 *
 * Every outcome is counted in `stats`. `onSettled` is called after each lookup finishes, so the
 * enricher can emit the records waiting on it.
 */
import { Resolver } from 'node:dns';
import { parseAddress } from '../correlate/journal-event.js';
import { parseDnsServer } from './dns-server.js';
import { reverseName } from './ip.js';

export type RdnsOutcome = 'pending' | 'ok' | 'not_found' | 'timeout' | 'failed' | 'dropped';

/** One address's lookup: shared by every record from that address while it is cached. */
export class RdnsLookup {
  readonly ip: string;
  outcome: RdnsOutcome = 'pending';
  name: string | null = null;
  /** The resolver's error code for `failed` (EBADRESP, ESERVFAIL, EREFUSED, invalid_name …). */
  error: string | null = null;
  /** Cache expiry (ms, the resolver's clock); Infinity while pending. */
  expires = Infinity;
  constructor(ip: string) {
    this.ip = ip;
  }
}

export interface RdnsOptions {
  /** ADDR[:PORT] ("127.0.0.1:5353", "[::1]:53", "::1"); null: the system's resolvers. */
  server: string | null;
  timeoutMs: number;
  cacheSize: number;
  cacheTtlMs: number;
  negativeTtlMs: number;
  ratePerSec: number;
  concurrency: number;
  queue: number;
}

export interface RdnsStats {
  /** Queries sent to the DNS server. */
  lookups: number;
  /** Records answered from the cache (or joining a query in progress). */
  cache_hits: number;
  answered: number;
  not_found: number;
  timeouts: number;
  /** Errors and unusable answers (garbage, SERVFAIL, REFUSED, names that are not host names). */
  failures: number;
  /** Lookups that waited for the rate limit. */
  rate_limited: number;
  /** Lookups that waited for a free slot (concurrency bound). */
  waited_for_slot: number;
  /** Lookups dropped because the wait queue was full. */
  dropped: number;
  cache_evictions: number;
  /** Lookups still waiting or in flight when the resolver was closed. */
  cancelled: number;
}

/** A host name as PTR answers should carry (RFC 1123 §2.1 letters, digits, hyphens; dots; ≤ 253). */
const HOST_NAME = /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*$/;
const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'NOTFOUND', 'NODATA']);

export class RdnsResolver {
  readonly stats: RdnsStats = {
    lookups: 0, cache_hits: 0, answered: 0, not_found: 0, timeouts: 0, failures: 0, rate_limited: 0, waited_for_slot: 0,
    dropped: 0, cache_evictions: 0, cancelled: 0,
  };
  readonly options: Readonly<RdnsOptions>;
  /** Called after each lookup settles (the enricher sets it to emit the records waiting). */
  onSettled: ((l: RdnsLookup) => void) | null = null;
  readonly #resolver: Resolver;
  readonly #cache = new Map<string, RdnsLookup>();
  #waiting: RdnsLookup[] = [];
  #waitHead = 0;
  #inFlight = 0;
  #tokens: number;
  #refilledAt: number;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #done = (l: RdnsLookup, err: NodeJS.ErrnoException | null, names: string[] | undefined): void => this.#settle(l, err, names);

  constructor(opts: RdnsOptions) {
    this.options = { ...opts };
    this.#resolver = new Resolver({ timeout: opts.timeoutMs, tries: 1 });
    if (opts.server !== null) {
      const s = parseDnsServer(opts.server);
      if (s === null) throw new RangeError(`RdnsResolver: server must be ADDR[:PORT], got ${JSON.stringify(opts.server)}`);
      this.#resolver.setServers([s]);
    }
    this.#tokens = Math.max(1, opts.ratePerSec);
    this.#refilledAt = performance.now();
  }

  /** Lookups waiting for a slot or a token now, and queries in flight now. */
  get queued(): number { return this.#waiting.length - this.#waitHead; }
  get inFlight(): number { return this.#inFlight; }
  get cached(): number { return this.#cache.size; }

  /**
   * The lookup for `ip` (address text, no port): a cached one (possibly still pending), or a new
   * one started, queued or dropped under the bounds. Never blocks; never throws for the address.
   */
  lookup(ip: string): RdnsLookup {
    const now = performance.now();
    const hit = this.#cache.get(ip);
    if (hit !== undefined) {
      if (hit.expires > now) {
        this.stats.cache_hits++;
        this.#cache.delete(ip); // most recently used goes last
        this.#cache.set(ip, hit);
        return hit;
      }
      this.#cache.delete(ip);
    }
    const l = new RdnsLookup(ip);
    if (this.#closed) {
      l.outcome = 'dropped';
      this.stats.dropped++;
      return l;
    }
    const canStart = this.#inFlight < this.options.concurrency;
    if (canStart && this.#take(now)) {
      this.#cacheSet(l);
      this.#start(l);
      return l;
    }
    if (this.queued >= this.options.queue) {
      l.outcome = 'dropped';
      this.stats.dropped++;
      return l;
    }
    if (canStart) this.stats.rate_limited++; else this.stats.waited_for_slot++;
    this.#cacheSet(l);
    this.#waiting.push(l);
    this.#armRefill();
    return l;
  }

  /** The cached lookup of `ip` (answered, failed or still pending), without starting one; null when none. */
  peek(ip: string): RdnsLookup | null {
    const hit = this.#cache.get(ip);
    return hit !== undefined && hit.expires > performance.now() ? hit : null;
  }

  /** Cancels queries in flight and waiting lookups (their outcome: failed, error "cancelled"). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) { clearTimeout(this.#timer); this.#timer = null; }
    for (let i = this.#waitHead; i < this.#waiting.length; i++) this.#cancel(this.#waiting[i]!);
    this.#waiting = [];
    this.#waitHead = 0;
    for (const l of this.#cache.values()) if (l.outcome === 'pending') this.#cancel(l);
    this.#resolver.cancel();
  }

  #cancel(l: RdnsLookup): void {
    if (l.outcome !== 'pending') return;
    l.outcome = 'failed';
    l.error = 'cancelled';
    this.stats.cancelled++;
    this.onSettled?.(l);
  }

  #cacheSet(l: RdnsLookup): void {
    this.#cache.set(l.ip, l);
    if (this.#cache.size > this.options.cacheSize) {
      const oldest = this.#cache.keys().next().value as string;
      this.#cache.delete(oldest);
      this.stats.cache_evictions++;
    }
  }

  #take(now: number): boolean {
    const rate = this.options.ratePerSec;
    this.#tokens = Math.min(Math.max(1, rate), this.#tokens + ((now - this.#refilledAt) * rate) / 1000);
    this.#refilledAt = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }

  #start(l: RdnsLookup): void {
    this.#inFlight++;
    this.stats.lookups++;
    // resolvePtr of the reverse name, not Resolver.reverse: reverse() reports every failure,
    // a timeout included, as ENOTFOUND (measured with Node 20's c-ares 1.34), so timeouts and
    // garbage could not be told from "no name"
    const a = parseAddress(l.ip);
    if (a === null) { this.#done(l, Object.assign(new Error('not an address'), { code: 'EBADADDR' }), undefined); return; }
    this.#resolver.resolvePtr(reverseName(a), (err, names) => this.#done(l, err, names));
  }

  #settle(l: RdnsLookup, err: NodeJS.ErrnoException | null, names: string[] | undefined): void {
    this.#inFlight--;
    if (l.outcome !== 'pending') { this.#pumpWaiting(); return; } // cancelled meanwhile
    const now = performance.now();
    const name = names !== undefined && names.length > 0 ? names[0]!.replace(/\.$/, '') : null;
    if (err === null && name !== null && HOST_NAME.test(name)) {
      l.outcome = 'ok';
      l.name = name;
      this.stats.answered++;
    } else if (err === null && name !== null) {
      l.outcome = 'failed';
      l.error = 'invalid_name';
      this.stats.failures++;
    } else if (err === null || NOT_FOUND.has(err.code ?? '')) {
      l.outcome = 'not_found';
      this.stats.not_found++;
    } else if (err.code === 'ETIMEOUT' || err.code === 'TIMEOUT') {
      l.outcome = 'timeout';
      this.stats.timeouts++;
    } else {
      l.outcome = 'failed';
      l.error = err.code ?? 'error';
      this.stats.failures++;
    }
    l.expires = now + (l.outcome === 'ok' ? this.options.cacheTtlMs : this.options.negativeTtlMs);
    this.#pumpWaiting();
    this.onSettled?.(l);
  }

  /** Starts waiting lookups while slots and tokens allow; re-arms the refill timer otherwise. */
  #pumpWaiting(): void {
    if (this.#closed) return;
    const now = performance.now();
    while (this.#waitHead < this.#waiting.length && this.#inFlight < this.options.concurrency && this.#take(now)) {
      const l = this.#waiting[this.#waitHead++]!;
      this.#start(l);
    }
    if (this.#waitHead === this.#waiting.length) { this.#waiting = []; this.#waitHead = 0; }
    else if (this.#waitHead > 1024 && this.#waitHead * 2 > this.#waiting.length) { this.#waiting = this.#waiting.slice(this.#waitHead); this.#waitHead = 0; }
    if (this.queued > 0) this.#armRefill();
  }

  #armRefill(): void {
    if (this.#timer !== null || this.#closed) return;
    // only the rate limit needs a timer: a slot freeing up pumps by itself (#settle)
    if (this.#inFlight >= this.options.concurrency) return;
    const waitMs = Math.max(1, Math.ceil(((1 - this.#tokens) * 1000) / this.options.ratePerSec));
    this.#timer = setTimeout(() => { this.#timer = null; this.#pumpWaiting(); }, waitMs);
    this.#timer.unref();
  }
}
