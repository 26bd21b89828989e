/** The median of `xs`, which it sorts in place (null when empty). One allocation-free helper for every summary. */
export function medianInPlace(xs: number[]): number | null {
  if (xs.length === 0) return null;
  xs.sort((a, b) => a - b);
  const m = xs.length >> 1;
  return xs.length % 2 === 1 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2;
}
