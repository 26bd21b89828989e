/** Address text: dotted IPv4, RFC 5952 IPv6 ("[addr]:port" endpoints). Per flow, never per packet. */
export function formatIp(a: Uint8Array): string {
  if (a.length === 4) return `${a[0]}.${a[1]}.${a[2]}.${a[3]}`;
  const w: number[] = [];
  for (let i = 0; i < 16; i += 2) w.push((a[i]! << 8) | a[i + 1]!);
  // Longest run of ≥ 2 zero words becomes "::" (first one on ties).
  let bestS = -1, bestL = 1;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestL) { bestS = i; bestL = j - i; }
    i = j;
  }
  // IPv4-mapped ::ffff:a.b.c.d
  if (bestS === 0 && bestL === 5 && w[5] === 0xffff) return `::ffff:${a[12]}.${a[13]}.${a[14]}.${a[15]}`;
  const hex = w.map((x) => x.toString(16));
  if (bestS < 0) return hex.join(':');
  return `${hex.slice(0, bestS).join(':')}::${hex.slice(bestS + bestL).join(':')}`;
}

/**
 * Recent IPv4 endpoints and addresses as text, direct-mapped by a hash of the address (and port):
 * a record's server endpoint and its client's address repeat across flows, so most records
 * format each once (issue 13). Strings are immutable, so records may share them.
 */
const CACHE_SIZE = 1024;
const epWord = new Float64Array(CACHE_SIZE).fill(-1);
const epText: string[] = new Array<string>(CACHE_SIZE).fill('');
const ipWord = new Float64Array(CACHE_SIZE).fill(-1);
const ipText: string[] = new Array<string>(CACHE_SIZE).fill('');

function ipV4Cached(a: Uint8Array, w: number): string {
  const i = Math.imul(w, 0x9e3779b1) >>> 22; // top 10 bits: CACHE_SIZE slots
  if (ipWord[i] === w) return ipText[i]!;
  const t = formatIp(a);
  ipWord[i] = w;
  ipText[i] = t;
  return t;
}

export function formatEndpoint(a: Uint8Array, port: number): string {
  if (a.length !== 4) return `[${formatIp(a)}]:${port}`;
  const w = ((a[0]! << 24) | (a[1]! << 16) | (a[2]! << 8) | a[3]!) >>> 0;
  const key = w * 65536 + port; // < 2^48: exact in a double
  const i = Math.imul(w ^ Math.imul(port, 0x85ebca6b), 0x9e3779b1) >>> 22;
  if (epWord[i] === key) return epText[i]!;
  const t = `${ipV4Cached(a, w)}:${port}`;
  epWord[i] = key;
  epText[i] = t;
  return t;
}
