/** Small helpers shared by the report's SVG and HTML writers. */

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or attribute value made safe for HTML and SVG: every string in a record is client-controlled (sni, alpn, rdns). */
export function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESC[c]!);
}

/** A number of ms as shown on the page: "-" when unknown, one decimal (two below 10 ms). */
export function fmtMs(v: number | null | undefined): string {
  if (v === null || v === undefined) return '-';
  return Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1);
}

/** SVG coordinate text: at most one decimal, so pages stay small and byte-stable. */
export function px(v: number): string {
  return String(Math.round(v * 10) / 10);
}

/** A "nice" axis step (1, 2 or 5 × 10^k) giving about `ticks` ticks over `span`. */
export function niceStep(span: number, ticks: number): number {
  const raw = span / Math.max(1, ticks);
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/** The colour classes of the four categories (CSS in html.ts). */
export const CATEGORY_CLASS = { client: 'c-client', network: 'c-network', server: 'c-server', loss: 'c-loss' } as const;
