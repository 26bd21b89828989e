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
