import { randomBytes } from 'node:crypto';
import {
  access,
  chmod,
  mkdir,
  mkdtemp,
  readdir,
  readlink,
  rename,
  rm,
  symlink,
} from 'node:fs/promises';
import { join } from 'node:path';
import { acquireImageLock } from './image-lock.js';
import type { ImageBuildContext, VmImageRecipe } from './image-recipe.js';
import { prepareCacheDir } from './prepare-cache-dir.js';
import { MANIFEST_FILE } from './vm-image-manifest.js';

/** Name of the symlink in `<cache>/<name>/` that points at the build in use. */
export const CURRENT_LINK = 'current';

/** Outcome of making sure an image is in the cache. */
export interface StoredImage {
  /** Cache key of the build. */
  key: string;
  /** Directory (VM) or `repository:tag` (container) of the build. */
  location: string;
  /** False when the cache already held this exact build. */
  built: boolean;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Points `<nameDir>/current` at `key` atomically (a new symlink renamed over the old one). */
async function pointCurrentAt(nameDir: string, key: string): Promise<void> {
  if ((await readlink(join(nameDir, CURRENT_LINK)).catch(() => undefined)) === key) return;
  const temp = join(nameDir, `.current-${randomBytes(4).toString('hex')}`);
  await symlink(key, temp);
  await rename(temp, join(nameDir, CURRENT_LINK));
}

/**
 * Makes sure `<cacheDir>/<name>/<key>/` holds a complete build of `recipe`, building it if needed.
 * Builds happen under an exclusive lock in a `.build-*` directory that is renamed into place only
 * when complete, so readers never see half an image and a failed build leaves nothing behind.
 * Finished builds are never modified: overlays of running machines keep their backing file.
 */
export async function ensureVmImage(
  recipe: VmImageRecipe,
  context: ImageBuildContext,
  force = false,
): Promise<StoredImage> {
  const prepared = await recipe.prepare(context);
  const nameDir = join(context.cacheDir, recipe.name);
  const target = join(nameDir, prepared.key);
  const complete = () => exists(join(target, MANIFEST_FILE));
  if (!force && (await complete())) {
    await pointCurrentAt(nameDir, prepared.key);
    return { key: prepared.key, location: target, built: false };
  }
  await prepareCacheDir(nameDir);
  const lock = await acquireImageLock(join(nameDir, '.lock'), {
    ...(context.signal ? { signal: context.signal } : {}),
    onWait: (holder) =>
      context.progress(`waiting for another build of ${recipe.name} (pid ${holder.pid})`),
  });
  try {
    if (!force && (await complete())) {
      await pointCurrentAt(nameDir, prepared.key);
      return { key: prepared.key, location: target, built: false };
    }
    // Holding the lock, any leftover build directory belongs to a builder that died.
    for (const entry of await readdir(nameDir)) {
      if (entry.startsWith('.build-'))
        await rm(join(nameDir, entry), { recursive: true, force: true });
    }
    const temp = await mkdtemp(join(nameDir, '.build-'));
    try {
      const outDir = join(temp, 'out');
      const workDir = join(temp, 'work');
      await mkdir(outDir, { mode: 0o755 });
      await mkdir(workDir);
      await recipe.build(context, prepared, { outDir, workDir });
      await chmod(outDir, 0o755);
      if (await exists(target)) await rename(target, join(temp, 'replaced'));
      await rename(outDir, target);
      await pointCurrentAt(nameDir, prepared.key);
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return { key: prepared.key, location: target, built: true };
  } finally {
    await lock.release();
  }
}
