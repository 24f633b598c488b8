import type { ProviderCapacity, Resources } from './provider.js';

/** What this run has done on each provider: resources placed there, and providers found down. */
export interface PlacementState {
  /** Memory and vCPUs of the machines this run placed on each provider and has not destroyed, by id. */
  placed?: Readonly<Record<string, Resources>> | undefined;
  /** Providers that failed as unreachable during the run, by id, with the reason. */
  down?: Readonly<Record<string, string>> | undefined;
}

/**
 * The share of a provider's host still free once this run's placements there are counted: the
 * smaller of the memory share and the vCPU share (the scarcer resource decides). Undefined when
 * the provider reports no capacity.
 */
export function freeShare(
  capacity: ProviderCapacity | undefined,
  placed: Resources | undefined,
): number | undefined {
  if (!capacity) return undefined;
  const share = (free: number, used: number, total: number) =>
    total > 0 ? (free - used) / total : 0;
  return Math.min(
    share(capacity.free.memoryMiB, placed?.memoryMiB ?? 0, capacity.total.memoryMiB),
    share(capacity.free.vcpus, placed?.vcpus ?? 0, capacity.total.vcpus),
  );
}

/** A candidate as placement sees it. */
export interface PlacementCandidate {
  /** Provider id. */
  id: string;
  /** What its host reported at discovery, if anything. */
  capacity?: ProviderCapacity | undefined;
}

/**
 * Orders two equally qualified providers by free capacity (pure): the larger free share first,
 * so machines spread in proportion to host size; on a tie, more free memory first; a provider
 * that reports capacity before one that does not; otherwise equal.
 */
export function compareFreeCapacity(
  a: PlacementCandidate,
  b: PlacementCandidate,
  placed: PlacementState['placed'] = {},
): number {
  const shareA = freeShare(a.capacity, placed[a.id]);
  const shareB = freeShare(b.capacity, placed[b.id]);
  if (shareA === undefined || shareB === undefined) {
    return Number(shareA === undefined) - Number(shareB === undefined);
  }
  if (Math.abs(shareA - shareB) > 1e-9) return shareB - shareA;
  const memory = (c: PlacementCandidate) =>
    (c.capacity?.free.memoryMiB ?? 0) - (placed[c.id]?.memoryMiB ?? 0);
  return memory(b) - memory(a);
}
