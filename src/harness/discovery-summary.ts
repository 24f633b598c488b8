import { formatCapability } from '../core/capabilities.js';
import type { ProviderStatus } from '../core/registry.js';

/** A short, human-readable summary of discovery: one line per provider. */
export function formatDiscoverySummary(
  statuses: readonly ProviderStatus[],
  durationMs: number,
): string {
  if (statuses.length === 0) {
    return 'testbed: no provider is registered, so every machine need is unmet.';
  }
  const width = Math.max(...statuses.map((s) => s.provider.id.length));
  const lines = statuses.map((s) => {
    const id = s.provider.id.padEnd(width);
    const caps = s.capabilities.map(formatCapability).join(', ');
    if (!s.available) return `  - ${id}  unavailable: ${s.reason ?? 'not found'}`;
    if (!s.health?.healthy) return `  ! ${id}  unhealthy: ${s.reason ?? 'health check failed'}`;
    const version = s.health.version ? ` ${s.health.version};` : '';
    return `  + ${id}  healthy;${version} ${caps}`;
  });
  return [`testbed: discovered ${statuses.length} provider(s) in ${durationMs} ms`, ...lines].join(
    '\n',
  );
}
