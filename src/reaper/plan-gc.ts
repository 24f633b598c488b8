import { formatDuration } from './duration.js';
import type { RunGroup } from './group-by-run.js';

/** What `planGc` may remove besides runs whose owner is dead. */
export interface GcPolicy {
  /** Also remove runs whose owner is alive or unknown when their oldest resource is at least this old. */
  olderThanMs?: number | undefined;
  /** Runs never to remove, whatever their state (the caller's own run). */
  protectedRunIds?: readonly string[] | undefined;
  /** Also remove runs whose artifacts were kept for inspection (`testbed gc --kept`). */
  includeKept?: boolean | undefined;
}

/** The decision about one run, with the reason shown to the user. */
export interface GcDecision {
  /** The run. */
  run: RunGroup;
  /** True when the run's resources are to be removed. */
  remove: boolean;
  /** Why, in a few words. */
  reason: string;
}

/**
 * Decides which runs to remove. A run whose owner is dead is always removed: nobody can use its
 * machines any more. A run whose owner is alive (or whose stamp names no valid process) is only
 * removed when `olderThanMs` is given explicitly and its age is known and at least that, so a
 * sweep never takes machines from under a live test run by default, and a resource of unknown
 * age is never "old".
 */
export function planGc(groups: readonly RunGroup[], policy: GcPolicy = {}): GcDecision[] {
  const protectedIds = new Set(policy.protectedRunIds ?? []);
  return groups.map((run): GcDecision => {
    const owner = `owner pid ${run.owner.pid}`;
    if (protectedIds.has(run.runId)) return { run, remove: false, reason: 'the current run' };
    const old =
      policy.olderThanMs !== undefined &&
      run.ageMs !== undefined &&
      run.ageMs >= policy.olderThanMs;
    if (run.kept && !policy.includeKept && !old) {
      return { run, remove: false, reason: 'kept for inspection (`testbed gc --kept` removes it)' };
    }
    if (run.ownerState === 'dead') return { run, remove: true, reason: `${owner} is gone` };
    const state = run.ownerState === 'alive' ? `${owner} is alive` : 'owner unknown';
    const limit = policy.olderThanMs;
    if (limit !== undefined && run.ageMs !== undefined && run.ageMs >= limit) {
      return {
        run,
        remove: true,
        reason: `older than ${formatDuration(limit)} (${formatDuration(run.ageMs)}; ${state})`,
      };
    }
    return { run, remove: false, reason: state };
  });
}
