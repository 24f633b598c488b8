import type { ProviderRegistry } from '../core/registry.js';
import type { RunOwner } from '../core/run-context.js';
import { VmBackendRegistry } from '../registry.js';
import { groupByRun } from './group-by-run.js';
import { type BackendListing, listAllResources } from './list-all-resources.js';
import { type OwnerState, ownerState } from './owner-state.js';
import { type GcDecision, planGc } from './plan-gc.js';
import { type RunRemoval, removeRuns } from './remove-runs.js';

/** Options for `sweepDeadRuns`. */
export interface SweepOptions {
  /** Providers to sweep. Default: `VmBackendRegistry.withDefaults()`. */
  registry?: ProviderRegistry | undefined;
  /** Only these provider ids (e.g. from TESTBED_PROVIDERS). Default: every registered one. */
  providerIds?: readonly string[] | undefined;
  /** Aborts listing and removal. */
  signal?: AbortSignal | undefined;
  /** Decide and report, remove nothing. */
  dryRun?: boolean | undefined;
  /** Also remove runs of live owners this old (explicit opt-in; see `planGc`). */
  olderThanMs?: number | undefined;
  /** Runs never removed (the caller's own). */
  protectedRunIds?: readonly string[] | undefined;
  /** Also remove runs kept for inspection after a failure. */
  includeKept?: boolean | undefined;
  /** Owner liveness; injected by tests. */
  stateOf?: ((owner: RunOwner) => OwnerState) | undefined;
  /** Current time; injected by tests. */
  now?: number | undefined;
  /** Upper bound for one backend's listing, in ms. */
  listTimeoutMs?: number | undefined;
  /** Upper bound for one run's removal on one backend, in ms. */
  removeTimeoutMs?: number | undefined;
}

/** What a sweep found, decided and did. */
export interface SweepReport {
  /** How listing went, per backend. */
  backends: BackendListing[];
  /** Every run found, with the decision about it. */
  runs: GcDecision[];
  /** Removal outcomes, per run and backend (empty on a dry run). */
  removals: RunRemoval[];
  /** True when nothing was removed on purpose. */
  dryRun: boolean;
  /** True when every backend was listed and every removal succeeded. */
  complete: boolean;
}

/**
 * Lists testbed resources on every backend, removes those of runs whose owner is dead (and, with
 * `olderThanMs`, of old runs) and reports. A daemon that is down or hangs is reported in
 * `backends`, never thrown; global setup calls this at start, `testbed gc` and `testbed ls` too.
 */
export async function sweepDeadRuns(options: SweepOptions = {}): Promise<SweepReport> {
  const registry = options.registry ?? VmBackendRegistry.withDefaults();
  const wanted = options.providerIds ? new Set(options.providerIds) : undefined;
  const providers = registry.providers().filter((p) => !wanted || wanted.has(p.id));
  const backends = await listAllResources(providers, {
    signal: options.signal,
    timeoutMs: options.listTimeoutMs,
  });
  const groups = groupByRun(
    backends.flatMap((b) => b.resources),
    options.stateOf ?? ownerState,
    options.now ?? Date.now(),
  );
  const runs = planGc(groups, {
    olderThanMs: options.olderThanMs,
    protectedRunIds: options.protectedRunIds,
    includeKept: options.includeKept,
  });
  const dryRun = options.dryRun ?? false;
  const targets = dryRun
    ? []
    : runs
        .filter((d) => d.remove)
        .flatMap((d) =>
          providers
            .filter((p) => d.run.providerIds.includes(p.id))
            .map((provider) => ({ runId: d.run.runId, provider })),
        );
  const removals = await removeRuns(targets, {
    signal: options.signal,
    timeoutMs: options.removeTimeoutMs,
  });
  const complete =
    backends.every((b) => b.status === 'listed' || b.status === 'unsupported') &&
    removals.every((r) => r.failed.length === 0);
  return { backends, runs, removals, dryRun, complete };
}
