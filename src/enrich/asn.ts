/**
 * The client's autonomous system from a MaxMind DB file (the MaxMind DB format 2.0, as
 * GeoLite2-ASN / GeoIP2-ISP and compatible databases publish it), read with the maintained
 * reader `mmdb-lib` (the decoder the `maxmind` package is built on).
 *
 * 1. `AsnDb.open(file)` reads the whole file (ASN databases are ~10 MB) and parses its metadata;
 *    a file that is not a MaxMind DB, or is one without ASN data, is one EnrichInputError naming
 *    the file. ASN data is told by the metadata's database_type (it names ASN or
 *    ISP in MaxMind's and compatible databases): a City or Country database is refused.
 * 2. `lookup(ip)` returns `autonomous_system_number` / `autonomous_system_organization` of the
 *    address's record. A record the reader cannot decode (a database corrupt past its metadata)
 *    counts in `errors` and gives null: one bad record never stops the records after it.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Reader, Response } from 'mmdb-lib';
import { describeReadError, EnrichInputError } from './errors.js';

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com')]);

export interface AsnInfo { asn: number | null; as_org: string | null }

interface AsnRecord { autonomous_system_number?: unknown; autonomous_system_organization?: unknown }

export class AsnDb {
  readonly #reader: Reader<Response>;
  readonly file: string;
  readonly databaseType: string;
  /** Records the reader failed to decode (counted, each lookup then gives null). */
  errors = 0;

  private constructor(file: string, reader: Reader<Response>) {
    this.file = file;
    this.#reader = reader;
    this.databaseType = reader.metadata.databaseType;
  }

  /** Opens and checks the database; throws EnrichInputError. */
  static open(file: string): AsnDb {
    let buf: Buffer;
    try {
      buf = readFileSync(file);
    } catch (err) {
      throw new EnrichInputError(file, describeReadError(err as NodeJS.ErrnoException));
    }
    // the metadata section starts with this marker, within the file's last 128 KiB (MaxMind DB spec, "Database Metadata")
    if (buf.lastIndexOf(METADATA_MARKER) < 0 || buf.lastIndexOf(METADATA_MARKER) < buf.length - 128 * 1024) {
      throw new EnrichInputError(file, 'not a MaxMind DB (.mmdb) file (no metadata marker "\\xAB\\xCD\\xEFMaxMind.com" in its last 128 KiB)');
    }
    let reader: Reader<Response>;
    try {
      // loaded here, not at import: mmdb-lib costs ~40 ms of every analyze's start-up (issue 13)
      const lib = createRequire(import.meta.url)('mmdb-lib') as typeof import('mmdb-lib');
      reader = new lib.Reader<Response>(buf);
    } catch (err) {
      throw new EnrichInputError(file, `not a MaxMind DB (.mmdb) file (${(err as Error).message.split('\n')[0]})`);
    }
    const type = String(reader.metadata.databaseType ?? '');
    if (!/asn|isp|as[-_ ]?org|autonomous/i.test(type)) {
      throw new EnrichInputError(file, `not an ASN database: its database_type is ${JSON.stringify(type)} (expected an ASN or ISP database such as GeoLite2-ASN)`);
    }
    return new AsnDb(file, reader);
  }

  /** ASN and organisation of the address text (no port, no brackets); nulls when not in the database. */
  lookup(ip: string): AsnInfo {
    let r: AsnRecord | null;
    try {
      r = this.#reader.get(ip) as AsnRecord | null;
    } catch {
      this.errors++;
      return { asn: null, as_org: null };
    }
    if (r === null || typeof r !== 'object') return { asn: null, as_org: null };
    const n = r.autonomous_system_number;
    const o = r.autonomous_system_organization;
    return {
      asn: typeof n === 'number' && Number.isSafeInteger(n) && n >= 0 ? n : null,
      as_org: typeof o === 'string' ? o : null,
    };
  }
}
