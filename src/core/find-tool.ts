import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

// sbin directories are searched too: non-root PATHs often lack them, yet mkfs.ext4 lives there.
const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin'];

/** Finds `tool` on PATH (plus the sbin directories); undefined when absent. */
export async function findTool(
  tool: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  const dirs = [...(env.PATH ?? '').split(delimiter).filter(Boolean), ...SBIN];
  for (const dir of dirs) {
    const candidate = join(dir, tool);
    try {
      await access(candidate, constants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}
