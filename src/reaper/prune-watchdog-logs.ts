import { readdir, rm, stat } from 'node:fs/promises';
import { watchdogPaths } from './watchdog-paths.js';

/**
 * Removes the logs that watchdogs kept after removing a run, once older than `olderThanMs`
 * (default 7 days), unless that run's watchdog still holds its lock. Resolves with the paths
 * removed; a missing directory is nothing to prune.
 */
export async function pruneWatchdogLogs(
  stateDir: string,
  options: { olderThanMs?: number; now?: number } = {},
): Promise<string[]> {
  const { dir } = watchdogPaths(stateDir, '');
  const limit = (options.now ?? Date.now()) - (options.olderThanMs ?? 7 * 86_400_000);
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names.filter((n) => n.endsWith('.log'))) {
    const paths = watchdogPaths(stateDir, name.slice(0, -'.log'.length));
    const info = await stat(paths.log).catch(() => undefined);
    const locked = await stat(paths.lock).then(
      () => true,
      () => false,
    );
    if (!info || locked || info.mtimeMs > limit) continue;
    await rm(paths.log, { force: true });
    removed.push(paths.log);
  }
  return removed;
}
