/**
 * The capture generator's truth: `captures/expected/<scenario>.json`, one file per scenario, each
 * naming its capture and listing its flows with the injected fault and what the analyzer must say.
 * Loaded synchronously so `test.each` sees every scenario at collection time: a scenario the
 * generator adds later is covered without touching the tests.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const ROOT = resolve(import.meta.dirname, '../..');
/** SLOWSHAKE_CAPTURES points the suites at another copy (e.g. a snapshot while the generator runs). */
export const CAPTURES_DIR = process.env.SLOWSHAKE_CAPTURES ? resolve(process.env.SLOWSHAKE_CAPTURES) : join(ROOT, 'captures');
export const EXPECTED_DIR = join(CAPTURES_DIR, 'expected');

export type Verdict = 'client' | 'network' | 'server' | 'loss' | 'incomplete';

/** design.md "Handshake timeline": the points, in the order a handshake reaches them. */
export const TIMELINE = [
  'syn', 'syn_ack', 'ack', 'client_hello', 'client_hello_end', 'hello_retry_request', 'client_hello2',
  'client_hello2_end', 'server_hello', 'server_flight_end', 'client_ack', 'client_finished', 'client_flight_end', 'done',
] as const;
export type TimelineName = (typeof TIMELINE)[number];

/** design.md "Phases": the consecutive phases, in timeline order. */
export const PHASES = [
  'syn_ack_delay', 'tcp_rtt', 'client_hello_wait', 'client_hello_xfer', 'server_hello_delay',
  'hrr_rtt', 'hrr_server_delay', 'server_flight', 'flight_rtt', 'client_think', 'client_flight_xfer', 'server_finish',
] as const;
/** Everything that adds up to `total`: the phases plus the time taken out of them. */
export const BREAKDOWN = [...PHASES, 'loss', 'cwnd_stall'] as const;
export type BreakdownName = (typeof BREAKDOWN)[number];

/**
 * Which breakdown entries a fault of each injected kind inflates. A relay holding the server's
 * first flight shows up before the ServerHello (or, after an HRR, before the second one); a delay
 * line on the path raises every round trip; a dropped segment is repaired, and that wait is loss.
 */
export const INFLATED_BY: Readonly<Record<string, readonly BreakdownName[]>> = {
  client_think: ['client_think'],
  server_delay: ['server_hello_delay', 'hrr_server_delay', 'server_flight'],
  network_delay: ['tcp_rtt', 'client_hello_xfer', 'hrr_rtt', 'flight_rtt', 'client_flight_xfer'],
  loss: ['loss'],
  client_loss: ['loss'],
  cwnd_stall: ['cwnd_stall'],
  syn_backlog: ['syn_ack_delay'],
};

export interface ExpectedFlow {
  client: string;
  server: string;
  sni?: string | null;
  /** ALPN protocols the client offered, in order; null when it offered none. */
  alpn_offered?: string[] | null;
  /** The server's ALPN choice where the wire shows it (TLS ≤ 1.2); null otherwise. */
  alpn_selected?: string | null;
  /** Older generator files: the selected ALPN (as `alpn_selected`). */
  alpn?: string | null;
  tls_version?: string | null;
  injected: { kind: string; ms: number; detail?: string };
  expect: {
    verdict?: Verdict;
    hrr?: boolean;
    resumed?: boolean;
    slow?: boolean;
    cwnd_stall?: boolean;
    retransmits_server_min?: number;
    retransmits_client_min?: number;
    /** Lower bounds for single breakdown entries, ms. */
    phase_min_ms?: Partial<Record<BreakdownName, number>>;
    /** The ClientHello spans at least this many client segments. */
    client_hello_segments_min?: number;
    /** The client sent a certificate (mutual TLS); absent: it did not. */
    client_cert?: boolean;
    /** The client's second flight (client_finished → client_flight_end) spans at least this many segments. */
    client_flight_segments_min?: number;
    /** No client record has a Finished's length (padded records): the record must say it fell back. */
    finished_fallback?: boolean;
    /** The ClientHello rode in the SYN (TCP Fast Open): the record says `tfo: true`; absent: it does not. */
    tfo?: boolean;
    /** The server refused the SYN's data and the client sent it again: the record's note says so. */
    tfo_refused?: boolean;
    [other: string]: unknown;
  };
}

export interface Scenario {
  scenario: string;
  /** Relative to captures/. */
  capture: string;
  description?: string;
  flows: ExpectedFlow[];
  /** Absolute paths of the expected JSON and of the capture. */
  expectedFile: string;
  capturePath: string;
}

function fail(file: string, what: string): never {
  throw new Error(`${file}: ${what}`);
}

function checkShape(file: string, raw: unknown): Omit<Scenario, 'expectedFile' | 'capturePath'> {
  if (typeof raw !== 'object' || raw === null) fail(file, 'not a JSON object');
  const s = raw as Record<string, unknown>;
  if (typeof s.capture !== 'string') fail(file, '"capture" is not a string');
  if (!Array.isArray(s.flows) || s.flows.length === 0) fail(file, '"flows" is not a non-empty array');
  for (const [i, f] of (s.flows as unknown[]).entries()) {
    const flow = f as Record<string, unknown> | null;
    if (typeof flow?.client !== 'string' || typeof flow.server !== 'string') fail(file, `flows[${i}]: client/server missing`);
    const inj = flow.injected as Record<string, unknown> | undefined;
    if (typeof inj?.kind !== 'string' || typeof inj.ms !== 'number') fail(file, `flows[${i}]: injected {kind, ms} missing`);
    if (typeof flow.expect !== 'object' || flow.expect === null) fail(file, `flows[${i}]: expect missing`);
  }
  return {
    scenario: typeof s.scenario === 'string' ? s.scenario : file.replace(/\.json$/, ''),
    capture: s.capture,
    description: typeof s.description === 'string' ? s.description : undefined,
    flows: s.flows as ExpectedFlow[],
  };
}

/** Every scenario in captures/expected, sorted by file name. */
export function loadScenarios(): Scenario[] {
  if (!existsSync(EXPECTED_DIR)) return [];
  return readdirSync(EXPECTED_DIR)
    .filter((n) => n.endsWith('.json'))
    .sort()
    .map((name) => {
      const expectedFile = join(EXPECTED_DIR, name);
      const s = checkShape(name, JSON.parse(readFileSync(expectedFile, 'utf8')) as unknown);
      return { ...s, expectedFile, capturePath: join(CAPTURES_DIR, s.capture) };
    });
}

/** `[scenario, flow]` pairs for a flat `test.each`. */
export function loadFlows(scenarios: readonly Scenario[] = loadScenarios()): [Scenario, ExpectedFlow][] {
  return scenarios.flatMap((s) => s.flows.map((f): [Scenario, ExpectedFlow] => [s, f]));
}
