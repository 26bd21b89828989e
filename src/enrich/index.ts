/**
 * Client attribution (issue 10): who the clients of slow handshakes are — reverse DNS, cloud
 * provider / service / region from the providers' range files, ASN and organisation from a
 * MaxMind-format database — on every record (`client_info`), and the "Top slow networks"
 * section of summaries. It runs after the record is built and never blocks the packet path.
 *
 * ## API (for analyze, capture and watch)
 *
 * ```ts
 * import { openEnricher, TopNetworks, renderTopNetworks, enrichCounters } from '../enrich/index.js';
 *
 * // 1. At startup, from the validated config's [enrich] section (flags: --ranges FILE (repeatable),
 * //    --asn-db FILE, --rdns/--no-rdns, --dns-server ADDR[:PORT], --rdns-timeout MS — all in
 * //    config/flags.ts FLAG_OPTIONS). Reads the files synchronously; a missing or malformed file
 * //    throws EnrichInputError (code SLOWSHAKE_ERR_ENRICH_INPUT, message "FILE: what is wrong"):
 * //    show it as a usage error, exit 2 (e.g. `--ranges ${err.message}`; err.file names the file).
 * const enricher = openEnricher(config.enrich);          // rdns: config.enrich.rdns (default on)
 *
 * // 2. Per finished record, after the analyzer built it and after anything that must not wait
 * //    (the per-flow pcap write, the correlator's event attach):
 * enricher.submit(rec, (rec) => { sinks.record(rec); top.add(rec) /* if rec.slow *\/; });
 * //    `emit` runs synchronously when there is nothing to wait for (rDNS off, cached answer);
 * //    else once the PTR answer is in, or config.enrich.rdnsWaitMs later with rdns null and a note.
 * //    Records are emitted in submit order. Waiting records are bounded (maxPending; the
 * //    oldest goes on at once past it, counted). No timer per record, no I/O on the caller's
 * //    stack: a dead DNS server delays only the emitting of records, by rdnsWaitMs at most.
 * //    `enricher.attribute(rec)` is the synchronous part alone (rdns from the cache only).
 *
 * // 3. At the end: `await enricher.drain()` (every submitted record emitted), then `enricher.close()`.
 * //    On a fast stop: `enricher.close()` emits the waiting records at once and cancels lookups.
 *
 * // 4. Summaries: a TopNetworks fed with the slow records; `renderTopNetworks(top.top(n))`
 * //    gives the text section, `top.top(n)` the rows for JSON. Bounded: 1024 groups tracked
 * //    (≈4 MiB at most), the smallest evicted into `other` Space-Saving style so a heavy late
 * //    network still gets in; `row.error` > 0 says its count may be short by that much.
 * //    Metric labels: `row.network` of the top N rows, else "other" (never an address).
 *
 * // 5. Counters: `enrichCounters(enricher)` — records, range/ASN matches, rdns lookups, cache
 * //    hits, answered, not found, timeouts, failures, rate-limited, waited for a slot, dropped
 * //    (queue full), cache evictions, records emitted without rdns (wait expired / overflow).
 * ```
 *
 * ## Files
 * ip.ts (address/prefix text ↔ words), prefix-table.ts (longest-prefix match),
 * ranges.ts (AWS / Google range files), asn.ts (.mmdb via mmdb-lib), rdns.ts (bounded PTR
 * resolver), enricher.ts (the per-record step), top-networks.ts (the summary aggregate).
 */
import type { Config } from '../config/schema.js';
import { AsnDb } from './asn.js';
import { Enricher } from './enricher.js';
import { RangeSet } from './ranges.js';
import { RdnsResolver } from './rdns.js';

export type { ClientInfo } from '../handshake/record.js';
export { AsnDb, type AsnInfo } from './asn.js';
export { Enricher, type EnricherOptions, type EnricherStats } from './enricher.js';
export { EnrichInputError } from './errors.js';
export { PrefixTable, PrefixTableBuilder } from './prefix-table.js';
export { parsePrefix, prefixText } from './ip.js';
export { RangeSet, parseRangeFile, type RangeInfo, type RangeFileSummary, type RangeFormat } from './ranges.js';
export { RdnsResolver, RdnsLookup, type RdnsOptions, type RdnsStats } from './rdns.js';
export { parseDnsServer } from './dns-server.js';
export { TopNetworks, renderTopNetworks, groupOf, SAMPLE_ROW, type NetworkRow } from './top-networks.js';

export type EnrichSettings = Config['enrich'];

/** An Enricher for the [enrich] settings: files loaded (throws EnrichInputError), resolver made when rdns is on. */
export function openEnricher(s: EnrichSettings, prefixes: { ipv4: number; ipv6: number } = { ipv4: 24, ipv6: 48 }): Enricher {
  const ranges = s.ranges.length > 0 ? RangeSet.load(s.ranges) : null;
  const asn = s.asnDb !== null ? AsnDb.open(s.asnDb) : null;
  const rdns = s.rdns ? new RdnsResolver({
    server: s.dnsServer, timeoutMs: s.rdnsTimeoutMs, cacheSize: s.rdnsCacheSize, cacheTtlMs: s.rdnsCacheTtlMs,
    negativeTtlMs: s.rdnsNegativeTtlMs, ratePerSec: s.rdnsRate, concurrency: s.rdnsConcurrency, queue: s.rdnsQueue,
  }) : null;
  return new Enricher({ ranges, asn, rdns, rdnsWaitMs: s.rdnsWaitMs, maxPending: s.maxPending, ipv4Prefix: prefixes.ipv4, ipv6Prefix: prefixes.ipv6 });
}

/** Every enrichment counter, flat (snake_case): for summaries, logs and metrics. */
export function enrichCounters(e: Enricher): Record<string, number> {
  const out: Record<string, number> = { ...e.stats, asn_errors: e.asn?.errors ?? 0 };
  const r = e.resolver;
  if (r !== null) for (const [k, v] of Object.entries(r.stats)) out[`rdns_${k}`] = v;
  return out;
}
