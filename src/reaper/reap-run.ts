import type { OwnedResource, VmBackendProvider } from '../core/provider.js';
import { removeRuns } from './remove-runs.js';

/** Options for `reapRun`. */
export interface ReapOptions {
  /** Receives one line per step. */
  log: (line: string) => void;
  /** Waits `ms`; injected by tests. */
  sleep?: (ms: number) => Promise<void>;
  /** `removeRun` attempts per pass and provider. Default 4. */
  attempts?: number;
  /** Wait before the second attempt, doubled for each further one, in ms. Default 1000. */
  backoffMs?: number;
  /**
   * Delays before extra passes, in ms. Default [3000, 15000]: a `virsh create` or container start
   * in flight when the owner died can still complete after the first pass.
   */
  resweepDelaysMs?: readonly number[];
  /** Upper bound for one `removeRun` call, in ms. Default 120000. */
  timeoutMs?: number;
}

/** What `reapRun` removed and what it had to leave. */
export interface ReapSummary {
  /** Every resource removed, over all passes. */
  removed: OwnedResource[];
  /** What the last pass could not remove, per provider. */
  failed: { providerId: string; resource?: OwnedResource | undefined; error: string }[];
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Removes everything of `runId` on every provider: each provider is retried with backoff until it
 * reports nothing left, then the whole removal is repeated after each resweep delay. Bounded:
 * every call has a timeout and the number of attempts is fixed. Never throws.
 */
export async function reapRun(
  runId: string,
  providers: readonly VmBackendProvider[],
  options: ReapOptions,
): Promise<ReapSummary> {
  const sleep = options.sleep ?? defaultSleep;
  const attempts = options.attempts ?? 4;
  const backoffMs = options.backoffMs ?? 1000;
  const removed: OwnedResource[] = [];
  const failures = new Map<string, ReapSummary['failed']>();
  for (const delay of [0, ...(options.resweepDelaysMs ?? [3000, 15_000])]) {
    if (delay > 0) {
      options.log(`waiting ${delay} ms, then sweeping run ${runId} again`);
      await sleep(delay);
    }
    let pending = [...providers];
    for (let attempt = 1; attempt <= attempts && pending.length > 0; attempt++) {
      if (attempt > 1) await sleep(backoffMs * 2 ** (attempt - 2));
      const results = await removeRuns(
        pending.map((provider) => ({ runId, provider })),
        { timeoutMs: options.timeoutMs ?? 120_000 },
      );
      for (const result of results) {
        removed.push(...result.removed);
        for (const r of result.removed)
          options.log(`removed ${result.providerId} ${r.kind} ${r.name}`);
        if (result.removed.length > 0)
          options.log(
            `${result.providerId}: ${result.removed.length} removed in ${result.elapsedMs} ms`,
          );
        const failed = result.failed.map((f) => ({ providerId: result.providerId, ...f }));
        for (const f of failed) {
          const what = f.resource ? `${f.resource.kind} ${f.resource.name}` : 'run';
          options.log(`attempt ${attempt}: ${f.providerId} ${what} not removed: ${f.error}`);
        }
        if (failed.length > 0) failures.set(result.providerId, failed);
        else failures.delete(result.providerId);
      }
      pending = pending.filter((p) => failures.has(p.id));
    }
  }
  return { removed, failed: [...failures.values()].flat() };
}
