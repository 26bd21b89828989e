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

export function formatEndpoint(a: Uint8Array, port: number): string {
  return a.length === 4 ? `${formatIp(a)}:${port}` : `[${formatIp(a)}]:${port}`;
}
