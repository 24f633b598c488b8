import type { OwnedResource } from '../core/provider.js';
import type { RunOwner } from '../core/run-context.js';
import type { OwnerState } from './owner-state.js';

/** Every resource of one run, across backends, with what is known about its owner and age. */
export interface RunGroup {
  /** The run. */
  runId: string;
  /** The owning process (the first stamp seen; see `ownerState` for disagreeing stamps). */
  owner: RunOwner;
  /** `alive` if any stamp's owner is alive, else `unknown` if any is unknown, else `dead`. */
  ownerState: OwnerState;
  /** Creation time of the oldest resource, when any is known. */
  createdAt: number | undefined;
  /** Age of the oldest resource at grouping time, when known. */
  ageMs: number | undefined;
  /** Providers holding resources of the run, sorted. */
  providerIds: string[];
  /** The run's resources, in listing order. */
  resources: OwnedResource[];
  /** True when some of them are kept for inspection after a failure. */
  kept: boolean;
}

const STATE_RANK: Record<OwnerState, number> = { dead: 0, unknown: 1, alive: 2 };

/** Groups resources by run id, oldest run first (runs of unknown age last). */
export function groupByRun(
  resources: readonly OwnedResource[],
  stateOf: (owner: RunOwner) => OwnerState,
  now: number = Date.now(),
): RunGroup[] {
  const byRun = new Map<string, OwnedResource[]>();
  for (const resource of resources) {
    const list = byRun.get(resource.runId);
    if (list) list.push(resource);
    else byRun.set(resource.runId, [resource]);
  }
  const groups = [...byRun].map(([runId, list]): RunGroup => {
    const owners = new Map(
      list.map((r) => [`${r.owner.host ?? ''}:${r.owner.pid}:${r.owner.startTime}`, r.owner]),
    );
    // The safest answer wins: one live stamp keeps the whole run alive.
    const ownerState = [...owners.values()]
      .map((owner) => stateOf(owner))
      .reduce<OwnerState>((a, b) => (STATE_RANK[b] > STATE_RANK[a] ? b : a), 'dead');
    const times = list.flatMap((r) => (r.createdAt === undefined ? [] : [r.createdAt]));
    const createdAt = times.length > 0 ? Math.min(...times) : undefined;
    return {
      runId,
      owner: (list[0] as OwnedResource).owner,
      ownerState,
      createdAt,
      ageMs: createdAt === undefined ? undefined : Math.max(0, now - createdAt),
      providerIds: [...new Set(list.map((r) => r.providerId))].sort(),
      resources: list,
      kept: list.some((r) => r.kept === true),
    };
  });
  return groups.sort(
    (a, b) =>
      (a.createdAt ?? Number.POSITIVE_INFINITY) - (b.createdAt ?? Number.POSITIVE_INFINITY) ||
      a.runId.localeCompare(b.runId),
  );
}
