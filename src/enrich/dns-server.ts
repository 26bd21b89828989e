/**
 * --dns-server / `[enrich] dns_server`: "ADDR" or "ADDR:PORT", IPv6 as "[ADDR]:PORT" or a bare
 * "ADDR". Returns the form node:dns `Resolver.setServers` takes, or null when the text is not
 * one (host names are refused: resolving the resolver would need a resolver). No imports, so the
 * config schema can use it.
 */
export function parseDnsServer(text: string): string | null {
  const t = text.trim();
  const portOk = (p: string | undefined): boolean => p === undefined || (/^[0-9]{1,5}$/.test(p) && Number(p) >= 1 && Number(p) <= 65535);
  const v6 = (a: string): boolean => /^[0-9A-Fa-f:.]+$/.test(a) && a.includes('::') ? a.split(':').length <= 8 : a.split(':').length === 8;
  let m = /^\[([0-9A-Fa-f:.]+)\](?::([0-9]+))?$/.exec(t);
  if (m) return v6(m[1]!) && portOk(m[2]) ? (m[2] !== undefined ? `[${m[1]}]:${m[2]}` : m[1]!) : null;
  m = /^((?:[0-9]{1,3}\.){3}[0-9]{1,3})(?::([0-9]+))?$/.exec(t);
  if (m) return m[1]!.split('.').every((x) => Number(x) <= 255) && portOk(m[2]) ? t : null;
  return /^[0-9A-Fa-f:.]+$/.test(t) && v6(t) ? t : null;
}
