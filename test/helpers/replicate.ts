import { readFileSync } from 'node:fs';

/**
 * A larger capture made from a real one: `copies` copies of every packet, each copy with its own
 * client address 10.(k>>8).(k&255).2 in place of 198.51.100.2 and one second later. Ethernet +
 * IPv4 classic pcap (µs) only; checksums are not fixed (the analyzer does not check them).
 */
export function replicateCapture(path: string, copies: number): Buffer {
  const src = readFileSync(path);
  const parts: Buffer[] = [src.subarray(0, 24)];
  for (let k = 0; k < copies; k++) {
    let o = 24;
    while (o + 16 <= src.length) {
      const incl = src.readUInt32LE(o + 8);
      const rec = Buffer.from(src.subarray(o, o + 16 + incl));
      if (incl >= 34 && rec.readUInt16BE(16 + 12) === 0x0800) {
        for (const a of [16 + 26, 16 + 30]) {
          if (rec[a] === 198 && rec[a + 1] === 51 && rec[a + 2] === 100 && rec[a + 3] === 2) {
            rec[a] = 10; rec[a + 1] = k >> 8; rec[a + 2] = k & 0xff;
          }
        }
        rec.writeUInt32LE(rec.readUInt32LE(0) + k, 0);
      }
      parts.push(rec);
      o += 16 + incl;
    }
  }
  return Buffer.concat(parts);
}

/**
 * `copies` copies of every record (records, not packets), copy k with its own client address
 * (IPv4 10.(k>>8).(k&255).x, IPv6 2001:db8:k::) and every timeline point k seconds later, so each
 * is a handshake of its own. The pcap path stays: only the originals' match their pcap's packets.
 */
export function replicateRecords<R extends { client: string; timeline: Record<string, number | null> }>(records: readonly R[], copies: number, each: (r: R) => void): void {
  for (let k = 0; k < copies; k++) {
    for (const r of records) {
      const c = structuredClone(r);
      c.client = r.client.startsWith('[') ? r.client.replace('[2001:db8::', `[2001:db8:${(k % 65535).toString(16)}::`) : r.client.replace(/^198\.51\.100\./, `10.${k >> 8}.${k & 255}.`);
      for (const p of Object.keys(c.timeline)) if (c.timeline[p] !== null) c.timeline[p]! += k * 1_000_000;
      each(c);
    }
  }
}
