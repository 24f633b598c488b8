import { chmod, link, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { type RunContext, type RunOwner, shortId } from '../../core/run-context.js';

/** Name of the manifest that marks a run directory as testbed's and names its owner. */
export const RUN_MANIFEST = 'run.json';

/** What a run directory's manifest records. */
export interface RunManifest {
  /** The run. */
  runId: string;
  /** The process that owns it. */
  owner: RunOwner;
  /** Creation time, ms since the epoch. */
  createdAt: number;
}

/** Adds search (x) permission for others where missing, without granting listing or reading. */
async function makeTraversable(dir: string): Promise<void> {
  const info = await stat(dir).catch(() => undefined);
  if (info && (info.mode & 0o001) === 0) await chmod(dir, (info.mode & 0o7777) | 0o011);
}

/**
 * Creates `<stateDir>/<runId>/` with its manifest, once. libvirt's QEMU user opens the overlays,
 * seeds and logs inside, so the state directory and its parent (the cache root, which other code
 * may have created 0700) must be traversable by it.
 */
export async function ensureRunDirectory(runDir: string, run: RunContext): Promise<void> {
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  const stateDir = dirname(runDir);
  await makeTraversable(dirname(stateDir));
  await makeTraversable(stateDir);
  const manifest: RunManifest = { runId: run.runId, owner: run.owner, createdAt: Date.now() };
  // Written aside and linked into place, so the manifest is never seen half-written (the writer
  // may be killed at any point), and a second writer leaves the first one's manifest alone.
  const temp = join(runDir, `.${RUN_MANIFEST}.${shortId()}`);
  await writeFile(temp, JSON.stringify(manifest));
  try {
    await link(temp, join(runDir, RUN_MANIFEST)).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    });
  } finally {
    await rm(temp, { force: true });
  }
}

/** The manifest of a run directory, or undefined when it is not one of testbed's. */
export async function readRunManifest(runDir: string): Promise<RunManifest | undefined> {
  try {
    const manifest = JSON.parse(await readFile(join(runDir, RUN_MANIFEST), 'utf8'));
    return typeof manifest?.runId === 'string' ? manifest : undefined;
  } catch {
    return undefined;
  }
}
