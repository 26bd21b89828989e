/**
 * Verdict (design.md): the category with the largest summed time wins; `incomplete` when the
 * packets that bound the handshake are missing.
 */
import type { PhaseBreakdown } from './phases.js';

export type Verdict = 'client' | 'network' | 'server' | 'loss' | 'incomplete';

/** Ties go to the earlier entry: a named culprit beats `loss`, which beats nothing. */
const ORDER = ['network', 'server', 'client', 'loss'] as const;

export function decideVerdict(b: PhaseBreakdown, complete: boolean): Verdict {
  return complete ? largestCategory(b.byCategory) : 'incomplete';
}

export type CategoryTotals = { client: number; network: number; server: number; loss: number };

/** The largest category of `totals` (any unit), ties as in decideVerdict. */
export function largestCategory(totals: CategoryTotals): Exclude<Verdict, 'incomplete'> {
  let best: Exclude<Verdict, 'incomplete'> = 'network';
  let bestV = -1;
  for (const c of ORDER) {
    if (totals[c] > bestV) { best = c; bestV = totals[c]; }
  }
  return best;
}
