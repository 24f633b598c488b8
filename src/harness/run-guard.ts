import type { HostEntry } from '../core/hosts.js';
import type { ProviderRegistry } from '../core/registry.js';
import type { RunContext } from '../core/run-context.js';
import { startWatchdog } from '../reaper/start-watchdog.js';
import { sweepDeadRuns } from '../reaper/sweep-dead-runs.js';

/** A running guard of one run; `stop()` means the run ended cleanly. */
export interface RunGuardHandle {
  /** Where the guard logs, to mention in reports. */
  readonly logPath?: string | undefined;
  /** The run ended cleanly: stand down. */
  stop(): Promise<void>;
}

/** What protects a run against leaks: a sweep of dead runs at start, and a watchdog for this run. */
export interface RunGuard {
  /** Removes what dead runs left behind; returns a one-line summary, or nothing when there was nothing. */
  sweep(registry: ProviderRegistry, run: RunContext): Promise<string | undefined>;
  /** Starts the detached watchdog that removes the run's resources (on `hosts` too) once its owner dies. */
  watch(run: RunContext, hosts?: readonly HostEntry[]): Promise<RunGuardHandle>;
}

/** The reaper of issue 06: sweep with `sweepDeadRuns`, watch with `startWatchdog`. */
export const reaperGuard: RunGuard = {
  async sweep(registry, run) {
    const report = await sweepDeadRuns({ registry, protectedRunIds: [run.runId] });
    const removed = report.removals.reduce((n, r) => n + r.removed.length, 0);
    const failed = report.removals.reduce((n, r) => n + r.failed.length, 0);
    if (removed === 0 && failed === 0) return undefined;
    return `testbed: removed ${removed} resource(s) left by dead runs${failed ? `; ${failed} could not be removed (see \`npx testbed ls\`)` : ''}`;
  },
  watch: (run, hosts) => startWatchdog(run, { hosts }),
};

/** A guard that does nothing, for unit tests and callers that reap on their own. */
export const noGuard: RunGuard = {
  sweep: async () => undefined,
  watch: async () => ({ stop: async () => {} }),
};
