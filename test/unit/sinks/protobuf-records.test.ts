/**
 * Record stream (src/sinks/protobuf-records.ts, proto/slowshake.proto): exact round trips for
 * every record of every bundled capture and for crafted edge cases, the delimited stream read back
 * in order, truncated and corrupt streams reported by file and byte offset with the records before
 * them kept, and the bytes cross-checked with protoc (an independent protobuf implementation).
 */
import { fc, test as propTest } from '@fast-check/vitest';
import { execFileSync } from 'node:child_process';
import { appendFileSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordToJson } from '../../../src/handshake/record-json.js';
import { PHASES } from '../../../src/handshake/phases.js';
import { TIMELINE_POINTS } from '../../../src/handshake/timeline.js';
import { analyzeCaptures, CaptureFileError, type FlowRecord } from '../../../src/index.js';
import {
  decodeRecord, encodeRecord, encodeRecordDelimited, PROTO_PATH, readRecordFile, readRecordStream, RecordDecodeError, RecordStreamWriter,
} from '../../../src/sinks/protobuf-records.js';
import { recordToMessage } from '../../../src/sinks/record-codec.js';
import { CAPTURES, ROOT, tempDir } from '../../helpers/cli.js';

let dir: string;
let captured: FlowRecord[] = [];
beforeAll(async () => {
  dir = tempDir();
  for (const f of readdirSync(CAPTURES).sort()) captured.push(...(await analyzeCaptures([join(CAPTURES, f)])).records);
});
afterAll(() => { rmSync(dir, { recursive: true, force: true }); });

/** decode(encode(r)) deep-equals r (no extra or missing keys, nulls kept) and prints the same JSON text. */
function expectRoundTrip(r: FlowRecord, keyOrder = true): FlowRecord {
  const back = decodeRecord(encodeRecord(r));
  expect(back).toStrictEqual(r);
  if (keyOrder) expect(JSON.stringify(back)).toBe(JSON.stringify(r)); // key order too (analyze --format json)
  expect(recordToJson(back)).toBe(recordToJson(r));
  return back;
}

function baseRecord(over: Partial<FlowRecord> = {}): FlowRecord {
  const timeline = {} as FlowRecord['timeline'];
  for (const p of TIMELINE_POINTS) timeline[p] = null;
  const phases = {} as FlowRecord['phases_ms'];
  for (const p of [...PHASES, 'loss', 'cwnd_stall', 'total'] as const) phases[p] = null;
  return {
    client: '192.0.2.1:50000', server: '[2001:db8::1]:443', sni: null, alpn: null, alpn_selected: null, tls_version: null,
    cipher: null, ja4: null, hrr: false, resumed: false, slow: false, cwnd_stall: false, client_cert: false, timeline, phases_ms: phases,
    retransmits: { client: 0, server: 0 }, verdict: 'incomplete', missing: [], notes: [], ...over,
  };
}

const EVENT = { cursor: 's=abc;i=1', message: 'slow TLS handshake remote_addr=192.0.2.1:50000 elapsed_ms=512', timestamp_us: 1_800_000_000_123_456, elapsed_ms: 512.25, sni: 'app.example', server: '[2001:db8::1]:443' };

describe('round trip: bundled captures', () => {
  it('every record of every capture in captures/tls', () => {
    expect(captured.length).toBeGreaterThan(30);
    const files = new Set(readdirSync(CAPTURES));
    expect(files.size).toBeGreaterThanOrEqual(14);
    for (const r of captured) {
      expectRoundTrip(r);
      // the schema has a typed field for every key of the contract: nothing rides in `extra`
      expect(recordToMessage(r).extra).toBeUndefined();
    }
  });
  it('records with an event, a pcap and spot-check fields (every optional key typed)', () => {
    for (const r of captured.slice(0, 5)) {
      const x: FlowRecord = { ...r, event: { ...EVENT }, event_elapsed_ms: 512.25, proxy_gap_ms: -3.5, pcap: '/var/lib/slowshake/a b.pcap' };
      Object.assign(x, { capture_complete: false, capture_drops: 7, reason: 'ring too short by 3.2 s' });
      expectRoundTrip(x);
      expect(recordToMessage(x).extra).toBeUndefined();
      expect(recordToMessage(x).event.key_order).toBeUndefined(); // the usual layout costs no key list
    }
  });
});

describe('round trip: crafted records', () => {
  it('issue 9: estimated (classic kernel filter) is a typed field, set only when true', () => {
    const r = baseRecord({ verdict: 'client', slow: true });
    Object.assign(r, { reason: 'x', estimated: true });
    const back = expectRoundTrip(r);
    expect(back.estimated).toBe(true);
    expect(recordToMessage(r).estimated).toBe(true);
    expect(recordToMessage(r).extra).toBeUndefined();
    // absent stays absent (not false), and a non-true value is carried, never dropped
    expect('estimated' in expectRoundTrip(baseRecord())).toBe(false);
    const odd = baseRecord();
    Object.assign(odd, { estimated: false });
    expect(expectRoundTrip(odd).estimated).toBe(false);
    expect((recordToMessage(odd).extra as { key: string }[]).map((f) => f.key)).toEqual(['estimated']);
  });
  it('issue 15: tfo (TCP Fast Open) is a typed field (31), set only when true, right after notes', async () => {
    const recs = (await analyzeCaptures([join(CAPTURES, 'tfo.pcap')])).records.filter((x) => x.tfo === true);
    expect(recs.length).toBeGreaterThan(0);
    for (const r of recs) {
      const withEvent = { ...r, event: { cursor: 'c', message: 'm' }, pcap: '/p.pcap', estimated: true } as FlowRecord;
      const back = expectRoundTrip(withEvent);
      expect(back.tfo).toBe(true);
      expect(recordToMessage(withEvent).tfo).toBe(true);
      expect(recordToMessage(withEvent).extra).toBeUndefined();
      expect(Object.keys(back).indexOf('tfo')).toBe(Object.keys(back).indexOf('notes') + 1);
    }
    const type = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true }).lookupType('slowshake.v1.FlowRecord');
    expect(type.fields.tfo?.id).toBe(31);
    expect('tfo' in expectRoundTrip(baseRecord())).toBe(false);
    const odd = baseRecord();
    Object.assign(odd, { tfo: false });
    expect(expectRoundTrip(odd, false).tfo).toBe(false);
    expect((recordToMessage(odd).extra as { key: string }[]).map((f) => f.key)).toEqual(['tfo']);
  });
  it('all nulls; null is not 0, "" or false', () => {
    expectRoundTrip(baseRecord());
    const zeros = baseRecord({ sni: '', alpn: '', alpn_selected: '', tls_version: '', cipher: '', ja4: '' });
    for (const p of TIMELINE_POINTS) zeros.timeline[p] = 0;
    for (const p of Object.keys(zeros.phases_ms) as (keyof FlowRecord['phases_ms'])[]) zeros.phases_ms[p] = 0;
    Object.assign(zeros, { pcap: '', capture_complete: false, capture_drops: 0, reason: '' });
    const back = expectRoundTrip(zeros);
    expect(back.timeline.syn).toBe(0);
    expect(back.sni).toBe('');
  });
  it('some phases null, others 0 or fractional; -0 and µs precision kept', () => {
    const r = baseRecord({ verdict: 'server', slow: true, hrr: true, resumed: true, cwnd_stall: true, retransmits: { client: 3, server: 4_000_000_000 } });
    r.phases_ms.tcp_rtt = 0;
    r.phases_ms.server_flight = 123.457;
    r.phases_ms.loss = -0;
    r.phases_ms.total = 0.001;
    r.timeline.syn = 1_800_000_000_000_000;
    r.timeline.done = 1_800_000_000_123_457;
    const back = expectRoundTrip(r);
    expect(Object.is(back.phases_ms.loss, -0)).toBe(true);
    expect(back.phases_ms.hrr_rtt).toBeNull();
  });
  it('issue 11: a stream written with the schema before client_flight_end, client_flight_xfer and client_cert decodes (null, null, false)', () => {
    // The schema as it was before those fields (git history), parsed and used to write a record.
    const oldProto = execFileSync('git', ['show', '417a720:proto/slowshake.proto'], { cwd: ROOT, encoding: 'utf8' });
    expect(oldProto).not.toContain('client_flight_end');
    const oldType = protobuf.parse(oldProto, { keepCase: true }).root.lookupType('slowshake.v1.FlowRecord');
    const r = baseRecord({ verdict: 'client', slow: true });
    r.timeline.client_finished = 1_800_000_000_100_000;
    r.timeline.done = 1_800_000_000_200_000;
    r.phases_ms.client_think = 12.5;
    r.phases_ms.server_finish = 0;
    const msg = recordToMessage(r);
    delete msg.client_cert;
    const back = decodeRecord(oldType.encode(oldType.fromObject(msg)).finish());
    expect(back.timeline.client_flight_end).toBeNull();
    expect(back.phases_ms.client_flight_xfer).toBeNull();
    expect(back.client_cert).toBe(false);
    expect(back.timeline.done).toBe(1_800_000_000_200_000);
    expect(back.phases_ms.client_think).toBe(12.5);
    // And the new fields survive a round trip.
    const n = baseRecord({ client_cert: true });
    n.timeline.client_flight_end = 1_800_000_000_150_000;
    n.phases_ms.client_flight_xfer = 49.999;
    expectRoundTrip(n);
  });
  it('large µs timestamps exactly: 1.8e15, 2^53 - 1', () => {
    const r = baseRecord();
    r.timeline.syn = 1.8e15;
    r.timeline.ack = 1_800_000_000_000_001;
    r.timeline.done = Number.MAX_SAFE_INTEGER;
    const back = expectRoundTrip(r);
    expect(back.timeline.syn).toBe(1_800_000_000_000_000);
    expect(back.timeline.done).toBe(2 ** 53 - 1);
  });
  it('missing, notes, unicode SNI and text', () => {
    expectRoundTrip(baseRecord({
      sni: 'bücher.例え.テスト', alpn: 'h2,http/1.1', ja4: 't13d1516h2_8daaf6152771_02713d6af862', tls_version: '1.3',
      missing: ['syn', 'syn_ack', 'done'], notes: ['capture starts after the SYN: total counts from the first packet seen', 'émoji 🐢 "quoted" \\ \n'],
    }));
  });
  it('events: nulls, journal fields, other key orders, absent keys, wrongly typed keys', () => {
    const nulls = { cursor: null, message: '', timestamp_us: 0, elapsed_ms: null, sni: null, server: null };
    expectRoundTrip(baseRecord({ event: nulls, event_elapsed_ms: null, proxy_gap_ms: null }));
    const journal = { ...EVENT, _SYSTEMD_UNIT: 'edge-proxy.service', _PID: '1234', MESSAGE_BINARY: [104, 255, 0], REPEATED: ['a', [1, 2]], n: 3.5, nested: { a: null, b: [true] }, nil: null };
    expectRoundTrip(baseRecord({ event: journal, event_elapsed_ms: 512.25, proxy_gap_ms: 0 }));
    expect(recordToMessage(baseRecord({ event: journal })).event.key_order).toBeUndefined();
    // other orders and absent known keys need the key list
    const reordered = { journal: { _HOSTNAME: 'edge1' }, server: 'x', cursor: 'c', timestamp_us: 5 };
    expectRoundTrip(baseRecord({ event: reordered }));
    expect(recordToMessage(baseRecord({ event: reordered })).event.key_order).toEqual({ keys: ['journal', 'server', 'cursor', 'timestamp_us'] });
    expectRoundTrip(baseRecord({ event: {} }));
    expectRoundTrip(baseRecord({ event: { cursor: null } }));
    expectRoundTrip(baseRecord({ event: JSON.parse('{"__proto__":{"a":1},"constructor":"x"}') }));
    // a known key with another type than the schema's travels as JSON
    expectRoundTrip(baseRecord({ event: { ...EVENT, timestamp_us: '1800000000123456', elapsed_ms: '512ms', cursor: 7, sni: ['a'] } }));
    expectRoundTrip(baseRecord({ event: { ...EVENT, timestamp_us: 1.5 } }));
    // a non-object event
    expectRoundTrip(baseRecord({ event: 'just text' }));
    expectRoundTrip(baseRecord({ event: null }));
    expectRoundTrip(baseRecord({ event: [1, 'two'] }));
  });
  it('absent vs null vs value for event_elapsed_ms and proxy_gap_ms', () => {
    for (const v of [undefined, null, 0, 12.5]) {
      const r = baseRecord();
      if (v !== undefined) { r.event_elapsed_ms = v; r.proxy_gap_ms = v; }
      const back = expectRoundTrip(r);
      expect('event_elapsed_ms' in back).toBe(v !== undefined);
    }
  });
  it('keys the schema does not know travel in extra; optional keys of an unexpected type too', () => {
    const r = baseRecord() as FlowRecord & Record<string, unknown>;
    Object.assign(r, { ring_span_s: 12.5, host: 'edge1', tags: ['a'], nothing: null, pcap: null, capture_drops: -1, capture_complete: 'yes' });
    // top-level keys come back in contract order (recordToJson's), then the unknown ones
    expectRoundTrip(r, false);
    expect((recordToMessage(r).extra as { key: string }[]).map((f) => f.key)).toEqual(['pcap', 'capture_complete', 'capture_drops', 'ring_span_s', 'host', 'tags', 'nothing']);
  });
  propTest.prop([fc.record({
    sni: fc.option(fc.string({ unit: 'grapheme' })), cipher: fc.option(fc.string()),
    syn: fc.option(fc.maxSafeNat()), done: fc.option(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 })),
    total: fc.option(fc.double()), loss: fc.option(fc.double({ noNaN: true })),
    notes: fc.array(fc.string()), rtx: fc.nat({ max: 0xffffffff }),
    event: fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined }),
    elapsed: fc.option(fc.double({ noNaN: true }), { nil: undefined }),
  })])('arbitrary values round-trip', (v) => {
    const r = baseRecord({ sni: v.sni, cipher: v.cipher, notes: v.notes, retransmits: { client: v.rtx, server: 0 } });
    r.timeline.syn = v.syn;
    r.timeline.done = v.done;
    r.phases_ms.total = v.total;
    r.phases_ms.loss = v.loss;
    if (v.event !== undefined) r.event = JSON.parse(JSON.stringify(v.event)); // JSON values: what an ndjson record can hold
    if (v.elapsed !== undefined) r.event_elapsed_ms = v.elapsed;
    const back = decodeRecord(encodeRecord(r));
    expect(back).toStrictEqual(r);
    expect(recordToJson(back)).toBe(recordToJson(r));
  });
});

describe('encode refuses what the contract forbids; decode refuses what is not a record', () => {
  it('non-integer or out-of-range µs and retransmit counts throw (never rounded)', () => {
    const r = baseRecord();
    r.timeline.syn = 1.5;
    expect(() => encodeRecord(r)).toThrow(/timeline\.syn must be an integer count of µs, got 1\.5/);
    r.timeline.syn = 2 ** 53;
    expect(() => encodeRecord(r)).toThrow(RangeError);
    expect(() => encodeRecord(baseRecord({ retransmits: { client: -1, server: 0 } }))).toThrow(/retransmits\.client must be a uint32/);
  });
  it('empty, foreign and corrupt bytes', () => {
    expect(() => decodeRecord(new Uint8Array())).toThrow(/not a slowshake FlowRecord: no timeline/);
    expect(() => decodeRecord(Uint8Array.from([0x0a, 0x05, 0x41]))).toThrow(RecordDecodeError);
    expect(() => decodeRecord(Uint8Array.from([0xff, 0xff]))).toThrow(/corrupt record/);
  });
});

describe('record stream file', () => {
  it('many records appended, read back in order; 0600; reopening appends', async () => {
    const f = join(dir, 'many.pb');
    const all: FlowRecord[] = [];
    for (let i = 0; i < 2000; i++) all.push({ ...captured[i % captured.length]!, notes: [`#${i}`] });
    const w = RecordStreamWriter.open(f, { fsyncEvery: 100 });
    for (const r of all.slice(0, 1500)) w.append(r);
    w.close();
    w.close(); // idempotent
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(w.records).toBe(1500);
    expect(w.bytes).toBe(statSync(f).size);
    const w2 = RecordStreamWriter.open(f);
    for (const r of all.slice(1500)) w2.append(r);
    w2.close();
    expect(() => w2.append(all[0]!)).toThrow(/closed/);
    const got: FlowRecord[] = [];
    for await (const r of readRecordStream(f)) got.push(r);
    expect(got).toStrictEqual(all);
    expect((await readRecordFile(f)).error).toBeNull();
  });
  it('a record larger than the read buffer (1 MiB)', async () => {
    const f = join(dir, 'big.pb');
    const big = baseRecord({ notes: ['x'.repeat(3 * 1024 * 1024)] });
    const w = RecordStreamWriter.open(f);
    w.append(captured[0]!);
    w.append(big);
    w.append(captured[1]!);
    w.close();
    expect((await readRecordFile(f)).records).toStrictEqual([captured[0], big, captured[1]]);
  });
  it('an empty file is an empty stream; a missing file or a directory is an error at byte 0', async () => {
    const f = join(dir, 'empty.pb');
    writeFileSync(f, '');
    expect(await readRecordFile(f)).toEqual({ records: [], bytes: 0, error: null });
    const missing = await readRecordFile(join(dir, 'nope.pb'));
    expect(missing.error).toBeInstanceOf(CaptureFileError);
    expect(missing.error!.message).toBe(`${join(dir, 'nope.pb')}: byte 0: cannot open: no such file`);
    expect((await readRecordFile(dir)).error!.message).toMatch(/byte 0: cannot read: is a directory/);
  });

  /** A stream of `n` bundled records and the byte offset where each frame starts. */
  function writeStream(name: string, n: number): { f: string; starts: number[]; records: FlowRecord[] } {
    const f = join(dir, name);
    const records = captured.slice(0, n);
    const starts: number[] = [];
    const w = RecordStreamWriter.open(f);
    for (const r of records) { starts.push(w.bytes); w.append(r); }
    w.close();
    return { f, starts, records };
  }

  it('cut mid-record: the error names the file and the frame offset, the records before it are kept', async () => {
    const { f, starts, records } = writeStream('cut.pb', 6);
    truncateSync(f, starts[4]! + 40);
    const got: FlowRecord[] = [];
    let err: unknown = null;
    try {
      for await (const r of readRecordStream(f)) got.push(r);
    } catch (e) { err = e; }
    expect(got).toStrictEqual(records.slice(0, 4));
    expect(err).toBeInstanceOf(CaptureFileError);
    const e = err as CaptureFileError;
    expect(e.file).toBe(f);
    expect(e.offset).toBe(starts[4]);
    expect(e.code).toBe('SLOWSHAKE_ERR_CAPTURE_FILE');
    expect(e.message).toMatch(new RegExp(`^${f}: byte ${starts[4]}: truncated record: \\d+ bytes announced, \\d+ present$`));
  });
  it('cut inside a length prefix, zero-filled tail, garbage, a foreign file', async () => {
    const { f, starts, records } = writeStream('prefix.pb', 3);
    truncateSync(f, starts[2]! + 1); // records are > 127 bytes: two-byte prefixes
    let r = await readRecordFile(f);
    expect(r.records).toStrictEqual(records.slice(0, 2));
    expect(r.error!.message).toBe(`${f}: byte ${starts[2]}: truncated length prefix (1 bytes at the end of the file)`);
    truncateSync(f, starts[2]!);
    appendFileSync(f, Buffer.alloc(4096)); // power loss before the data reached the disk
    r = await readRecordFile(f);
    expect(r.records).toHaveLength(2);
    expect(r.error!.offset).toBe(starts[2]);
    expect(r.error!.message).toMatch(/zero-length record/);
    truncateSync(f, starts[2]!);
    appendFileSync(f, Buffer.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff]));
    r = await readRecordFile(f);
    expect(r.records).toHaveLength(2);
    expect(r.error!.message).toMatch(new RegExp(`byte ${starts[2]}: corrupt record: `));
    r = await readRecordFile(join(CAPTURES, 'fast-tls13.pcap'));
    expect(r.records).toEqual([]);
    expect(r.error!.message).toMatch(/fast-tls13\.pcap: byte 0: not a slowshake record stream: record length \d+ exceeds the maximum \(16777216\)/);
  });
  it('the writer refuses to append behind a torn tail, or cuts it off with repairTornTail', async () => {
    const { f, starts, records } = writeStream('torn.pb', 3);
    truncateSync(f, starts[2]! + 10);
    expect(() => RecordStreamWriter.open(f)).toThrow(new RegExp(`torn\\.pb: byte ${starts[2]}: truncated record: .* refusing to append`));
    expect(statSync(f).size).toBe(starts[2]! + 10); // untouched
    const w = RecordStreamWriter.open(f, { repairTornTail: true });
    expect(w.repaired).toMatchObject({ offset: starts[2], droppedBytes: 10 });
    w.append(records[2]!);
    w.close();
    expect(await readRecordFile(f)).toMatchObject({ records, error: null });
  });
  it('open failures are CaptureFileErrors at byte 0', () => {
    expect(() => RecordStreamWriter.open(join(dir, 'no/such/dir.pb'))).toThrow(/dir\.pb: byte 0: cannot open: no such file/);
    expect(() => RecordStreamWriter.open(dir)).toThrow(/byte 0: cannot open: is a directory/);
  });
});

describe('interoperability: the standard delimited format', () => {
  it('the schema is loaded from the package root', () => {
    expect(PROTO_PATH).toBe(join(ROOT, 'proto', 'slowshake.proto'));
  });
  it('protobufjs decodeDelimited (a separate reader) walks the file frame by frame', () => {
    const f = join(dir, 'interop.pb');
    const w = RecordStreamWriter.open(f);
    for (const r of captured) w.append(r);
    w.close();
    const type = new protobuf.Root().loadSync(PROTO_PATH, { keepCase: true }).lookupType('slowshake.v1.FlowRecord');
    const reader = protobuf.Reader.create(readFileSync(f));
    const clients: string[] = [];
    while (reader.pos < reader.len) clients.push((type.decodeDelimited(reader) as unknown as { client: string }).client);
    expect(clients).toEqual(captured.map((r) => r.client));
  });
  it('protoc accepts the schema, decodes a frame and re-encodes it byte for byte', () => {
    execFileSync('protoc', [`-I${join(ROOT, 'proto')}`, '--descriptor_set_out=/dev/null', 'slowshake.proto']);
    const r: FlowRecord = { ...captured.find((x) => x.hrr) ?? captured[0]!, event: { ...EVENT, _SYSTEMD_UNIT: 'edge.service' }, event_elapsed_ms: null, proxy_gap_ms: 1.25 };
    r.timeline.syn = 1_800_000_000_123_456;
    const bytes = encodeRecord(r);
    const text = execFileSync('protoc', [`-I${join(ROOT, 'proto')}`, '--decode=slowshake.v1.FlowRecord', 'slowshake.proto'], { input: bytes, encoding: 'utf8' });
    expect(text).toContain(`client: "${r.client}"`);
    expect(text).toContain('syn: 1800000000123456');
    expect(text).toContain(`verdict: "${r.verdict}"`);
    expect(text).toMatch(/event_elapsed_ms \{\n\s*\}/); // present, value unset: null
    expect(text).toContain('key: "_SYSTEMD_UNIT"\n    text: "edge.service"');
    const again = execFileSync('protoc', [`-I${join(ROOT, 'proto')}`, '--encode=slowshake.v1.FlowRecord', 'slowshake.proto'], { input: text });
    expect(Buffer.from(again).equals(Buffer.from(bytes))).toBe(true);
    // --decode_raw needs no schema: field 1 is the client string, 13 the timeline
    const raw = execFileSync('protoc', ['--decode_raw'], { input: bytes, encoding: 'utf8' });
    expect(raw).toMatch(new RegExp(`^1: "${r.client.replace(/[[\]]/g, '\\$&')}"`));
    expect(raw).toContain('13 {\n  1: 1800000000123456');
    // a delimited frame is the same message behind its varint length
    const frame = encodeRecordDelimited(r);
    expect(Buffer.from(frame.subarray(frame.length - bytes.length)).equals(Buffer.from(bytes))).toBe(true);
  });
});
