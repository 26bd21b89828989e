/**
 * Client attribution of finished records (design.md "src/enrich/": after the record is built).
 *
 * 1. `attribute(rec)` (synchronous, no I/O): parses the client address, looks it up in the
 *    range files (provider, service, region, and the matched range as `prefix`; else the
 *    client's /24 or /48) and in the ASN database, and sets `rec.client_info`. `rdns` comes from
 *    the resolver's cache when it is there; otherwise a lookup is started (or queued or dropped
 *    by the resolver's bounds) and returned.
 * 2. `submit(rec, emit)`: attribute, then hand the record to `emit` once its PTR answer is in —
 *    or `rdnsWaitMs` later at most, with `rdns: null` and a note. Records are emitted in the
 *    order they were submitted (one answered early waits behind an older one still waiting).
 *    At most `maxPending` records wait; past that the oldest is emitted at once (counted). One
 *    timer serves all waiting records. Without rDNS, `emit` runs inside `submit`.
 * 3. `drain()` resolves once every submitted record has been emitted; `close()` emits the
 *    waiting ones at once and cancels the lookups.
 */
import type { ClientInfo, FlowRecord } from '../handshake/record.js';
import { formatIp } from '../handshake/addr.js';
import type { AsnDb } from './asn.js';
import { endpointAddress, endpointV4, prefixText, unmapV4, v4Text } from './ip.js';
import type { RangeInfo, RangeSet } from './ranges.js';
import type { RdnsLookup, RdnsResolver } from './rdns.js';


export interface EnricherOptions {
  ranges?: RangeSet | null;
  asn?: AsnDb | null;
  /** null or absent: no PTR lookups at all. */
  rdns?: RdnsResolver | null;
  /** How long a record waits for its PTR answer (ms). */
  rdnsWaitMs?: number;
  /** Records waiting for PTR answers at most. */
  maxPending?: number;
  ipv4Prefix?: number;
  ipv6Prefix?: number;
}

export interface EnricherStats {
  records: number;
  /** Records whose client is in a range file / in the ASN database. */
  range_matches: number;
  asn_matches: number;
  /** Records emitted without rdns because their lookup had not finished within rdnsWaitMs. */
  rdns_wait_expired: number;
  /** Records emitted early (without waiting for rdns) because maxPending records were waiting. */
  rdns_wait_overflow: number;
  /** Records emitted without rdns by close() (a stop). */
  rdns_wait_closed: number;
  /** Records waiting now. */
  pending: number;
}

/** IPv4 prefix texts remembered at most (Enricher #prefix4). */
const PREFIX_CACHE_MAX = 4096;

interface Waiting { rec: FlowRecord; lookup: RdnsLookup; emit: (rec: FlowRecord) => void; deadline: number }

export class Enricher {
  readonly #ranges: RangeSet | null;
  readonly #asn: AsnDb | null;
  readonly #rdns: RdnsResolver | null;
  readonly #waitMs: number;
  readonly #maxPending: number;
  readonly #v4len: number;
  readonly #v6len: number;
  #queue: Waiting[] = [];
  #head = 0;
  #timer: NodeJS.Timeout | null = null;
  #timerAt = Infinity;
  #drains: (() => void)[] = [];
  readonly #stats = { records: 0, range_matches: 0, asn_matches: 0, rdns_wait_expired: 0, rdns_wait_overflow: 0, rdns_wait_closed: 0 };
  readonly #prefixes = new Map<number, string>();
  readonly #onTimer = (): void => { this.#timer = null; this.#timerAt = Infinity; this.pump(); };

  constructor(opts: EnricherOptions = {}) {
    this.#ranges = opts.ranges ?? null;
    this.#asn = opts.asn ?? null;
    this.#rdns = opts.rdns ?? null;
    this.#waitMs = opts.rdnsWaitMs ?? 1000;
    this.#maxPending = opts.maxPending ?? 10_000;
    this.#v4len = opts.ipv4Prefix ?? 24;
    this.#v6len = opts.ipv6Prefix ?? 48;
    if (this.#rdns !== null) this.#rdns.onSettled = () => this.pump();
  }

  get ranges(): RangeSet | null { return this.#ranges; }
  get asn(): AsnDb | null { return this.#asn; }
  get resolver(): RdnsResolver | null { return this.#rdns; }

  /** Adds the counts of enrichers that attributed records elsewhere (analyze --threads workers). */
  absorb(s: { records: number; range_matches: number; asn_matches: number }): void {
    this.#stats.records += s.records;
    this.#stats.range_matches += s.range_matches;
    this.#stats.asn_matches += s.asn_matches;
  }

  get stats(): EnricherStats {
    return { ...this.#stats, pending: this.#queue.length - this.#head };
  }

  /**
   * Sets `rec.client_info` from what is known now; returns the PTR lookup when rDNS is on and
   * the answer is not known yet (the caller may wait for it: `submit` does).
   */
  attribute(rec: FlowRecord, lookup = true): RdnsLookup | null {
    this.#stats.records++;
    const info: ClientInfo = { rdns: null, provider: null, service: null, region: null, asn: null, as_org: null, prefix: null };
    rec.client_info = info;
    // The address text is only needed for the ASN and PTR lookups: not built without them.
    const wantIp = this.#asn !== null || this.#rdns !== null;
    let ip = '';
    const v4 = endpointV4(rec.client);
    if (v4 >= 0) {
      if (wantIp) {
        const colon = rec.client.indexOf(':');
        ip = colon < 0 ? rec.client : rec.client.slice(0, colon);
      }
      const r = this.#ranges?.lookup4(v4) ?? null;
      if (r !== null) this.#fromRange(info, r);
      else info.prefix = this.#prefix4(this.#v4len === 0 ? 0 : (v4 & (0xffffffff << (32 - this.#v4len))) >>> 0);
    } else {
      const raw = endpointAddress(rec.client);
      if (raw === null) return null;
      const a = unmapV4(raw);
      const r = this.#ranges?.lookup(a) ?? null;
      if (r !== null) this.#fromRange(info, r);
      else info.prefix = prefixText(a, a.length === 4 ? this.#v4len : this.#v6len);
      if (wantIp) ip = formatIp(a);
    }
    if (this.#asn !== null) {
      const x = this.#asn.lookup(ip);
      if (x.asn !== null || x.as_org !== null) this.#stats.asn_matches++;
      info.asn = x.asn;
      info.as_org = x.as_org;
    }
    if (this.#rdns === null) return null;
    // lookup false: only what the cache knows (a record a bound refused, in a storm).
    const l = lookup ? this.#rdns.lookup(ip) : this.#rdns.peek(ip);
    if (l === null) return null;
    if (l.outcome === 'pending') return lookup ? l : null;
    this.#finish(rec, l);
    return null;
  }

  /**
   * Starts the PTR lookup of a client endpoint ("ip:port") now, so that the answer is cached when
   * its record is attributed later (live: a slow handshake's evidence is written after its hold).
   * Nothing when rDNS is off or the address is cached.
   */
  prefetch(client: string): void {
    if (this.#rdns === null) return;
    const v4 = endpointV4(client);
    if (v4 >= 0) {
      const colon = client.indexOf(':');
      this.#rdns.lookup(colon < 0 ? client : client.slice(0, colon));
      return;
    }
    const raw = endpointAddress(client);
    if (raw !== null) this.#rdns.lookup(formatIp(unmapV4(raw)));
  }

  /**
   * CIDR text of an IPv4 prefix (host bits already zero), remembered: clients come from few
   * prefixes, so most records reuse the string (bounded: cleared past PREFIX_CACHE_MAX).
   */
  #prefix4(masked: number): string {
    let t = this.#prefixes.get(masked);
    if (t === undefined) {
      if (this.#prefixes.size >= PREFIX_CACHE_MAX) this.#prefixes.clear();
      t = `${v4Text(masked)}/${this.#v4len}`;
      this.#prefixes.set(masked, t);
    }
    return t;
  }

  #fromRange(info: ClientInfo, r: RangeInfo): void {
    this.#stats.range_matches++;
    info.provider = r.provider;
    info.service = r.service;
    info.region = r.region;
    info.prefix = r.prefix;
  }

  /** Attributes `rec` and emits it when its PTR answer is in, or after rdnsWaitMs (see the header). */
  submit(rec: FlowRecord, emit: (rec: FlowRecord) => void): void {
    const lookup = this.attribute(rec);
    if (lookup === null && this.#head === this.#queue.length) {
      emit(rec);
      return;
    }
    if (lookup === null) {
      // nothing to wait for, but records submitted before it are still waiting: keep the order
      this.#queue.push({ rec, lookup: DONE, emit, deadline: 0 });
    } else {
      this.#queue.push({ rec, lookup, emit, deadline: performance.now() + this.#waitMs });
    }
    if (this.#queue.length - this.#head > this.#maxPending) this.#emitHead('overflow');
    this.pump();
  }

  /** Emits every waiting record at the head of the queue that is ready (done or past its deadline). */
  pump(): void {
    const now = performance.now();
    while (this.#head < this.#queue.length) {
      const w = this.#queue[this.#head]!;
      if (w.lookup.outcome === 'pending' && w.deadline > now) break;
      this.#emitHead('deadline');
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
      if (this.#timer !== null) { clearTimeout(this.#timer); this.#timer = null; this.#timerAt = Infinity; }
      const d = this.#drains;
      this.#drains = [];
      for (const f of d) f();
      return;
    }
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    const at = this.#queue[this.#head]!.deadline;
    if (this.#timer === null || at < this.#timerAt) {
      if (this.#timer !== null) clearTimeout(this.#timer);
      this.#timerAt = at;
      this.#timer = setTimeout(this.#onTimer, Math.max(0, at - now) + 1);
    }
  }

  /** Resolves once every submitted record has been emitted. */
  drain(): Promise<void> {
    if (this.#head === this.#queue.length) return Promise.resolve();
    return new Promise((resolve) => this.#drains.push(resolve));
  }

  /** Emits the waiting records now (rdns null, noted) and cancels the resolver's lookups. */
  close(): void {
    while (this.#head < this.#queue.length) this.#emitHead('closed');
    this.#rdns?.close();
    this.pump();
  }

  #emitHead(why: 'deadline' | 'overflow' | 'closed'): void {
    const w = this.#queue[this.#head]!;
    this.#queue[this.#head++] = undefined as unknown as Waiting;
    if (w.lookup !== DONE) {
      if (w.lookup.outcome === 'pending') {
        if (why === 'overflow') {
          this.#stats.rdns_wait_overflow++;
          addNote(w.rec, `rdns: not waited for: ${this.#maxPending} records were already waiting for reverse DNS`);
        } else if (why === 'closed') {
          this.#stats.rdns_wait_closed++;
          addNote(w.rec, 'rdns: not waited for: enrichment stopped');
        } else {
          this.#stats.rdns_wait_expired++;
          addNote(w.rec, `rdns: no answer within ${this.#waitMs} ms; record emitted without it`);
        }
      } else this.#finish(w.rec, w.lookup);
    }
    w.emit(w.rec);
  }

  #finish(rec: FlowRecord, l: RdnsLookup): void {
    const info = rec.client_info!;
    switch (l.outcome) {
      case 'ok': info.rdns = l.name; break;
      case 'timeout': addNote(rec, `rdns: the DNS server did not answer within ${this.#rdns!.options.timeoutMs} ms`); break;
      case 'failed': addNote(rec, `rdns: lookup failed (${l.error})`); break;
      case 'dropped': addNote(rec, `rdns: not looked up: ${this.#rdns!.options.queue} lookups were already waiting (rate and concurrency bounds)`); break;
      default: break; // not_found: no PTR record, rdns stays null
    }
  }
}

/** A note once: a live record is attributed before its files are written and again when it is emitted. */
function addNote(rec: FlowRecord, text: string): void {
  if (!rec.notes.includes(text)) rec.notes.push(text);
}

/** Placeholder lookup of a record that waits only for the records before it. */
const DONE = { outcome: 'not_found' } as RdnsLookup;
