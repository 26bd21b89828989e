/**
 * Verdict (design.md): the category with the largest summed time wins; `incomplete` when the
 * packets that bound the handshake are missing.
 */
import type { PhaseBreakdown } from './phases.js';

export type Verdict = 'client' | 'network' | 'server' | 'loss' | 'incomplete';

/** Ties go to the earlier of network, server, client, loss: a named culprit beats `loss`, which beats nothing. */
export function decideVerdict(b: PhaseBreakdown, complete: boolean): Verdict {
  return complete ? largestCategory(b.byCategory) : 'incomplete';
}

export type CategoryTotals = { client: number; network: number; server: number; loss: number };

/** The largest category of `totals` (any unit), ties as in decideVerdict. */
export function largestCategory(totals: CategoryTotals): Exclude<Verdict, 'incomplete'> {
  // network, server, client, loss, unrolled: no iterator and no keyed loads per record (issue 13).
  let best: Exclude<Verdict, 'incomplete'> = 'network';
  let bestV = totals.network > -1 ? totals.network : -1;
  if (totals.server > bestV) { best = 'server'; bestV = totals.server; }
  if (totals.client > bestV) { best = 'client'; bestV = totals.client; }
  if (totals.loss > bestV) best = 'loss';
  return best;
}
