/**
 * Capture container and link-layer variants: a real capture rewritten byte by byte into every
 * format the source stage accepts (classic pcap in both byte orders and resolutions, pcapng with
 * several resolutions, offsets, interfaces, sections and skipped block types, gzip, stdin) and
 * every link type the decoder accepts must yield the records of the original.
 *
 * The originals are µs captures, so a µs or finer variant keeps the timeline identical; the
 * variant helper rounds non-decimal resolutions up from the µs value so reading back is exact.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { analyzeCaptures, type FlowRecord } from '../../../src/index.js';
import { CAPTURES, CLI, runCli } from '../../helpers/cli.js';
import {
  LINK_REWRITES, LT_ETHERNET, LT_RAW, LT_SLL, LT_SLL2, PcapngWriter, carriesIp, ethPayload, privateTempDir,
  readCapture, rewriteLink, sll2Frame, sllFrame, writePcap, type Capture, type LinkRewrite, type Packet,
} from '../../helpers/capture-variants.js';

const ORIG = join(CAPTURES, 'network-delay.pcap');
const ORIG_NS = join(CAPTURES, 'network-delay-ns.pcapng');

let dir: string;
let base: Capture;
let expected: FlowRecord[];
let fileNo = 0;

beforeAll(async () => {
  dir = privateTempDir();
  base = readCapture(ORIG);
  expected = (await analyzeCaptures([ORIG])).records;
  expect(expected.length).toBe(3);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function put(name: string, data: Uint8Array): string {
  const f = join(dir, `${fileNo++}-${name}`);
  writeFileSync(f, data, { mode: 0o600 });
  return f;
}

async function analyzeBytes(name: string, data: Uint8Array) {
  const r = await analyzeCaptures([put(name, data)]);
  return { records: r.records, read: r.reads[0]!, anomalies: r.analyzer.anomalies };
}

/** Ticks are exact for ns-or-finer decimal resolutions; a single IDB per section here. */
function pcapng(cap: Capture, opts: { bigEndian?: boolean; tsresol?: number; tsoffset?: bigint } = {}): Buffer {
  const w = new PcapngWriter({ bigEndian: opts.bigEndian }).shb()
    .idb({ linkType: cap.linkType, snaplen: cap.snaplen, tsresol: opts.tsresol, tsoffset: opts.tsoffset });
  for (const p of cap.packets) w.epb(0, p);
  return w.toBuffer();
}

describe('temp dir', () => {
  it('is private (0700)', () => {
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  });
});

describe('container variants of network-delay.pcap give identical records', () => {
  const variants: [name: string, build: () => Uint8Array, format: 'pcap' | 'pcapng', gzip: boolean][] = [
    ['classic pcap, big-endian, µs', () => writePcap(base, { bigEndian: true }), 'pcap', false],
    ['classic pcap, little-endian, ns', () => writePcap(base, { nano: true }), 'pcap', false],
    ['classic pcap, big-endian, ns', () => writePcap(base, { bigEndian: true, nano: true }), 'pcap', false],
    ['pcapng LE, default resolution (µs, no if_tsresol)', () => pcapng(base), 'pcapng', false],
    ['pcapng LE, if_tsresol 6 (µs)', () => pcapng(base, { tsresol: 6 }), 'pcapng', false],
    ['pcapng LE, if_tsresol 9 (ns)', () => pcapng(base, { tsresol: 9 }), 'pcapng', false],
    ['pcapng BE, if_tsresol 9 (ns)', () => pcapng(base, { bigEndian: true, tsresol: 9 }), 'pcapng', false],
    ['pcapng BE, µs', () => pcapng(base, { bigEndian: true }), 'pcapng', false],
    ['pcapng, if_tsresol 7 (100 ns)', () => pcapng(base, { tsresol: 7 }), 'pcapng', false],
    ['pcapng, if_tsresol 10 (64-bit tick count near its limit: exact BigInt path)', () => pcapng(base, { tsresol: 10 }), 'pcapng', false],
    ['pcapng, if_tsresol 12 (ps) with if_tsoffset', () => pcapng(base, { tsresol: 12, tsoffset: 1_795_000_000n }), 'pcapng', false],
    ['pcapng, binary if_tsresol 2^-20', () => pcapng(base, { tsresol: 0x80 | 20 }), 'pcapng', false],
    ['pcapng, binary if_tsresol 2^-30 with if_tsoffset (tick count < 2^53)', () => pcapng(base, { tsresol: 0x80 | 30, tsoffset: 1_795_000_000n }), 'pcapng', false],
    ['pcapng, positive if_tsoffset (µs)', () => pcapng(base, { tsoffset: 1_700_000_000n }), 'pcapng', false],
    ['pcapng, positive if_tsoffset (ns)', () => pcapng(base, { tsresol: 9, tsoffset: 1_795_452_263n }), 'pcapng', false],
    ['pcapng, negative if_tsoffset', () => pcapng(base, { tsoffset: -86_400n }), 'pcapng', false],
    ['pcapng BE, if_tsoffset', () => pcapng(base, { bigEndian: true, tsresol: 9, tsoffset: 1_000_000_000n }), 'pcapng', false],
    ['obsolete packet blocks (OPB) mixed with EPBs', () => {
      const w = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET, tsresol: 9 });
      base.packets.forEach((p, i) => (i % 2 ? w.opb(0, p) : w.epb(0, p)));
      return w.toBuffer();
    }, 'pcapng', false],
    ['NRB, ISB, custom and unknown blocks interleaved (skipped)', () => {
      const w = new PcapngWriter().shb().custom(true).nrb().idb({ linkType: LT_ETHERNET }).isb(0);
      base.packets.forEach((p, i) => {
        if (i % 5 === 0) w.nrb();
        if (i % 7 === 0) w.isb(0);
        if (i % 3 === 0) w.custom(i % 2 === 0);
        if (i % 11 === 0) w.block(0x12345678, Buffer.from('unknown block type'));
        if (i % 13 === 0) w.block(0x0000_0009, new Uint8Array(0)); // Journal Export Block, empty
        w.epb(0, p, i % 4 === 0 ? [{ code: 1, value: Buffer.from('opt_comment') }, { code: 2, value: Uint8Array.of(0, 0, 0, 1) }] : []);
      });
      return w.isb(0).custom(false).toBuffer();
    }, 'pcapng', false],
    ['two sections, the second big-endian with its own IDB', () => {
      const half = base.packets.length >> 1;
      const a = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET, tsresol: 9 });
      base.packets.slice(0, half).forEach((p) => a.epb(0, p));
      const b = new PcapngWriter({ bigEndian: true }).shb().idb({ linkType: LT_ETHERNET, tsoffset: 1_000n });
      base.packets.slice(half).forEach((p) => b.epb(0, p));
      return Buffer.concat([a.toBuffer(), b.toBuffer()]);
    }, 'pcapng', false],
    ['gzip of classic pcap', () => gzipSync(writePcap(base)), 'pcap', true],
    ['gzip of big-endian ns pcap', () => gzipSync(writePcap(base, { bigEndian: true, nano: true })), 'pcap', true],
    ['gzip of pcapng ns', () => gzipSync(pcapng(base, { tsresol: 9 })), 'pcapng', true],
    ['gzip in two members (concatenated)', () => {
      const raw = writePcap(base);
      return Buffer.concat([gzipSync(raw.subarray(0, 1000)), gzipSync(raw.subarray(1000))]);
    }, 'pcap', true],
  ];

  it.each(variants)('%s', async (_name, build, format, gzip) => {
    const r = await analyzeBytes('variant', build());
    expect(r.read.format).toBe(format);
    expect(r.read.gzip).toBe(gzip);
    expect(r.read.packets).toBe(base.packets.length);
    expect(r.read.warnings).toEqual([]);
    expect(r.anomalies.malformedTotal()).toBe(0);
    expect(r.records).toEqual(expected);
  });

  it('the ns pcapng original and its ns classic pcap / gzip rewrites agree', async () => {
    const nsExpected = (await analyzeCaptures([ORIG_NS])).records;
    expect(nsExpected.length).toBeGreaterThan(0);
    const cap = readCapture(ORIG_NS);
    expect(cap.packets.some((p) => p.nsec % 1000 !== 0)).toBe(true); // really ns
    for (const data of [writePcap(cap, { nano: true }), writePcap(cap, { nano: true, bigEndian: true }), gzipSync(pcapng(cap, { tsresol: 9, bigEndian: true }))]) {
      expect((await analyzeBytes('ns', data)).records).toEqual(nsExpected);
    }
    // µs containers floor the ns fraction, which is what the µs timeline does anyway.
    expect((await analyzeBytes('ns-as-us', writePcap(cap))).records).toEqual(nsExpected);
  });

  it('SPB-only file: every packet decodes; no timestamps, so the timeline collapses to the epoch', async () => {
    const w = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET });
    for (const p of base.packets) w.spb(p);
    const r = await analyzeBytes('spb', w.toBuffer());
    expect(r.read.packets).toBe(base.packets.length);
    expect(r.anomalies.malformedTotal()).toBe(0);
    expect(r.records.length).toBe(expected.length);
    r.records.forEach((rec, i) => {
      const want = expected[i]!;
      for (const k of ['client', 'server', 'sni', 'alpn', 'tls_version', 'cipher', 'ja4', 'hrr', 'resumed', 'retransmits', 'missing'] as const) {
        expect(rec[k]).toEqual(want[k]);
      }
      for (const [point, v] of Object.entries(rec.timeline)) {
        expect(v).toBe(want.timeline[point as keyof typeof want.timeline] === null ? null : 0);
      }
      expect(rec.phases_ms.total).toBe(0);
    });
  });

  it('a gzip stream cut short keeps the packets before the cut, with a warning', async () => {
    const gz = gzipSync(writePcap(base));
    const r = await analyzeBytes('cut.gz', gz.subarray(0, Math.floor(gz.length * 0.6)));
    expect(r.read.gzip).toBe(true);
    expect(r.read.packets).toBeGreaterThan(10);
    expect(r.read.packets).toBeLessThan(base.packets.length);
    expect(r.read.warnings.join('\n')).toMatch(/gzip stream ends early or is corrupt/);
  });

  it('a pcapng cut inside its last block: every earlier packet, one truncation warning with the offset', async () => {
    const full = pcapng(base, { tsresol: 9 });
    const r = await analyzeBytes('cut.pcapng', full.subarray(0, full.length - 7));
    expect(r.read.packets).toBe(base.packets.length - 1);
    const lastLen = 32 + ((base.packets.at(-1)!.data.length + 3) & ~3);
    expect(r.read.warnings).toHaveLength(1);
    expect(r.read.warnings[0]).toMatch(new RegExp(`byte ${full.length - lastLen}: truncated last record \\(${lastLen - 7} of ${lastLen} bytes\\)`));
  });

  it('SPB data is cut to the IDB snaplen and to the original length', async () => {
    const w = new PcapngWriter().shb().idb({ linkType: LT_ETHERNET, snaplen: 54 });
    // A full-size TLS segment: cut to 54 bytes (Ethernet + IPv4 + TCP without options is 54).
    const big = base.packets.find((p) => p.data.length > 300)!;
    w.spb(big);
    const r = await analyzeBytes('spb-snap', w.toBuffer());
    expect(r.read.packets).toBe(1);
    expect(r.anomalies.toObject()).toMatchObject({ truncated_tcp_header: 1 }); // 54 < 14 + 20 + 32 (timestamps option)
  });
});

describe('pcapng with two interfaces of different link types', () => {
  const second: [name: string, linkType: number, encode: (f: Uint8Array) => Uint8Array][] = [
    ['Linux SLL', LT_SLL, sllFrame],
    ['Linux SLL2', LT_SLL2, sll2Frame],
    ['raw IP (101)', LT_RAW, (f) => ethPayload(f).net],
  ];
  it.each(second)('Ethernet (µs) + %s (ns), packets alternating', async (_n, linkType, encode) => {
    const w = new PcapngWriter().shb()
      .idb({ linkType: LT_ETHERNET, snaplen: 262144 })
      .idb({ linkType, snaplen: 262144, tsresol: 9 });
    let onSecond = 0;
    base.packets.forEach((p, i) => {
      if (i % 2 === 1 && carriesIp(p.data)) {
        const d = encode(p.data);
        w.epb(1, { ...p, data: d, origLen: p.origLen + d.length - p.data.length });
        onSecond++;
      } else w.epb(0, p);
    });
    expect(onSecond).toBeGreaterThan(30);
    const r = await analyzeBytes('two-if', w.toBuffer());
    expect(r.read.packets).toBe(base.packets.length);
    expect(r.anomalies.malformedTotal()).toBe(0);
    expect(r.records).toEqual(expected);
  });
});

/** True when every TCP packet of `cap` survives the rewrite (otherwise the flows legitimately change). */
function keepsAllTcp(cap: Capture, rw: LinkRewrite): boolean {
  return cap.packets.every((p: Packet) => {
    const { ethertype, net } = ethPayload(p.data);
    const tcp = (ethertype === 0x0800 && net[9] === 6) || (ethertype === 0x86dd && net[6] === 6);
    return !tcp || rw.encode(p.data) !== null;
  });
}

describe('link-type rewrites of every packet, for every bundled pcap', () => {
  const files = readdirSync(CAPTURES).filter((f) => f.endsWith('.pcap')).sort();
  const cases: [string, string, LinkRewrite][] = [];
  for (const f of files) for (const rw of LINK_REWRITES) cases.push([f, rw.name, rw]);

  it.each(cases)('%s as %s', async (file, _name, rw) => {
    const cap = readCapture(join(CAPTURES, file));
    if (!keepsAllTcp(cap, rw)) return; // e.g. LINKTYPE_IPV4 for the IPv6 capture: nothing to compare
    const want = (await analyzeCaptures([join(CAPTURES, file)])).records;
    const rewritten = rewriteLink(cap, rw);
    const r = await analyzeBytes(`${file}-${rw.linkType}`, writePcap(rewritten));
    expect(r.anomalies.malformedTotal()).toBe(0);
    expect(r.anomalies.toObject().unsupported_link_type).toBeUndefined();
    expect(r.records).toEqual(want);
  });

  it('every rewrite applies to at least one capture', () => {
    for (const rw of LINK_REWRITES) {
      expect(files.some((f) => keepsAllTcp(readCapture(join(CAPTURES, f)), rw)), rw.name).toBe(true);
    }
  });
});

describe('stdin (-) through the CLI', () => {
  beforeAll(() => {
    expect(existsSync(CLI), `${CLI} missing: build first (npm run build)`).toBe(true);
  });

  // The CLI attributes clients (client_info: at least the /24 or /48); the library call that made
  // `expected` does not, and everything else must be the same.
  const parse = (stdout: string): FlowRecord[] => stdout.trim().split('\n').filter(Boolean).map((l) => {
    const r = JSON.parse(l) as FlowRecord;
    delete r.client_info;
    return r;
  });

  const inputs: [string, () => Uint8Array][] = [
    ['classic pcap', () => writePcap(base)],
    ['big-endian ns pcap', () => writePcap(base, { bigEndian: true, nano: true })],
    ['pcapng ns', () => pcapng(base, { tsresol: 9 })],
    ['gzip pcapng', () => gzipSync(pcapng(base))],
    ['gzip pcap', () => gzipSync(writePcap(base))],
  ];
  it.each(inputs)('%s', (_n, build) => {
    const r = runCli(['analyze', '-', '--format', 'ndjson'], { input: Buffer.from(build()) });
    expect(r.stderr).toMatch(new RegExp(`Summary: ${base.packets.length} packets, 3 TLS flows`));
    expect(r.status).toBe(0);
    expect(parse(r.stdout)).toEqual(JSON.parse(JSON.stringify(expected)));
  });

  it('input written in small irregular chunks (records straddle reads)', async () => {
    const data = Buffer.concat([pcapng(base, { tsresol: 9 })]);
    const child = spawn(process.execPath, [CLI, 'analyze', '-', '--format', 'ndjson'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { out += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { err += s; });
    const done = new Promise<number | null>((res) => child.on('close', res));
    const sizes = [1, 3, 7, 12, 29, 64, 200, 1499, 5];
    for (let off = 0, i = 0; off < data.length; i++) {
      const n = sizes[i % sizes.length]!;
      const ok = child.stdin.write(data.subarray(off, off + n));
      off += n;
      // Yield now and then so the reader sees separate chunks rather than one coalesced buffer.
      if (!ok || i % 16 === 0) await new Promise((r) => setTimeout(r, 1));
    }
    child.stdin.end();
    expect(await done).toBe(0);
    expect(err).toMatch(new RegExp(`Summary: ${base.packets.length} packets, 3 TLS flows`));
    expect(parse(out)).toEqual(JSON.parse(JSON.stringify(expected)));
  });
});
