/**
 * Builds a real MaxMind DB (.mmdb) ASN database for a test with Debian's MaxMind::DB::Writer
 * (libmaxmind-db-writer-perl) through scripts/enrich/write-asn-mmdb.pl.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './cli.js';

export const ENRICH_FIXTURES = join(ROOT, 'test/fixtures/enrich');
export const AWS_RANGES = join(ENRICH_FIXTURES, 'aws-ip-ranges.json');
export const GCP_RANGES = join(ENRICH_FIXTURES, 'gcp-cloud.json');
export const MULTI_NET = join(ROOT, 'captures/enrich/multi-net.pcap');

/** Writes `out` from TSV lines "PREFIX<TAB>ASN<TAB>ORG" (default: test/fixtures/enrich/asn.tsv). */
export function writeAsnMmdb(out: string, tsv: string = readFileSync(join(ENRICH_FIXTURES, 'asn.tsv'), 'utf8')): string {
  execFileSync('perl', [join(ROOT, 'scripts/enrich/write-asn-mmdb.pl'), out], { input: tsv, stdio: ['pipe', 'ignore', 'pipe'] });
  return out;
}
