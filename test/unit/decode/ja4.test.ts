/**
 * JA4 fingerprint tests (spec: FoxIO-LLC/ja4 `technical_details/JA4.md`, commit 0e54bc8).
 *
 * Every expected fingerprint was derived by hand from the spec, never by running `ja4()`: the
 * sorted lists below were written out by hand and checked with
 *   printf '%s' '<list>' | tr , '\n' | sort | paste -sd, -
 * and each hash is the first 12 hex characters of
 *   printf '%s' '<string>' | sha256sum
 * ClientHellos are built as raw handshake bodies and go through `decodeClientHello`, so the
 * decoder's GREASE, ALPN and signature-algorithm handling is exercised too.
 */
import { describe, expect, it } from 'vitest';
import { ja4, ja4OfScan, ja4Raw } from '../../../src/decode/ja4.js';
import { clientHelloInfo, decodeClientHello, scanClientHello, type ClientHelloInfo } from '../../../src/decode/tls-hello.js';

// ---- ClientHello builder (RFC 8446 §4.1.2 layout, also valid for RFC 5246 §7.4.1.2) ----------

type Ext = [type: number, body: number[]];

const u16 = (v: number): number[] => [v >> 8, v & 0xff];
const vec8 = (b: number[]): number[] => [b.length, ...b];
const vec16 = (b: number[]): number[] => [...u16(b.length), ...b];
const bytes = (s: string | number[]): number[] =>
  typeof s === 'string' ? [...Buffer.from(s, 'latin1')] : s;
const zeros = (n: number): number[] => new Array<number>(n).fill(0);

/** RFC 6066 §3: ServerNameList with one host_name. */
const sni = (host: string): Ext => [0x0000, vec16([0, ...vec16(bytes(host))])];
/** RFC 7301 §3.1: ProtocolNameList; a number[] entry gives raw bytes. */
const alpn = (...protos: (string | number[])[]): Ext => [0x0010, vec16(protos.flatMap((p) => vec8(bytes(p))))];
/** RFC 8446 §4.2.1 (ClientHello form: u8-length list). */
const supportedVersions = (...v: number[]): Ext => [0x002b, vec8(v.flatMap(u16))];
/** RFC 8446 §4.2.3. */
const sigAlgs = (...v: number[]): Ext => [0x000d, vec16(v.flatMap(u16))];
/** RFC 8446 §4.2.7 (RFC 4492 "elliptic_curves" before). */
const groups = (...v: number[]): Ext => [0x000a, vec16(v.flatMap(u16))];
/** RFC 8446 §4.2.8: KeyShareEntry { group, key_exchange<1..2^16-1> }, key bytes zero-filled. */
const keyShare = (...entries: [group: number, keyLen: number][]): Ext => [
  0x0033,
  vec16(entries.flatMap(([g, n]) => [...u16(g), ...vec16(zeros(n))])),
];
/** RFC 8422 §5.1.2. */
const ecPointFormats = (...f: number[]): Ext => [0x000b, vec8(f)];
const empty = (type: number): Ext => [type, []];

interface HelloParts {
  legacyVersion?: number;
  ciphers: number[];
  /** Omitted: no extensions block at all (RFC 5246 §7.4.1.2 allows that). */
  extensions?: Ext[];
}

/** Handshake body: the bytes after the 4-byte handshake header. */
function helloBody(p: HelloParts): Uint8Array {
  const out = [
    ...u16(p.legacyVersion ?? 0x0303),
    ...new Array<number>(32).fill(0x5a), // random
    ...vec8(new Array<number>(32).fill(0xa5)), // legacy_session_id
    ...vec16(p.ciphers.flatMap(u16)),
    ...vec8([0]), // legacy_compression_methods: null
  ];
  if (p.extensions !== undefined) {
    out.push(...vec16(p.extensions.flatMap(([t, body]) => [...u16(t), ...vec16(body)])));
  }
  return Uint8Array.from(out);
}

function hello(p: HelloParts): ClientHelloInfo {
  const buf = helloBody(p);
  const ch = decodeClientHello(buf, 0, buf.length);
  if (ch === null) throw new Error('builder produced an undecodable ClientHello');
  return ch;
}

// ---- Shared realistic parts -------------------------------------------------------------------

/** Chrome's 15 cipher suites in wire order (spec §Cipher hash example). */
const CHROME_CIPHERS = [
  0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d,
  0x002f, 0x0035,
];
/** Chrome's signature_algorithms (spec §Extension hash example). */
const CHROME_SIGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

/** OpenSSL 1.1.1 / 3.x default TLS 1.2 cipher list (tail of DEFAULT), SCSV last. */
const OPENSSL_TLS12_CIPHERS = [
  0xc02c, 0xc030, 0x009f, 0xcca9, 0xcca8, 0xccaa, 0xc02b, 0xc02f, 0x009e, 0xc024, 0xc028, 0x006b, 0xc023,
  0xc027, 0x0067, 0xc00a, 0xc014, 0x0039, 0xc009, 0xc013, 0x0033, 0x009d, 0x009c, 0x003d, 0x003c, 0x0035,
  0x002f, 0x00ff,
];

// ---- Spec cross-checks --------------------------------------------------------------------------

/**
 * The Chrome ClientHello from the spec (`technical_details/JA4.md`, sections "Example" and
 * "Raw Output"): ciphers and extensions in the published JA4_ro wire order, with the GREASE values
 * Chrome really sends added (0x0a0a-style cipher, first/last extensions, version, group, key share).
 */
function specChromeHello(sigs: Ext = sigAlgs(...CHROME_SIGS)): ClientHelloInfo {
  return hello({
    ciphers: [0x0a0a, ...CHROME_CIPHERS],
    extensions: [
      empty(0x0a0a), // GREASE
      [0x001b, vec8(u16(0x0002))], // compress_certificate: brotli (RFC 8879)
      sni('clientservices.googleapis.com'),
      keyShare([0x0a0a, 1], [0x001d, 32]),
      alpn('h2', 'http/1.1'),
      [0x4469, vec16(vec8(bytes('h2')))], // application_settings (ALPS)
      empty(0x0017), // extended_master_secret
      [0x002d, vec8([1])], // psk_key_exchange_modes: psk_dhe_ke
      sigs,
      [0x0005, [1, 0, 0, 0, 0]], // status_request: ocsp
      empty(0x0023), // session_ticket
      empty(0x0012), // signed_certificate_timestamp
      supportedVersions(0x7a7a, 0x0304, 0x0303),
      [0xff01, [0]], // renegotiation_info
      ecPointFormats(0),
      groups(0x0a0a, 0x001d, 0x0017, 0x0018),
      [0x0015, zeros(40)], // padding
      [0x1a1a, [0]], // GREASE
    ],
  });
}

describe('ja4: spec examples', () => {
  it('reproduces the published Chrome fingerprint and raw form', () => {
    // Published in JA4.md "Example" / "Raw Output" and in python/README.md:
    //   JA4   = t13d1516h2_8daaf6152771_e5627efa2ab1
    //   JA4_r = t13d1516h2_<sorted ciphers>_<sorted exts>_<sigs> (below)
    // Both hashes re-derived with sha256sum:
    //   '002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9' -> 8daaf6152771
    //   '0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601'
    //     -> e5627efa2ab1
    const ch = specChromeHello();
    expect(ch.cipherSuites[0]).toBe(0x0a0a); // GREASE reached the fingerprinter
    expect(ja4(ch)).toBe('t13d1516h2_8daaf6152771_e5627efa2ab1');
    expect(ja4Raw(ch)).toBe(
      't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_' +
        '0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,0804,0401,0503,0805,0501,0806,0601',
    );
  });

  it('reproduces the published no-signature-algorithms hash (empty signature_algorithms list)', () => {
    // JA4.md: "If there are no signature algorithms in the hello packet, then the string ends
    // without an underscore": '0005,000a,…,4469,ff01' = 6d807ffa2a79 (re-derived with sha256sum).
    // The spec's list still contains 000d, so this is the extension present with an empty list.
    const ch = specChromeHello(sigAlgs());
    expect(ja4(ch)).toBe('t13d1516h2_8daaf6152771_6d807ffa2a79');
    expect(ja4Raw(ch).endsWith('0033,4469,ff01')).toBe(true);
  });
});

// ---- Realistic ClientHellos --------------------------------------------------------------------

describe('ja4: realistic ClientHellos', () => {
  it('TLS 1.3, SNI, ALPN h2, GREASE everywhere, ECH + X25519MLKEM768 (Chrome 131 style)', () => {
    // ciphers: 15 non-GREASE, same set as the spec -> b = 8daaf6152771
    // extensions (18 on the wire, 16 non-GREASE, shuffled as Chrome does) -> "16"
    // sorted exts without 0000/0010:
    //   0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01
    // sigs (wire order): 0403,0804,0401,0503,0805,0501,0806,0601
    // sha256('0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601')
    //   -> d8a2da3f94cd
    const ch = hello({
      ciphers: [0xdada, ...CHROME_CIPHERS],
      extensions: [
        empty(0x2a2a),
        alpn('h2', 'http/1.1'),
        keyShare([0x2a2a, 1], [0x11ec, 1216], [0x001d, 32]),
        [0xfe0d, [0, ...u16(0x0001), ...u16(0x0001), 0x42, ...vec16(zeros(32)), ...vec16(zeros(144))]], // ECH GREASE
        ecPointFormats(0),
        sni('www.example.com'),
        [0x44cd, vec16(vec8(bytes('h2')))], // application_settings (new codepoint)
        empty(0x0017),
        [0x002d, vec8([1])],
        empty(0x0023),
        sigAlgs(...CHROME_SIGS),
        empty(0x0012),
        [0xff01, [0]],
        [0x001b, vec8(u16(0x0002))],
        [0x0005, [1, 0, 0, 0, 0]],
        groups(0x2a2a, 0x11ec, 0x001d, 0x0017, 0x0018),
        supportedVersions(0x5a5a, 0x0304, 0x0303),
        [0xeaea, [0]],
      ],
    });
    expect(ja4(ch)).toBe('t13d1516h2_8daaf6152771_d8a2da3f94cd');
    expect(ja4Raw(ch)).toBe(
      't13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,cca9_' +
        '0005,000a,000b,000d,0012,0017,001b,0023,002b,002d,0033,44cd,fe0d,ff01_0403,0804,0401,0503,0805,0501,0806,0601',
    );
  });

  it('TLS 1.2 client, no supported_versions, no SNI (IP literal), ALPN http/1.1', () => {
    // version: no 0x002b -> legacy 0x0303 -> "12"; no 0x0000 -> "i"; 28 ciphers; 7 exts; "h1"
    // sorted ciphers (28):
    //   002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,c009,c00a,c013,c014,
    //   c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa -> d943125447b4
    // sorted exts without 0010: 000a,000b,000d,0016,0017,0023
    // sigs: 0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0203,0301,0201,0302,0202,0402,0502,0602
    // sha256('000a,000b,000d,0016,0017,0023_0403,…,0602') -> 3c5a66c06c35
    const ch = hello({
      legacyVersion: 0x0303,
      ciphers: OPENSSL_TLS12_CIPHERS,
      extensions: [
        ecPointFormats(0, 1, 2),
        groups(0x001d, 0x0017, 0x001e, 0x0019, 0x0018),
        empty(0x0023),
        alpn('http/1.1'),
        empty(0x0016), // encrypt_then_mac
        empty(0x0017),
        sigAlgs(
          0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806, 0x0401,
          0x0501, 0x0601, 0x0303, 0x0203, 0x0301, 0x0201, 0x0302, 0x0202, 0x0402, 0x0502, 0x0602,
        ),
      ],
    });
    expect(ja4(ch)).toBe('t12i2807h1_d943125447b4_3c5a66c06c35');
    expect(ja4Raw(ch)).toBe(
      't12i2807h1_002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,c009,c00a,c013,c014,' +
        'c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa_000a,000b,000d,0016,0017,0023_' +
        '0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0203,0301,0201,0302,0202,0402,0502,0602',
    );
  });

  it('TLS 1.3 without ALPN (OpenSSL 3 s_client style) -> "00"', () => {
    // 31 ciphers (3 TLS 1.3 + the 28 above); 10 exts, SNI present; no ALPN -> "00"
    // sorted ciphers:
    //   002f,0033,0035,0039,003c,003d,0067,006b,009c,009d,009e,009f,00ff,1301,1302,1303,c009,c00a,
    //   c013,c014,c023,c024,c027,c028,c02b,c02c,c02f,c030,cca8,cca9,ccaa -> e8f1e7e78f70
    // sorted exts without 0000: 000a,000b,000d,0016,0017,0023,002b,002d,0033
    // sigs: 0403,0503,0603,0807,0808,0809,080a,080b,0804,0805,0806,0401,0501,0601,0303,0301,0302,0402,0502,0602
    // sha256('000a,000b,000d,0016,0017,0023,002b,002d,0033_0403,…,0602') -> 1f22a2ca17c4
    const ch = hello({
      ciphers: [0x1302, 0x1303, 0x1301, ...OPENSSL_TLS12_CIPHERS],
      extensions: [
        sni('example.org'),
        ecPointFormats(0, 1, 2),
        groups(0x001d, 0x0017, 0x001e, 0x0019, 0x0018),
        empty(0x0023),
        empty(0x0016),
        empty(0x0017),
        sigAlgs(
          0x0403, 0x0503, 0x0603, 0x0807, 0x0808, 0x0809, 0x080a, 0x080b, 0x0804, 0x0805, 0x0806, 0x0401,
          0x0501, 0x0601, 0x0303, 0x0301, 0x0302, 0x0402, 0x0502, 0x0602,
        ),
        supportedVersions(0x0304, 0x0303),
        [0x002d, vec8([1])],
        keyShare([0x001d, 32]),
      ],
    });
    expect(ja4(ch)).toBe('t13d311000_e8f1e7e78f70_1f22a2ca17c4');
  });

  it('no extensions block at all (ciphers only, TLS 1.0, SCSV counted)', () => {
    // legacy 0x0301 -> "10"; 12 ciphers incl. 00ff SCSV; 0 exts; no ALPN
    // sorted: 0004,0005,000a,0013,0016,002f,0032,0033,0035,0038,0039,00ff -> a53a8155954a
    // no extensions and no sigs -> c = 000000000000 (spec: empty list is not hashed)
    const ch = hello({
      legacyVersion: 0x0301,
      ciphers: [0x0039, 0x0038, 0x0035, 0x0016, 0x0013, 0x000a, 0x0033, 0x0032, 0x002f, 0x0005, 0x0004, 0x00ff],
    });
    expect(ch.extensions).toEqual([]);
    expect(ja4(ch)).toBe('t10i120000_a53a8155954a_000000000000');
    expect(ja4Raw(ch)).toBe('t10i120000_0004,0005,000a,0013,0016,002f,0032,0033,0035,0038,0039,00ff_');
  });

  it('first ALPN value with non-alphanumeric first/last byte uses its hex form', () => {
    // first ALPN "été" in UTF-8 = c3 a9 74 c3 a9 (decoded latin1, 5 chars); 0xc3 is not
    // alphanumeric -> hex "c3a974c3a9" -> first 'c', last '9' -> "c9"
    // 10 non-GREASE ciphers; 10 non-GREASE exts (GREASE ext first); SNI present
    // sorted ciphers: 00ff,1301,1302,1303,c02b,c02c,c02f,c030,cca8,cca9 -> 61a7ad8aa9b6
    // sorted exts without 0000/0010: 000a,000b,000d,0017,0023,002b,002d,0033
    // sigs: 0503,0403,0807,0806,0805,0804,0601,0501,0401
    // sha256('000a,000b,000d,0017,0023,002b,002d,0033_0503,0403,0807,0806,0805,0804,0601,0501,0401') -> 246f55d3ac30
    const ch = hello({
      ciphers: [0x4a4a, 0x1302, 0x1301, 0x1303, 0xc02c, 0xc02b, 0xcca9, 0xc030, 0xc02f, 0xcca8, 0x00ff],
      extensions: [
        empty(0x4a4a),
        sni('xn--t-9fa.example'),
        alpn([0xc3, 0xa9, 0x74, 0xc3, 0xa9], 'h2'),
        ecPointFormats(0),
        groups(0x4a4a, 0x001d, 0x0017, 0x0018),
        empty(0x0023),
        empty(0x0017),
        sigAlgs(0x0503, 0x0403, 0x0807, 0x0806, 0x0805, 0x0804, 0x0601, 0x0501, 0x0401),
        supportedVersions(0x4a4a, 0x0304, 0x0303),
        [0x002d, vec8([1])],
        keyShare([0x4a4a, 1], [0x001d, 32]),
      ],
    });
    expect(ch.alpn[0]).toBe('\u00c3\u00a9t\u00c3\u00a9');
    expect(ja4(ch)).toBe('t13d1010c9_61a7ad8aa9b6_246f55d3ac30');
  });

  it('caps the cipher count at 99 but hashes every cipher', () => {
    // ciphers 0x0001..0x0078 (120, none GREASE; 0x000a is a real suite) plus GREASE 0x0a0a, 0xfafa
    // -> count "99"; b hashes all 120:
    //   sha256('0001,0002,…,0077,0078') -> 0f8860b09f90
    //   (list from: for i in $(seq 1 120); do printf '%04x\n' $i; done | paste -sd, -)
    // exts: 000d, 000a, 000b -> "03"; sha256('000a,000b,000d_0403,0804,0401') -> 38660d1a2b28
    const ciphers = Array.from({ length: 120 }, (_, i) => i + 1);
    const ch = hello({
      ciphers: [0x0a0a, ...ciphers.slice(0, 60), 0xfafa, ...ciphers.slice(60)],
      extensions: [sigAlgs(0x0403, 0x0804, 0x0401), groups(0x0017), ecPointFormats(0)],
    });
    expect(ja4(ch)).toBe('t12i990300_0f8860b09f90_38660d1a2b28');
    const rawB = ja4Raw(ch).split('_')[1]!;
    expect(rawB.split(',')).toHaveLength(120);
  });

  it('no signature_algorithms extension: extension list hashed without a trailing "_"', () => {
    // Android 4.x era TLS 1.0 client: legacy 0x0301, no supported_versions -> "10"; SNI -> "d";
    // 28 ciphers; 5 exts (incl. NPN 0x3374); no ALPN -> "00"
    // sorted ciphers:
    //   0004,0005,000a,0013,0016,002f,0032,0033,0035,0038,0039,00ff,c002,c003,c004,c005,c007,c008,
    //   c009,c00a,c00c,c00d,c00e,c00f,c011,c012,c013,c014 -> 2c1d8c27db2a
    // sorted exts without 0000: 000a,000b,0023,3374; no sigs -> sha256('000a,000b,0023,3374') -> 51f6d7389324
    const ch = hello({
      legacyVersion: 0x0301,
      ciphers: [
        0xc014, 0xc00a, 0x0039, 0x0038, 0xc00f, 0xc005, 0x0035, 0xc012, 0xc008, 0x0016, 0x0013, 0xc00d, 0xc003,
        0x000a, 0xc013, 0xc009, 0x0033, 0x0032, 0xc00e, 0xc004, 0x002f, 0xc011, 0xc007, 0xc00c, 0xc002, 0x0005,
        0x0004, 0x00ff,
      ],
      extensions: [
        sni('m.example.com'),
        ecPointFormats(0, 1, 2),
        groups(
          0x000e, 0x000d, 0x0019, 0x000b, 0x000c, 0x0018, 0x0009, 0x000a, 0x0016, 0x0017, 0x0008, 0x0006,
          0x0007, 0x0014, 0x0015, 0x0004, 0x0005, 0x0012, 0x0013, 0x0001, 0x0002, 0x0003, 0x000f, 0x0010, 0x0011,
        ),
        empty(0x0023),
        empty(0x3374), // next_protocol_negotiation
      ],
    });
    expect(ja4(ch)).toBe('t10d280500_2c1d8c27db2a_51f6d7389324');
    expect(ja4Raw(ch).split('_')).toHaveLength(3);
    expect(ja4Raw(ch).endsWith('_000a,000b,0023,3374')).toBe(true);
  });
});

// ---- Section a rules ----------------------------------------------------------------------------

/** Smallest hello carrying one cipher and the given extensions; section a is `t12?01NN..`. */
const tiny = (extensions: Ext[], legacyVersion = 0x0303): ClientHelloInfo =>
  hello({ legacyVersion, ciphers: [0x1301], extensions });
const partA = (ch: ClientHelloInfo, t?: 't' | 'q' | 'd'): string => ja4(ch, t).split('_')[0]!;

describe('ja4 section a', () => {
  // JA4.md "ALPN Extension Value": the spec's own byte examples, plus the single-character rule.
  it.each([
    [[0xab], 'ab'],
    [[0x20], '20'],
    [[0xab, 0xcd], 'ad'],
    [[0x20, 0x61], '21'],
    [[0x30, 0xab], '3b'],
    [[0x61, 0x20], '60'],
    [[0x30, 0x31, 0xab, 0xcd], '3d'],
    [[0x30, 0xab, 0xcd, 0x31], '01'],
    [bytes('h2'), 'h2'],
    [bytes('http/1.1'), 'h1'],
    [bytes('h3'), 'h3'],
    [bytes('a'), 'aa'], // single character is both first and last
    [bytes('Z'), 'ZZ'], // case kept
    [bytes('h2/'), '6f'], // last byte '/' (0x2f) -> hex "68322f"
  ])('first ALPN value %j -> %s', (value, code) => {
    expect(partA(tiny([alpn(value)]))).toBe(`t12i0101${code}`);
  });

  it('"00" for an empty ALPN list or an empty first value; later values are ignored', () => {
    expect(partA(tiny([[0x0010, vec16([])]]))).toBe('t12i010100');
    expect(partA(tiny([alpn('', 'h2')]))).toBe('t12i010100');
    expect(partA(tiny([alpn('h2', [0xff])]))).toBe('t12i0101h2');
  });

  it('skips an RFC 8701 GREASE ALPN identifier when picking the first value', () => {
    expect(partA(tiny([alpn([0x3a, 0x3a], 'h2')]))).toBe('t12i0101h2');
    expect(partA(tiny([alpn([0x3a, 0x3b], 'h2')]))).toBe('t12i01013b'); // not GREASE: hex rule
  });

  it('maps versions, preferring the highest non-GREASE supported_versions value', () => {
    expect(partA(tiny([], 0x0304))).toBe('t13i010000'); // legacy only (no supported_versions)
    expect(partA(tiny([], 0x0302))).toBe('t11i010000');
    expect(partA(tiny([], 0x0301))).toBe('t10i010000');
    expect(partA(tiny([], 0x0300))).toBe('ts3i010000');
    expect(partA(tiny([], 0x0002))).toBe('ts2i010000');
    expect(partA(tiny([], 0x0305))).toBe('t00i010000'); // unknown
    expect(partA(tiny([supportedVersions(0x0303, 0x0304, 0xfafa)]))).toBe('t13i010100'); // order-free max
    expect(partA(tiny([supportedVersions(0x0302, 0x0301)], 0x0301))).toBe('t11i010100');
    // Only GREASE in the list: fall back to legacy_version.
    expect(partA(tiny([supportedVersions(0x8a8a)], 0x0303))).toBe('t12i010100');
    // Numeric maximum, as written: a draft-28 TLS 1.3 value (0x7f1c) outranks 0x0304 and is unknown.
    expect(partA(tiny([supportedVersions(0x7f1c, 0x0304)]))).toBe('t00i010100');
  });

  it('DTLS versions and the transport character', () => {
    expect(partA(tiny([], 0xfeff), 'd')).toBe('dd1i010000');
    expect(partA(tiny([], 0xfefd), 'd')).toBe('dd2i010000');
    expect(partA(tiny([supportedVersions(0xfefc)], 0xfefd), 'd')).toBe('dd3i010100');
    // "Highest value" is numeric: DTLS numbers run downwards, so 1.3 + 1.2 reads as 0xfefd = "d2",
    // matching the spec text and the reference implementations.
    expect(partA(tiny([supportedVersions(0xfefc, 0xfefd)], 0xfefd), 'd')).toBe('dd2i010100');
    expect(partA(tiny([supportedVersions(0x0304)]), 'q')).toBe('q13i010100');
    expect(partA(tiny([]))).toBe('t12i010000'); // default transport is TCP
  });

  it('SNI marker follows the extension, not the parsed name', () => {
    expect(partA(tiny([sni('example.com')]))).toBe('t12d010100');
    expect(partA(tiny([[0x0000, []]]))).toBe('t12d010100'); // server_name present but with no name in it
  });

  it('caps the extension count at 99 and counts SNI, ALPN and duplicates', () => {
    const many = Array.from({ length: 120 }, (_, i): Ext => empty(0xff00 - i));
    expect(partA(tiny(many))).toBe('t12i019900');
    const ch = hello({ ciphers: [0x002f, 0x002f, 0x1a1a], extensions: [empty(0x0017), empty(0x0017)] });
    expect(ja4Raw(ch)).toBe('t12i020200_002f,002f_0017,0017');
  });
});

// ---- Sections b and c rules ---------------------------------------------------------------------

describe('ja4 sections b and c', () => {
  it('empty cipher and extension lists give 000000000000', () => {
    const ch = hello({ ciphers: [0x2a2a], extensions: [empty(0x2a2a)] }); // GREASE only
    expect(ja4(ch)).toBe('t12i000000_000000000000_000000000000');
    expect(ja4Raw(ch)).toBe('t12i000000__');
  });

  it('SNI and ALPN alone are counted but leave c empty', () => {
    // c list after removing 0000 and 0010 is empty, no sigs -> 000000000000
    // b: sha256('1301') -> 0f2cb44170f4
    const ch = tiny([sni('a.example'), alpn('h2')]);
    expect(ja4(ch)).toBe('t12d0102h2_0f2cb44170f4_000000000000');
  });

  it('is insensitive to cipher and extension order (Chrome permutes extensions)', () => {
    const a = specChromeHello();
    const b = hello({
      ciphers: [...CHROME_CIPHERS].reverse(),
      extensions: [
        [0x0015, zeros(3)],
        groups(0x001d, 0x0017, 0x0018),
        ecPointFormats(0),
        [0xff01, [0]],
        supportedVersions(0x0304, 0x0303),
        empty(0x0012),
        empty(0x0023),
        [0x0005, [1, 0, 0, 0, 0]],
        sigAlgs(...CHROME_SIGS),
        [0x002d, vec8([1])],
        empty(0x0017),
        [0x4469, vec16(vec8(bytes('h2')))],
        alpn('h2'),
        keyShare([0x001d, 32]),
        sni('www.google.com'),
        [0x001b, vec8(u16(0x0002))],
      ],
    });
    expect(ja4(b)).toBe(ja4(a));
  });

  it('keeps signature algorithms in wire order and drops GREASE ones', () => {
    const base = tiny([sigAlgs(0x0403, 0x0804)]);
    expect(ja4Raw(base)).toBe('t12i010100_1301_000d_0403,0804');
    expect(ja4Raw(tiny([sigAlgs(0x0804, 0x0403)]))).toBe('t12i010100_1301_000d_0804,0403');
    expect(ja4(tiny([sigAlgs(0x0804, 0x0403)]))).not.toBe(ja4(base));
    expect(ja4(tiny([sigAlgs(0x0a0a, 0x0403, 0x0804)]))).toBe(ja4(base));
  });

  it('section b/c hashes are 12 lowercase hex characters', () => {
    expect(ja4(specChromeHello())).toMatch(/^[tqd][0-9a-z]{2}[di]\d{4}[0-9A-Za-z]{2}_[0-9a-f]{12}_[0-9a-f]{12}$/);
  });
});

describe('ja4 memo (issue 13: numeric key, hashed, compared in full)', () => {
  it('gives every hello its own fingerprint however many were fingerprinted before', () => {
    // Variants that differ only in where a value sits between two lists, or in one ALPN byte:
    // a key that did not record list lengths would mix these up.
    const variants = [
      hello({ ciphers: [0x1301, 0x1302], extensions: [sigAlgs(0x0403)] }),
      hello({ ciphers: [0x1301], extensions: [sigAlgs(0x0403)] }),
      hello({ ciphers: [0x1301], extensions: [sigAlgs(0x1302, 0x0403)] }),
      hello({ ciphers: [0x1301], extensions: [alpn('h2')] }),
      hello({ ciphers: [0x1301], extensions: [alpn('h3')] }),
      hello({ ciphers: [0x1301], extensions: [alpn('h2', 'x')] }),
      hello({ ciphers: [0x1301], extensions: [alpn('h2x')] }),
      hello({ legacyVersion: 0x0301, ciphers: [0x1301], extensions: [alpn('h2')] }),
    ];
    const first = variants.map((ch) => ja4Raw(ch));
    // Enough other hellos to fill the memo and wrap it (MEMO_MAX 4096).
    for (let i = 0; i < 5000; i++) {
      const ch = hello({ ciphers: [0x1301, 0x0a00 + (i & 0xff), 0x1000 + (i >> 8)] });
      if (i % 997 === 0) expect(ja4(ch)).toBe(ja4(hello({ ciphers: [0x1301, 0x0a00 + (i & 0xff), 0x1000 + (i >> 8)] })));
      ja4(ch);
      if (i % 500 === 0) {
        for (let k = 0; k < variants.length; k++) {
          expect(ja4(variants[k]!, 't')).toBe(ja4(variants[k]!));
          expect(ja4(variants[k]!).split('_')[0]).toBe(first[k]!.split('_')[0]);
        }
      }
    }
    const fps = variants.map((ch) => ja4(ch));
    expect(new Set(fps.slice(0, 3)).size).toBe(3);
    expect(fps[3]).not.toBe(fps[4]); // ja4_a ends with the ALPN's first and last character: h2 vs h3
    expect(ja4(variants[3]!, 'q')).not.toBe(fps[3]); // the transport is part of the key
    expect(ja4(variants[3]!, 'q').startsWith('q')).toBe(true);
  });
});

describe('scanClientHello and ja4OfScan (issue 13: the tracker keeps no hello)', () => {
  it('give what decodeClientHello and ja4 give, hello after hello', () => {
    const bodies = [
      helloBody({ ciphers: [0x1301, 0x1302], extensions: [sni('a.example'), alpn('h2', 'http/1.1'), sigAlgs(0x0403)] }),
      helloBody({ ciphers: [0x0a0a, 0x1301], extensions: [supportedVersions(0x0a0a, 0x0304), keyShare([0x001d, 32])] }),
      helloBody({ ciphers: [0x1301] }),
      helloBody({ legacyVersion: 0x0301, ciphers: [0x002f, 0x0035], extensions: [alpn('h3')] }),
    ];
    for (let round = 0; round < 2; round++) {
      for (const b of bodies) {
        const ch = decodeClientHello(b, 0, b.length)!;
        const expected = ja4(ch);
        const x = scanClientHello(b, 0, b.length)!;
        expect(clientHelloInfo(x)).toEqual(ch);
        expect(ja4OfScan(x)).toBe(expected);
        expect(ja4OfScan(scanClientHello(b, 0, b.length)!, 'q')).toBe(ja4(ch, 'q'));
      }
    }
    expect(scanClientHello(bodies[0]!, 0, 20)).toBeNull();
  });
});

describe('SNI and ALPN names (issue 13: recent names cached by their bytes)', () => {
  it('decode to their own bytes whatever was decoded before (cache collisions included)', () => {
    let seed = 7;
    const rnd = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n; };
    const names: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const len = 1 + rnd(i % 10 === 0 ? 90 : 12);
      let s = '';
      for (let j = 0; j < len; j++) s += String.fromCharCode(i % 7 === 0 ? rnd(256) : 97 + rnd(4));
      names.push(s);
    }
    for (const name of [...names, ...names.slice(0, 500)]) {
      const ch = hello({ ciphers: [0x1301], extensions: [sni(name), alpn(name, 'h2')] });
      expect(ch.sni).toBe(name);
      expect(ch.alpn).toEqual([name, 'h2']);
    }
  });
});
