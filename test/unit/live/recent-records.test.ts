/**
 * The live engine's recent records (event matching): a fast record is kept as its JSON text and
 * comes back from find() equal to the record as it was added (every field, every number exact),
 * a slow one comes back as the very object (the correlator's evidence queue claims it by
 * identity); the time-window and port checks, expiry and the size bound behave as before.
 * Records are the analyzer's own, from the real captures in captures/tls/.
 */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readCaptureFile } from '../../../src/sources/capture-file.js';
import { DecodedPacket } from '../../../src/decode/packet.js';
import { Analyzer } from '../../../src/handshake/analyzer.js';
import type { FlowRecord } from '../../../src/handshake/record.js';
import type { HandshakeTracker } from '../../../src/handshake/tracker.js';
import { recordToJson } from '../../../src/handshake/record-json.js';
import { RecentRecords } from '../../../src/live/engine.js';
import type { MeasuredFlow } from '../../../src/correlate/correlator.js';
import type { SlowEvent } from '../../../src/correlate/journal-event.js';
import { CAPTURES } from '../../helpers/cli.js';

const FILES = ['fast-tls13.pcap', 'fast-tls12.pcap', 'server-delay.pcap', 'network-delay.pcap', 'hrr.pcap', 'ipv6.pcap', 'loss-client.pcap', 'mtls.pcap', 'tfo.pcap'];

async function flowsOf(file: string): Promise<MeasuredFlow[]> {
  const out: MeasuredFlow[] = [];
  const a = new Analyzer({
    slowMs: 200, keepPackets: false, flowFilter: null,
    onRecord: (rec: FlowRecord, t: HandshakeTracker) => out.push({ rec, clientAddr: t.clientAddr, clientPort: t.clientPort, serverAddr: t.serverAddr, serverPort: t.serverPort }),
  });
  await readCaptureFile(join(CAPTURES, file), new DecodedPacket(), a);
  a.finish();
  return out;
}

/** An event for `rec`'s client that ended at the handshake's end, `elapsedMs` long. */
function eventFor(rec: FlowRecord, serverPort: number | null, endUs: number, elapsedMs: number | null = null): SlowEvent {
  return {
    client: rec.client, clientAddr: new Uint8Array(4), clientPort: 0, server: null, serverAddr: null, serverPort,
    sni: null, endUs, elapsedMs, cursor: null, message: '', line: 1,
  };
}

const endOf = (rec: FlowRecord): number => rec.timeline.done ?? rec.timeline.server_flight_end ?? rec.timeline.server_hello ?? rec.timeline.syn!;
const startOf = (rec: FlowRecord): number => rec.timeline.syn ?? rec.timeline.client_hello ?? rec.timeline.server_hello!;

describe('RecentRecords', () => {
  it('gives back every real record: fast ones equal to what was added (from their text), slow ones as the same object', async () => {
    let fast = 0, slow = 0;
    for (const file of FILES) {
      const flows = await flowsOf(file);
      expect(flows.length, file).toBeGreaterThan(0);
      for (const f of flows) {
        if (f.rec.timeline.syn === null && f.rec.timeline.client_hello === null && f.rec.timeline.server_hello === null) continue;
        const r = new RecentRecords(30_000, 100);
        const text = recordToJson(f.rec);
        r.add(f, 1_000);
        const got = r.find(eventFor(f.rec, f.serverPort, endOf(f.rec)), 2_000);
        expect(got, `${file} ${f.rec.client}`).not.toBeNull();
        if (f.rec.slow) {
          slow++;
          expect(got).toBe(f);
        } else {
          fast++;
          expect(got).not.toBe(f);
          expect(got!.rec).toEqual(JSON.parse(text));
          expect(recordToJson(got!.rec)).toBe(text);
          expect(got!.rec.timeline).toEqual(f.rec.timeline);
          expect(got!.rec.phases_ms).toEqual(f.rec.phases_ms);
          expect([got!.clientPort, got!.serverPort]).toEqual([f.clientPort, f.serverPort]);
          expect(got!.clientAddr).toEqual(f.clientAddr);
          expect(got!.serverAddr).toEqual(f.serverAddr);
        }
      }
    }
    expect(fast).toBeGreaterThan(5);
    expect(slow).toBeGreaterThan(5);
  });

  it('keeps the record as it was when added: a later change to a fast record is not seen', async () => {
    const f = (await flowsOf('fast-tls13.pcap')).find((x) => !x.rec.slow)!;
    const r = new RecentRecords(30_000, 100);
    r.add(f, 1_000);
    f.rec.notes.push('changed after add');
    const got = r.find(eventFor(f.rec, null, endOf(f.rec)), 2_000)!;
    expect(got.rec.notes).not.toContain('changed after add');
    f.rec.notes.pop();
  });

  it('matches only the client\'s newest record, on its server port, within the margin of the event\'s span', async () => {
    const flows = (await flowsOf('server-delay.pcap')).concat(await flowsOf('fast-tls13.pcap'));
    const f = flows.find((x) => !x.rec.slow)!;
    const r = new RecentRecords(30_000, 100);
    r.add(f, 1_000);
    const end = endOf(f.rec), start = startOf(f.rec);
    expect(r.find(eventFor(f.rec, f.serverPort + 1, end), 2_000)).toBeNull(); // another port
    expect(r.find(eventFor(f.rec, null, end), 2_000)).not.toBeNull(); // no port logged
    // The event's span [end - elapsed, end] against the record's [start, end], ± margin.
    expect(r.find(eventFor(f.rec, null, start - 2_000_000 - 1), 2_000)).toBeNull(); // ended before the record began
    expect(r.find(eventFor(f.rec, null, start - 2_000_000), 2_000)).not.toBeNull();
    expect(r.find(eventFor(f.rec, null, end + 10_000_000, 8_000), 2_000)).not.toBeNull(); // began 2 s after the end
    expect(r.find(eventFor(f.rec, null, end + 10_000_001, 8_000), 2_000)).toBeNull();
    expect(r.find({ ...eventFor(f.rec, null, end), client: '192.0.2.99:1' }, 2_000)).toBeNull();
  });

  it('expires records keepMs after their end and forgets the oldest beyond max (counted)', async () => {
    const flows = (await flowsOf('interleaved.pcap')).concat(await flowsOf('fast-tls12.pcap'), await flowsOf('server-delay.pcap'));
    const distinct = [...new Map(flows.map((f) => [f.rec.client, f])).values()];
    expect(distinct.length).toBeGreaterThanOrEqual(4);
    const r = new RecentRecords(1_000, 3);
    distinct.slice(0, 4).forEach((f, i) => r.add(f, 100 * i));
    expect(r.size).toBe(3);
    expect(r.forgotten).toBe(1);
    const ev = (f: MeasuredFlow): SlowEvent => eventFor(f.rec, null, endOf(f.rec));
    expect(r.find(ev(distinct[0]!), 2_000)).toBeNull(); // forgotten: the oldest
    expect(r.find(ev(distinct[1]!), 2_000)).not.toBeNull();
    r.expire(1_150); // distinct[1] ended at 100: 100 + 1000 < 1150
    expect(r.find(ev(distinct[1]!), 2_000)).toBeNull();
    expect(r.find(ev(distinct[2]!), 2_000)).not.toBeNull();
    expect(r.size).toBe(2);
  });
});
