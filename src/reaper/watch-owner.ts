/** How `watchOwner` looks at the world; injected so the loop is tested without processes. */
export interface WatchOwnerOptions {
  /** True while the run's owner process runs. */
  isOwnerAlive: () => boolean;
  /** True once the run has ended cleanly (the stop marker exists). */
  isStopRequested: () => boolean;
  /** Time between looks, in ms. */
  pollMs: number;
  /** Waits `ms`; may return early when woken (a stop request). */
  sleep: (ms: number) => Promise<void>;
}

/**
 * Polls until the run ends: `stopped` when it ended cleanly, `owner-died` when its owner is gone
 * (a SIGKILL included). A stop request wins over a dead owner: a clean end followed by exit is
 * not a crash.
 */
export async function watchOwner(options: WatchOwnerOptions): Promise<'stopped' | 'owner-died'> {
  for (;;) {
    if (options.isStopRequested()) return 'stopped';
    if (!options.isOwnerAlive()) return options.isStopRequested() ? 'stopped' : 'owner-died';
    await options.sleep(options.pollMs);
  }
}
