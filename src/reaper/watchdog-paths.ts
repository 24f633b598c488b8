import { join } from 'node:path';

/** Files through which a run's watchdog is claimed, stopped and heard from. */
export interface WatchdogPaths {
  /** Directory holding every run's watchdog files. */
  dir: string;
  /** Claimed exclusively by the first `startWatchdog` of a run; holds the watchdog's pid. */
  lock: string;
  /** Written when the run ends cleanly: the watchdog then exits without removing anything. */
  stop: string;
  /** What the watchdog did; kept after it removed a run, deleted after a clean stop. */
  log: string;
}

/**
 * Where the watchdog of `runId` keeps its files: `<stateDir>/.watchdog/`, beside the run
 * directories but never mistaken for one (a run id has no dot) and not removed with the run.
 */
export function watchdogPaths(stateDir: string, runId: string): WatchdogPaths {
  const dir = join(stateDir, '.watchdog');
  return {
    dir,
    lock: join(dir, `${runId}.pid`),
    stop: join(dir, `${runId}.stop`),
    log: join(dir, `${runId}.log`),
  };
}
