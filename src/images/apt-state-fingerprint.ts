import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Files and folders whose change can change apt's candidate versions. */
export const APT_STATE_PATHS = [
  '/etc/apt/sources.list',
  '/etc/apt/sources.list.d',
  '/etc/apt/preferences',
  '/etc/apt/preferences.d',
  '/etc/apt/apt.conf.d',
  '/var/lib/apt/lists',
  '/var/lib/dpkg/status',
];

/**
 * A cheap fingerprint (names, sizes, mtimes; no contents) of apt's configuration and package
 * lists: while it is unchanged, `apt-cache` answers the same, so its answer can be reused.
 */
export async function aptStateFingerprint(
  paths: readonly string[] = APT_STATE_PATHS,
): Promise<string> {
  const hash = createHash('sha256');
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) {
      hash.update(`${path} -\n`);
      continue;
    }
    const entries = info.isDirectory()
      ? (await readdir(path)).sort().map((e) => join(path, e))
      : [path];
    for (const entry of entries) {
      const s = await stat(entry).catch(() => undefined);
      // apt touches its lock and partial/ on every download; only the lists themselves matter.
      if (!s?.isFile() || entry.endsWith('/lock')) continue;
      hash.update(`${entry} ${s.size} ${s.mtimeMs}\n`);
    }
  }
  return hash.digest('hex');
}
