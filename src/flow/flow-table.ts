/**
 * Flow table keyed by the canonical TCP 5-tuple (Zeek ip/conn_key; tcpdump tcp_print `rev`).
 *
 * Both directions map to one entry: the endpoint (address, port) that compares lower is side A.
 * Keys live in one Uint32Array (11 words a slot: version, A address ×4, B address ×4, ports, and
 * the flow hash), so a lookup reads the packet's address words into a module scratch and compares
 * integers: no string or object is built per packet. Chaining uses Int32Array heads/next; freed
 * slots go on a stack. The bucket hash is the ring's symmetric flow hash (src/ring/flow-hash.ts,
 * the one definition the native capture thread shares), kept in the key so a slot's bucket is
 * known without rehashing.
 *
 * Slot states: PRE_TLS (a connection that has shown no payload yet: its TCP state lives in the
 * analyzer's fixed-size arrays, handshake/pre-tls.ts, indexed by slot), TRACKING (a handshake
 * object is attached), PASSIVE (a finished or non-TLS flow: only the key and last-seen time are
 * kept, so its later packets cost one lookup), and PASSIVE after one side's FIN, so the peer's
 * remaining data still finds the entry until its own FIN.
 *
 * Bound: at most `maxFlows` entries. `insert` refuses beyond it; the owner makes room first by
 * evicting `oldest` (entries are kept in insertion order in an intrusive doubly linked list, two
 * Int32Arrays, so removing any entry and finding the oldest are O(1) and nothing is touched per
 * packet). The owner counts evictions and emits whatever the evicted entry still owed.
 */
import type { DecodedPacket } from '../decode/packet.js';
import { Anomaly, type AnomalyCounters } from '../telemetry/anomalies.js';
import { flowHashAt, flowHashV4 } from '../ring/flow-hash.js';

export const SLOT_FREE = 0;
/** A connection with no payload seen yet; its state is in the owner's per-slot arrays. */
export const SLOT_PRE_TLS = 1;
export const SLOT_TRACKING = 2;
/** Passive states are SLOT_PASSIVE and above. */
export const SLOT_PASSIVE = 3;
/** Passive, and side A (or B) has sent its FIN: the entry leaves on the other side's FIN or a RST. */
export const SLOT_PASSIVE_FIN_A = 4;
export const SLOT_PASSIVE_FIN_B = 5;
const KEY_WORDS = 11;
const KEY_HASH = 10;

const v6src = new Uint32Array(4);
const v6dst = new Uint32Array(4);

export class FlowTable<T> {
  #cap: number;
  #mask: number;
  #keys: Uint32Array;
  #heads: Int32Array;
  #next: Int32Array;
  #free: Int32Array;
  #freeTop: number;
  state: Uint8Array;
  /** Last packet time (seconds) per slot, for idle expiry. */
  lastSeen: Float64Array;
  values: (T | null)[];
  size = 0;
  // Insertion order (oldest first): intrusive doubly linked list over slots, -1 = none.
  #older: Int32Array;
  #newer: Int32Array;
  #oldest = -1;
  #newest = -1;
  /** After lookup/insert: the packet's source is side A of the key. */
  fromA = false;
  #hash = 0;
  /** Scratch key of the last lookup (per table: the remembered flow below must own it). */
  readonly #key = new Uint32Array(KEY_WORDS);
  /** The last IPv4 lookup: its packet's source and destination words and ports, and its answer. */
  readonly #last = new Int32Array(3);
  #lastOk = false;
  /** Whether the scratch key holds an IPv6 key (its words 2-4 and 6-8 are not 0). */
  #keyV6 = false;
  #lastSlot = -1;
  #lastFromA = false;

  constructor(initial = 1 << 14, readonly maxFlows = 1 << 22, readonly an?: AnomalyCounters) {
    if (!Number.isInteger(maxFlows) || maxFlows < 1) throw new RangeError(`flow table: maxFlows must be a positive integer, got ${maxFlows}`);
    while (initial > 16 && initial / 2 >= maxFlows) initial /= 2; // no more slots than the bound can use
    this.#cap = initial;
    this.#mask = initial - 1;
    this.#keys = new Uint32Array(initial * KEY_WORDS);
    this.#heads = new Int32Array(initial).fill(-1);
    this.#next = new Int32Array(initial).fill(-1);
    this.#free = new Int32Array(initial);
    for (let i = 0; i < initial; i++) this.#free[i] = initial - 1 - i;
    this.#freeTop = initial;
    this.state = new Uint8Array(initial);
    this.lastSeen = new Float64Array(initial);
    this.values = new Array<T | null>(initial).fill(null);
    this.#older = new Int32Array(initial).fill(-1);
    this.#newer = new Int32Array(initial).fill(-1);
  }

  get capacity(): number {
    return this.#cap;
  }

  /** The entry inserted longest ago (-1 when empty): the one to evict when the table is full. */
  get oldest(): number {
    return this.#oldest;
  }

  /** Whether another entry may be inserted without evicting one first. */
  get full(): boolean {
    return this.size >= this.maxFlows;
  }

  /**
   * Builds the canonical IPv6 key of `pkt` into scratch; sets fromA and the hash. Each address is
   * read once, as big-endian words: comparing those unsigned is comparing the bytes in order.
   */
  #makeKey6(p: DecodedPacket): void {
    const b = p.buf, key = this.#key;
    const so = p.srcAddrOff, d = p.dstAddrOff, sp = p.srcPort, dp = p.dstPort;
    this.#keyV6 = true;
    let cmp = 0;
    for (let w = 0; w < 4; w++) {
      const so4 = so + w * 4, do4 = d + w * 4;
      const sw = ((b[so4]! << 24) | (b[so4 + 1]! << 16) | (b[so4 + 2]! << 8) | b[so4 + 3]!) >>> 0;
      const dw = ((b[do4]! << 24) | (b[do4 + 1]! << 16) | (b[do4 + 2]! << 8) | b[do4 + 3]!) >>> 0;
      v6src[w] = sw;
      v6dst[w] = dw;
      if (cmp === 0 && sw !== dw) cmp = sw < dw ? -1 : 1;
    }
    if (cmp === 0) cmp = sp - dp;
    const srcIsA = cmp <= 0;
    const a = srcIsA ? v6src : v6dst, bw = srcIsA ? v6dst : v6src;
    key[0] = p.ipVersion;
    for (let w = 0; w < 4; w++) {
      key[1 + w] = a[w]!;
      key[5 + w] = bw[w]!;
    }
    key[9] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
    this.#hash = key[KEY_HASH] = flowHashAt(b, so, d, 16, sp, dp);
    this.fromA = srcIsA;
  }

  /**
   * Finds the slot of the packet's flow (-1 when absent). Sets `fromA`.
   *
   * IPv4: the addresses are read once as big-endian words. The last IPv4 flow looked up is
   * remembered by its packet's raw words (source, destination, ports) with its answer: a packet of
   * the same flow in either direction (consecutive packets of one flow are common in bulk
   * transfers) gets the answer without building the key, hashing or walking the chain. `insert`
   * and `remove` keep that answer true; the scratch key stays the remembered flow's, so an
   * `insert` after a remembered miss inserts the right key.
   */
  lookup(p: DecodedPacket): number {
    if (p.ipVersion === 6) {
      this.#lastOk = false;
      this.#makeKey6(p);
      return this.#find6();
    }
    const b = p.buf, so = p.srcAddrOff, d = p.dstAddrOff, sp = p.srcPort, dp = p.dstPort;
    const swi = (b[so]! << 24) | (b[so + 1]! << 16) | (b[so + 2]! << 8) | b[so + 3]!;
    const dwi = (b[d]! << 24) | (b[d + 1]! << 16) | (b[d + 2]! << 8) | b[d + 3]!;
    const last = this.#last;
    if (this.#lastOk) {
      const ports = (sp << 16) | dp;
      if (swi === last[0] && dwi === last[1] && ports === last[2]) {
        this.fromA = this.#lastFromA;
        return this.#lastSlot;
      }
      if (swi === last[1] && dwi === last[0] && ((dp << 16) | sp) === last[2]) {
        this.fromA = !this.#lastFromA;
        return this.#lastSlot;
      }
    }
    const sw = swi >>> 0, dw = dwi >>> 0;
    const srcIsA = sw < dw || (sw === dw && sp <= dp);
    const key = this.#key;
    if (this.#keyV6) { // the other address words are 0 in an IPv4 key
      this.#keyV6 = false;
      key[2] = 0; key[3] = 0; key[4] = 0; key[6] = 0; key[7] = 0; key[8] = 0;
    }
    const k0 = key[0] = p.ipVersion;
    const k1 = key[1] = srcIsA ? sw : dw;
    const k5 = key[5] = srcIsA ? dw : sw;
    const k9 = key[9] = srcIsA ? ((sp << 16) | dp) >>> 0 : ((dp << 16) | sp) >>> 0;
    const hash = this.#hash = key[KEY_HASH] = flowHashV4(sw, sp, dw, dp);
    this.fromA = srcIsA;
    let s = this.#heads[hash & this.#mask]!;
    const keys = this.#keys;
    // The other address words are 0 in every IPv4 key, so version, ports and addresses decide.
    while (s >= 0) {
      const o = s * KEY_WORDS;
      if (keys[o + 9] === k9 && keys[o + 1] === k1 && keys[o + 5] === k5 && keys[o] === k0) break;
      s = this.#next[s]!;
    }
    last[0] = swi; last[1] = dwi; last[2] = (sp << 16) | dp;
    this.#lastSlot = s;
    this.#lastFromA = srcIsA;
    this.#lastOk = true;
    return s;
  }

  #find6(): number {
    const key = this.#key;
    let s = this.#heads[this.#hash & this.#mask]!;
    const keys = this.#keys;
    while (s >= 0) {
      const o = s * KEY_WORDS;
      if (keys[o + 9] === key[9] && keys[o + 1] === key[1] && keys[o + 5] === key[5] && keys[o] === key[0] &&
          keys[o + 2] === key[2] && keys[o + 3] === key[3] && keys[o + 4] === key[4] &&
          keys[o + 6] === key[6] && keys[o + 7] === key[7] && keys[o + 8] === key[8]) return s;
      s = this.#next[s]!;
    }
    return -1;
  }

  /** Inserts the key of the packet last passed to `lookup` (which must have missed). -1 when full. */
  insert(state: number, value: T | null, nowSec: number): number {
    if (this.size >= this.maxFlows || (this.#freeTop === 0 && !this.#grow())) {
      this.an?.bump(Anomaly.FLOW_TABLE_FULL);
      return -1;
    }
    const s = this.#free[--this.#freeTop]!;
    this.#keys.set(this.#key, s * KEY_WORDS);
    if (this.#lastOk) this.#lastSlot = s; // the remembered lookup was the miss this inserts
    const bucket = this.#hash & this.#mask;
    this.#next[s] = this.#heads[bucket]!;
    this.#heads[bucket] = s;
    this.state[s] = state;
    this.values[s] = value;
    this.lastSeen[s] = nowSec;
    this.size++;
    this.#older[s] = this.#newest;
    this.#newer[s] = -1;
    if (this.#newest >= 0) this.#newer[this.#newest] = s;
    else this.#oldest = s;
    this.#newest = s;
    return s;
  }

  remove(s: number): void {
    const bucket = this.#bucketOf(s);
    let prev = -1;
    let cur = this.#heads[bucket]!;
    while (cur >= 0 && cur !== s) { prev = cur; cur = this.#next[cur]!; }
    if (cur !== s) throw new Error(`flow table corrupt: slot ${s} not in its bucket`); // broken invariant
    if (s === this.#lastSlot) this.#lastOk = false;
    if (prev < 0) this.#heads[bucket] = this.#next[s]!;
    else this.#next[prev] = this.#next[s]!;
    this.state[s] = SLOT_FREE;
    this.values[s] = null;
    this.#free[this.#freeTop++] = s;
    this.size--;
    const o = this.#older[s]!, n = this.#newer[s]!;
    if (o >= 0) this.#newer[o] = n;
    else this.#oldest = n;
    if (n >= 0) this.#older[n] = o;
    else this.#newest = o;
  }

  /** The ring flow hash of slot `s`'s flow: what the capture thread stored in its packets' records. */
  flowHash(s: number): number {
    return this.#keys[s * KEY_WORDS + KEY_HASH]!;
  }

  #bucketOf(s: number): number {
    return this.#keys[s * KEY_WORDS + KEY_HASH]! & this.#mask;
  }

  #grow(): boolean {
    const oldCap = this.#cap;
    const cap = oldCap * 2;
    if (oldCap >= this.maxFlows) return false;
    const keys = new Uint32Array(cap * KEY_WORDS);
    keys.set(this.#keys);
    this.#keys = keys;
    const state = new Uint8Array(cap); state.set(this.state); this.state = state;
    const last = new Float64Array(cap); last.set(this.lastSeen); this.lastSeen = last;
    this.values.length = cap;
    this.values.fill(null, oldCap);
    const older = new Int32Array(cap).fill(-1); older.set(this.#older); this.#older = older;
    const newer = new Int32Array(cap).fill(-1); newer.set(this.#newer); this.#newer = newer;
    this.#cap = cap;
    this.#mask = cap - 1;
    this.#heads = new Int32Array(cap).fill(-1);
    this.#next = new Int32Array(cap).fill(-1);
    for (let s = 0; s < oldCap; s++) {
      if (this.state[s] === SLOT_FREE) continue;
      const b = this.#bucketOf(s);
      this.#next[s] = this.#heads[b]!;
      this.#heads[b] = s;
    }
    this.#free = new Int32Array(cap);
    this.#freeTop = 0;
    for (let s = cap - 1; s >= oldCap; s--) this.#free[this.#freeTop++] = s;
    return true;
  }
}
