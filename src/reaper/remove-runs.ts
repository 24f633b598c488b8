import { firstLine } from '../core/first-line.js';
import type { OwnedResource, VmBackendProvider } from '../core/provider.js';
import { withTimeout } from '../core/with-timeout.js';

/** The outcome of removing one run from one backend. */
export interface RunRemoval {
  /** The run. */
  runId: string;
  /** The backend. */
  providerId: string;
  /** What the provider removed and could not remove. */
  removed: OwnedResource[];
  /** Resources left, or the whole call's failure (resource undefined), with the reason. */
  failed: { resource?: OwnedResource | undefined; error: string }[];
  /** How long the call took, in ms. */
  elapsedMs: number;
}

/** Options for `removeRuns`. */
export interface RemoveRunsOptions {
  /** Aborts the removals still running. */
  signal?: AbortSignal | undefined;
  /** Upper bound for one `removeRun` call, in ms. Default 180000 (a stuck domain is retried inside). */
  timeoutMs?: number | undefined;
  /** Removals running at once. Default 4. */
  concurrency?: number | undefined;
}

/** One `removeRun` call: which run on which backend. */
export interface RemovalTarget {
  /** The run. */
  runId: string;
  /** The backend's provider. */
  provider: VmBackendProvider;
}

async function removeOne(target: RemovalTarget, options: RemoveRunsOptions): Promise<RunRemoval> {
  const { runId, provider } = target;
  const began = Date.now();
  const outcome = await attemptRemoval(target, options);
  return { runId, providerId: provider.id, ...outcome, elapsedMs: Date.now() - began };
}

async function attemptRemoval(
  { runId, provider }: RemovalTarget,
  options: RemoveRunsOptions,
): Promise<Pick<RunRemoval, 'removed' | 'failed'>> {
  const remove = provider.removeRun?.bind(provider);
  if (!remove) return { removed: [], failed: [{ error: 'provider cannot remove runs' }] };
  try {
    return await withTimeout(
      `${provider.id}: removeRun(${runId})`,
      options.timeoutMs ?? 180_000,
      (s) => remove(runId, s),
      options.signal,
    );
  } catch (error) {
    return { removed: [], failed: [{ error: firstLine(error) }] };
  }
}

/**
 * Calls `removeRun` for every target, a few at a time so a sweep of many runs does not start
 * dozens of `virsh` processes at once. Never throws: every failure is in the result.
 */
export async function removeRuns(
  targets: readonly RemovalTarget[],
  options: RemoveRunsOptions = {},
): Promise<RunRemoval[]> {
  const results: RunRemoval[] = new Array(targets.length);
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const index = next++;
      results[index] = await removeOne(targets[index] as RemovalTarget, options);
    }
  };
  const lanes = Math.max(1, Math.min(options.concurrency ?? 4, targets.length));
  await Promise.all(Array.from({ length: lanes }, worker));
  return results;
}
