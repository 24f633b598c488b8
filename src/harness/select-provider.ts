import { formatCapability, type VmCapability } from '../core/capabilities.js';
import { NoMatchingProviderError } from '../core/errors.js';
import type { PlacementState } from '../core/placement.js';
import { type RankingCandidate, rankProviders } from '../core/ranking.js';

/** The provider id that serves `needs`, or the error explaining what is missing and how to get it. */
export type Selected = { providerId: string } | { error: NoMatchingProviderError };

/** Ranks discovered providers for `needs`, counting what `placement` says was placed (pure: no backend is contacted). */
export function selectProvider(
  candidates: readonly RankingCandidate[],
  needs: readonly VmCapability[],
  preference: readonly string[] | undefined,
  placement: PlacementState = {},
): Selected {
  const { ranked, mismatches } = rankProviders(candidates, needs, preference, placement);
  const first = ranked[0];
  if (first) return { providerId: first.id };
  return { error: new NoMatchingProviderError(needs.map(formatCapability), mismatches) };
}
