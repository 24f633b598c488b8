import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunContext, RunOwner } from '../../core/run-context.js';

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

/** Creates `<stateDir>/<runId>/` (traversable by libvirt's QEMU user) with its manifest, once. */
export async function ensureRunDirectory(runDir: string, run: RunContext): Promise<void> {
  await mkdir(runDir, { recursive: true, mode: 0o755 });
  const manifest: RunManifest = { runId: run.runId, owner: run.owner, createdAt: Date.now() };
  await writeFile(join(runDir, RUN_MANIFEST), JSON.stringify(manifest), { flag: 'wx' }).catch(
    (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error;
    },
  );
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
