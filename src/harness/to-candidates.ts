import type { RankingCandidate } from '../core/ranking.js';
import type { ProviderStatus } from '../core/registry.js';

/** Discovery results as plain ranking data, the same way `ProviderRegistry.select` ranks them. */
export function toCandidates(statuses: readonly ProviderStatus[]): RankingCandidate[] {
  return statuses.map((s) => ({
    id: s.provider.id,
    capabilities: s.capabilities.map((c) => ({ ...c })),
    available: s.available,
    healthy: s.health?.healthy ?? (s.available ? false : undefined),
    reason: s.reason,
    fix: s.provider.setupHint,
    capacity: s.capacity,
  }));
}
