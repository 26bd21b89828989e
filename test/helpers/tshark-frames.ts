/**
 * An independent view of a capture from tshark (Wireshark 4.0 dissectors), for cross-checking the
 * analyzer. One tshark run per capture file per test process (memoised), printing one
 * tab-separated line per frame:
 *
 *   frame.number  frame.time_epoch  ip.src  ipv6.src  tcp.srcport  ip.dst  ipv6.dst  tcp.dstport
 *   tcp.flags  tcp.len  tcp.seq_raw  tcp.ack_raw  tcp.stream  tls.handshake.type  tls.record.content_type
 *   tls.record.opaque_type  tls.handshake.random  tls.handshake.version  tls.handshake.extensions.supported_version
 *   tls.handshake.extension.type  tls.handshake.extensions_server_name
 *   tls.handshake.extensions_alpn_str  tcp.analysis.retransmission  tcp.analysis.out_of_order
 *   tcp.analysis.spurious_retransmission
 *
 * Semantics worth knowing (tshark 4.0):
 * - With `tcp.desegment_tcp_streams` and `tls.desegment_ssl_records` on (both the default, set
 *   explicitly here), a TLS record or handshake message spanning several segments is dissected in,
 *   and its fields are printed for, the frame that COMPLETES it. So `tls.handshake.type == 1` marks
 *   the segment that ends the ClientHello, not the one that starts it.
 * - TLS 1.3 encrypted records show `tls.record.opaque_type` (23), not `tls.record.content_type`.
 *   The TLS 1.2 encrypted Finished is a content type 22 record after a CCS, with no handshake type.
 * - Occurrences of one field in a frame are joined with ',' (`-E aggregator=,`), in packet order.
 * - `frame.time_epoch` is printed with nine fraction digits; it is kept as text and truncated to
 *   whole microseconds as decimal text, never through a float.
 * - TLS on ports Wireshark does not associate with TLS (9901, 4433, …) is found by the `tls_tcp`
 *   heuristic dissector, enabled by default (checked: `tshark -G heuristic-decodes`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export const TSHARK = process.env.TSHARK ?? 'tshark';

/** The random of a HelloRetryRequest: SHA-256("HelloRetryRequest"), RFC 8446 §4.1.3. */
export const HRR_RANDOM = 'cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c';

// RFC 8446 §4 / RFC 5246 §7.4 handshake types; RFC 8446 §5.1 / RFC 5246 §6.2.1 content types.
export const HS_CLIENT_HELLO = 1;
export const HS_SERVER_HELLO = 2;
export const CT_CHANGE_CIPHER_SPEC = 20;
export const CT_HANDSHAKE = 22;
export const CT_APPLICATION_DATA = 23;
/** RFC 8446 §4.2 extension type of pre_shared_key. */
export const EXT_PRE_SHARED_KEY = 41;

// RFC 9293 §3.1 control bits.
export const TH_FIN = 0x01;
export const TH_SYN = 0x02;
export const TH_RST = 0x04;
export const TH_ACK = 0x10;

const FIELDS = [
  'frame.number', 'frame.time_epoch', 'ip.src', 'ipv6.src', 'tcp.srcport', 'ip.dst', 'ipv6.dst', 'tcp.dstport',
  'tcp.flags', 'tcp.len', 'tcp.seq_raw', 'tcp.ack_raw', 'tcp.stream', 'tls.handshake.type', 'tls.record.content_type',
  'tls.record.opaque_type', 'tls.handshake.random', 'tls.handshake.version', 'tls.handshake.extensions.supported_version',
  'tls.handshake.extension.type', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str',
  'tcp.analysis.retransmission', 'tcp.analysis.out_of_order', 'tcp.analysis.spurious_retransmission',
  'tls.record.length', 'tls.handshake.ciphersuite',
] as const;

export interface TsharkFrame {
  /** frame.number (1-based, file order). */
  no: number;
  /** frame.time_epoch exactly as tshark printed it. */
  epoch: string;
  /** frame.time_epoch truncated to whole µs since the epoch. */
  tsUs: number;
  /** "ip:port", IPv6 as "[addr]:port" (the record's endpoint format). */
  src: string;
  dst: string;
  flags: number;
  len: number;
  seqRaw: number;
  /** tcp.ack_raw; meaningful only with the ACK flag. */
  ackRaw: number;
  stream: number;
  hsTypes: number[];
  contentTypes: number[];
  opaqueTypes: number[];
  randoms: string[];
  /** tls.handshake.version of the hellos in the frame (legacy_version in TLS 1.3). */
  hsVersions: number[];
  supportedVersions: number[];
  extensionTypes: number[];
  sni: string | null;
  alpn: string[];
  retransmission: boolean;
  outOfOrder: boolean;
  spurious: boolean;
  /** tls.record.length of every record tshark shows in the frame (the frame completing each). */
  recordLengths: number[];
  /** tls.handshake.ciphersuite: the ServerHello's chosen suite (and a ClientHello's offered list). */
  cipherSuites: number[];
}

/** One TCP connection as tshark's `tcp.stream` index groups it. */
export interface TsharkConn {
  stream: number;
  /** The side that sent the SYN (or, without one, the ClientHello; else the first frame's sender). */
  client: string;
  server: string;
  /** The capture file it came from. */
  file: string;
  /** In file order. */
  frames: TsharkFrame[];
}

/**
 * "1763916244.123456789" → 1763916244123456: whole µs, truncated, computed from the decimal text.
 * Exact: µs since the epoch stay far below 2^53.
 */
export function epochToUs(text: string): number {
  const m = /^(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (m === null) throw new Error(`unexpected frame.time_epoch ${JSON.stringify(text)}`);
  const us = BigInt(m[1]!) * 1_000_000n + BigInt((m[2] ?? '').padEnd(6, '0').slice(0, 6));
  if (us > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`frame.time_epoch ${text} is out of range`);
  return Number(us);
}

const ints = (s: string, radix = 10): number[] =>
  s === '' ? [] : s.split(',').map((x) => Number.parseInt(x.replace(/^0x/i, ''), x.startsWith('0x') ? 16 : radix));
const strs = (s: string): string[] => (s === '' ? [] : s.split(','));

function endpoint(ip4: string, ip6: string, port: string): string {
  // With tunnelling a field can repeat (outer, inner); the transport belongs to the innermost.
  const v6 = strs(ip6).at(-1);
  if (v6 !== undefined) return `[${v6}]:${port}`;
  return `${strs(ip4).at(-1) ?? '?'}:${port}`;
}

function parseLine(line: string): TsharkFrame | null {
  const c = line.split('\t');
  if (c.length < FIELDS.length) throw new Error(`tshark line with ${c.length} fields, wanted ${FIELDS.length}: ${line}`);
  const [no, epoch, ip4s, ip6s, sport, ip4d, ip6d, dport, flags, len, seq, ack, stream, hs, ct, ot, rnd, hv, sv, ext, sni, alpn, rtx, ooo, spur, rlen, cs] = c as [
    string, string, string, string, string, string, string, string, string, string, string, string, string, string, string, string,
    string, string, string, string, string, string, string, string, string, string, string,
  ];
  if (sport === '' || stream === '') return null; // not TCP
  return {
    no: Number(no),
    epoch,
    tsUs: epochToUs(epoch),
    src: endpoint(ip4s, ip6s, sport),
    dst: endpoint(ip4d, ip6d, dport),
    flags: Number.parseInt(flags, 16),
    len: Number(len || '0'),
    seqRaw: Number(seq || '0'),
    ackRaw: Number(ack || '0'),
    stream: Number(stream),
    hsTypes: ints(hs),
    contentTypes: ints(ct),
    opaqueTypes: ints(ot),
    randoms: strs(rnd).map((r) => r.toLowerCase()),
    hsVersions: ints(hv),
    supportedVersions: ints(sv),
    extensionTypes: ints(ext),
    sni: sni === '' ? null : sni,
    alpn: strs(alpn),
    retransmission: rtx !== '',
    outOfOrder: ooo !== '',
    spurious: spur !== '',
    recordLengths: ints(rlen),
    cipherSuites: ints(cs, 16),
  };
}

/**
 * A personal configuration directory that does not exist (inside the checkout, so nobody else can
 * create it): tshark then reads no user preferences and, only reading, creates nothing.
 */
const configDir = join(import.meta.dirname, '../fixtures/no-wireshark-config');
const frameCache = new Map<string, TsharkFrame[]>();

/**
 * The server's TLS key log the generator keeps for a capture (`captures/tls/X.pcap` →
 * `captures/keys/X.keys`, NSS key log format), or null: with it tshark decrypts the handshake and
 * shows the client's Finished itself.
 */
export function keylogOf(file: string): string | null {
  const k = join(dirname(file), '..', 'keys', basename(file).replace(/\.pcap(ng)?$/, '.keys'));
  return k.endsWith('.keys') && existsSync(k) ? k : null;
}

/** Runs tshark once over `file` (memoised per process) and returns its TCP frames in file order. */
export function tsharkFrames(file: string): TsharkFrame[] {
  const hit = frameCache.get(file);
  if (hit !== undefined) return hit;
  // No personal configuration: the user's Wireshark preferences must not change what the tests see.
  const args = [
    '-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=a', '-E', 'aggregator=,', '-E', 'header=n',
    '-o', 'tcp.desegment_tcp_streams:TRUE', '-o', 'tls.desegment_ssl_records:TRUE', '-o', 'tcp.analyze_sequence_numbers:TRUE',
    ...(keylogOf(file) !== null ? ['-o', `tls.keylog_file:${keylogOf(file)}`] : []),
    ...FIELDS.flatMap((f) => ['-e', f]),
  ];
  const r = spawnSync(TSHARK, args, {
    encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, WIRESHARK_CONFIG_DIR: configDir },
  });
  if (r.error) throw new Error(`${TSHARK}: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${TSHARK} -r ${file} exited ${r.status}: ${r.stderr}`);
  const frames: TsharkFrame[] = [];
  for (const line of r.stdout.split('\n')) {
    if (line === '') continue;
    const f = parseLine(line);
    if (f !== null) frames.push(f);
  }
  frameCache.set(file, frames);
  return frames;
}

/** tshark's TCP connections in `file`, by tcp.stream, in order of first frame. */
export function tsharkConnections(file: string): TsharkConn[] {
  const by = new Map<number, TsharkFrame[]>();
  for (const f of tsharkFrames(file)) {
    let l = by.get(f.stream);
    if (l === undefined) by.set(f.stream, (l = []));
    l.push(f);
  }
  const conns: TsharkConn[] = [];
  for (const [stream, frames] of by) {
    const syn = frames.find((f) => (f.flags & (TH_SYN | TH_ACK)) === TH_SYN);
    const synAck = frames.find((f) => (f.flags & (TH_SYN | TH_ACK)) === (TH_SYN | TH_ACK));
    const ch = frames.find((f) => f.hsTypes.includes(HS_CLIENT_HELLO));
    const client = syn?.src ?? synAck?.dst ?? ch?.src ?? frames[0]!.src;
    const server = syn?.dst ?? synAck?.src ?? ch?.dst ?? frames[0]!.dst;
    conns.push({ stream, client, server, file, frames });
  }
  return conns;
}

/** Signed distance a - b in 32-bit sequence space (RFC 9293 §3.4). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** True for a frame carrying an HRR (a ServerHello whose random is the HRR value). */
export function isHrrFrame(f: TsharkFrame): boolean {
  return f.hsTypes.includes(HS_SERVER_HELLO) && f.randoms.includes(HRR_RANDOM);
}

/** True for a frame carrying a ServerHello that is not an HRR. */
export function isServerHelloFrame(f: TsharkFrame): boolean {
  if (!f.hsTypes.includes(HS_SERVER_HELLO)) return false;
  // One ServerHello random per ServerHello message in the frame; an HRR + ServerHello pair
  // in one frame would list both.
  return f.randoms.some((r) => r !== HRR_RANDOM) || f.randoms.length === 0;
}
