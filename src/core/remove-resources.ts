import pRetry from 'p-retry';
import type { OwnedResource, RemovalReport } from './provider.js';
import { withTimeout } from './with-timeout.js';

/** How `removeResources` orders, bounds and retries removals. */
export interface RemoveResourcesOptions {
  /** Kinds in removal order (dependents first); kinds not listed go last. */
  kindOrder: readonly OwnedResource['kind'][];
  /** Bound on one attempt at one resource, in ms. */
  attemptTimeoutMs: number;
  /** Further attempts after a failed one, with backoff. */
  retries: number;
  /** Stops the removals (what is left is reported as failed). */
  signal?: AbortSignal | undefined;
  /**
   * Removals of one kind running at once, newest started first. Default 1; a remote host, where
   * every call is a round trip, takes more.
   */
  concurrency?: number | undefined;
}

/**
 * Removes resources kind by kind in `kindOrder`, newest first within a kind, each attempt bounded
 * and retried with backoff; a resource that will not go is reported, never thrown, so one stuck
 * resource does not keep the others.
 */
export async function removeResources(
  resources: readonly OwnedResource[],
  remove: (resource: OwnedResource, signal: AbortSignal) => Promise<unknown>,
  options: RemoveResourcesOptions,
): Promise<RemovalReport> {
  const rank = (kind: OwnedResource['kind']) => {
    const index = options.kindOrder.indexOf(kind);
    return index === -1 ? options.kindOrder.length : index;
  };
  const ordered = [...resources].sort(
    (a, b) => rank(a.kind) - rank(b.kind) || (b.createdAt ?? 0) - (a.createdAt ?? 0),
  );
  const report: RemovalReport = { removed: [], failed: [] };
  const removeOne = async (resource: OwnedResource) => {
    try {
      await pRetry(
        () =>
          withTimeout(
            `removing ${resource.kind} ${resource.name}`,
            options.attemptTimeoutMs,
            (bounded) => remove(resource, bounded),
            options.signal,
          ),
        {
          retries: options.retries,
          minTimeout: 200,
          maxTimeout: 2000,
          ...(options.signal ? { signal: options.signal } : {}),
        },
      );
      report.removed.push(resource);
    } catch (error) {
      report.failed.push({
        resource,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  };
  const lanes = Math.max(1, options.concurrency ?? 1);
  for (let start = 0; start < ordered.length; ) {
    // A kind starts only once every resource of the kinds before it is settled.
    const kind = ordered[start]?.kind;
    let end = start;
    while (end < ordered.length && ordered[end]?.kind === kind) end++;
    const batch = ordered.slice(start, end);
    let next = 0;
    const lane = async () => {
      while (next < batch.length) await removeOne(batch[next++] as OwnedResource);
    };
    await Promise.all(Array.from({ length: Math.min(lanes, batch.length) }, lane));
    start = end;
  }
  return report;
}
