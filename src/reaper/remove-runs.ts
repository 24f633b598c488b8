import type { OwnedResource, RemovalReport, VmBackendProvider } from '../core/provider.js';
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

function firstLine(error: unknown): string {
  return error instanceof Error ? (error.message.split('\n')[0] ?? error.name) : String(error);
}

async function removeOne(target: RemovalTarget, options: RemoveRunsOptions): Promise<RunRemoval> {
  const { runId, provider } = target;
  const began = Date.now();
  const base = { runId, providerId: provider.id };
  const remove = provider.removeRun?.bind(provider);
  if (!remove)
    return {
      ...base,
      removed: [],
      failed: [{ error: 'provider cannot remove runs' }],
      elapsedMs: 0,
    };
  try {
    const report: RemovalReport = await withTimeout(
      `${provider.id}: removeRun(${runId})`,
      options.timeoutMs ?? 180_000,
      (s) => remove(runId, s),
      options.signal,
    );
    return {
      ...base,
      removed: report.removed,
      failed: report.failed,
      elapsedMs: Date.now() - began,
    };
  } catch (error) {
    return {
      ...base,
      removed: [],
      failed: [{ error: firstLine(error) }],
      elapsedMs: Date.now() - began,
    };
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
