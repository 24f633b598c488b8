import { formatCapability, missingCapabilities, type VmCapability } from './capabilities.js';
import type { ProviderMismatch } from './errors.js';
import { compareFreeCapacity, type PlacementState } from './placement.js';
import type { ProviderCapacity } from './provider.js';

/** What the ranking knows of one provider: pure data, gathered by discovery. */
export interface RankingCandidate {
  /** Provider id. */
  id: string;
  /** Capabilities it offers. */
  capabilities: readonly VmCapability[];
  /** Result of the availability check. */
  available: boolean;
  /** Result of the health check; undefined when it was not run. */
  healthy?: boolean | undefined;
  /** Why it is unavailable or unhealthy. */
  reason?: string | undefined;
  /** How to make it usable. */
  fix?: string | undefined;
  /** What its host reported at discovery (`capacity()`), for placement among equals. */
  capacity?: ProviderCapacity | undefined;
}

/** The outcome of ranking: usable providers best first, and why the others were passed over. */
export interface Ranking {
  /** Providers that cover every need, best first. */
  ranked: RankingCandidate[];
  /** Every provider that was passed over, with the reason. */
  mismatches: ProviderMismatch[];
}

/** The backend of a provider id: `libvirt` for `libvirt@host2`. */
function backendOf(id: string): string {
  return id.split('@')[0] ?? id;
}

/**
 * Ranks providers for a set of needs. A provider qualifies when it is available, not known to be
 * unhealthy, allowed by `preference` (when given) and offers every need. Qualified providers are
 * ordered by: position in `preference`; then healthy before unchecked; then fewest surplus
 * capabilities of their backend (the most specific, usually cheapest, backend; the hosts of one
 * backend tie); then the larger share of free
 * capacity after what `placement` says this run put there (so machines spread over hosts); then
 * registration order. A provider `placement` marks down is passed over.
 */
export function rankProviders(
  candidates: readonly RankingCandidate[],
  needs: readonly VmCapability[],
  preference?: readonly string[],
  placement: PlacementState = {},
): Ranking {
  const qualified: { candidate: RankingCandidate; index: number }[] = [];
  const mismatches: ProviderMismatch[] = [];
  candidates.forEach((candidate, index) => {
    const missing = missingCapabilities(candidate.capabilities, needs).map(formatCapability);
    if (preference && !preference.includes(candidate.id)) {
      mismatches.push({
        providerId: candidate.id,
        available: candidate.available,
        reason: 'not listed in TESTBED_PROVIDERS',
        missing,
        fix: `Add ${candidate.id} to TESTBED_PROVIDERS.`,
      });
    } else if (placement.down?.[candidate.id] !== undefined) {
      mismatches.push({
        providerId: candidate.id,
        available: false,
        reason: `marked down during this run: ${placement.down[candidate.id]}`,
        missing,
        fix: candidate.fix,
      });
    } else if (!candidate.available || candidate.healthy === false || missing.length > 0) {
      mismatches.push({
        providerId: candidate.id,
        available: candidate.available,
        reason: candidate.reason,
        missing,
        fix: candidate.fix,
      });
    } else {
      qualified.push({ candidate, index });
    }
  });
  const rank = (id: string) => {
    const position = preference?.indexOf(id) ?? -1;
    return position === -1 ? Number.MAX_SAFE_INTEGER : position;
  };
  // Hosts of one backend differ in what they can do (a remote libvirt has no clones), not in
  // cost: each is ranked by its backend's fewest capabilities, so the hosts tie there and spread.
  const specificity = new Map<string, number>();
  for (const { candidate } of qualified) {
    const backend = backendOf(candidate.id);
    const count = candidate.capabilities.length;
    specificity.set(backend, Math.min(count, specificity.get(backend) ?? count));
  }
  const specific = (c: RankingCandidate) => specificity.get(backendOf(c.id)) ?? 0;
  qualified.sort(
    (a, b) =>
      rank(a.candidate.id) - rank(b.candidate.id) ||
      Number(b.candidate.healthy === true) - Number(a.candidate.healthy === true) ||
      specific(a.candidate) - specific(b.candidate) ||
      compareFreeCapacity(a.candidate, b.candidate, placement.placed) ||
      a.index - b.index,
  );
  return { ranked: qualified.map((q) => q.candidate), mismatches };
}
