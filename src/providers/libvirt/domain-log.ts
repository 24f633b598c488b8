import { readdir, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The directory where libvirtd writes each QEMU domain's own log (`<name>.log`), for the local
 * system or session daemon; undefined for a remote URI, whose files are not ours to touch.
 */
export function domainLogDir(
  uri: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(uri);
  } catch {
    return undefined;
  }
  if (parsed.hostname) return undefined;
  if (parsed.pathname === '/session') {
    return join(
      env.XDG_CACHE_HOME || join(env.HOME || homedir(), '.cache'),
      'libvirt',
      'qemu',
      'log',
    );
  }
  return '/var/log/libvirt/qemu';
}

/** Removes libvirtd's log of each domain whose name starts with `prefix`; best effort, never throws. */
export async function removeDomainLogs(uri: string, prefix: string): Promise<void> {
  const dir = domainLogDir(uri);
  if (!dir) return;
  const entries = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((entry) => entry.startsWith(prefix) && /\.log(\.\d+)?$/.test(entry))
      .map((entry) => rm(join(dir, entry), { force: true }).catch(() => {})),
  );
}
