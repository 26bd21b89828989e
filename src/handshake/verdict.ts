/**
 * Verdict (design.md): the category with the largest summed time wins; `incomplete` when the
 * packets that bound the handshake are missing.
 */
import type { PhaseBreakdown } from './phases.js';

export type Verdict = 'client' | 'network' | 'server' | 'loss' | 'incomplete';

/** Ties go to the earlier entry: a named culprit beats `loss`, which beats nothing. */
const ORDER = ['network', 'server', 'client', 'loss'] as const;

export function decideVerdict(b: PhaseBreakdown, complete: boolean): Verdict {
  if (!complete) return 'incomplete';
  let best: Verdict = 'network';
  let bestUs = -1;
  for (const c of ORDER) {
    const v = b.byCategory[c];
    if (v > bestUs) { best = c; bestUs = v; }
  }
  return best;
}
