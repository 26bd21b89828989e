/**
 * The symmetric flow hash the native capture thread stores in each ring record header
 * (native/src/flow_hash.cc), recomputed here from a 5-tuple for lookups:
 *   endpoint(a) = FNV-1a 32 over address bytes, then port high byte, port low byte
 *   flow = fmix32(min(ea, eb) ^ rotl32(max(ea, eb), 16) ^ (proto << 24)), 0 mapped to 1.
 */
function fnv(h: number, bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; i++) h = Math.imul(h ^ bytes[i]!, 16777619) >>> 0;
  return h;
}

function endpoint(addr: Uint8Array, port: number): number {
  let h = fnv(2166136261, addr);
  h = Math.imul(h ^ (port >> 8), 16777619) >>> 0;
  h = Math.imul(h ^ (port & 0xff), 16777619) >>> 0;
  return h;
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export function flowHash(a: Uint8Array, aPort: number, b: Uint8Array, bPort: number, proto = 6): number {
  const ea = endpoint(a, aPort), eb = endpoint(b, bPort);
  const lo = ea < eb ? ea : eb, hi = ea < eb ? eb : ea;
  const h = fmix((lo ^ (((hi << 16) | (hi >>> 16)) >>> 0) ^ (proto << 24)) >>> 0);
  return h === 0 ? 1 : h;
}
