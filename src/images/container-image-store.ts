import { join } from 'node:path';
import { acquireImageLock } from './image-lock.js';
import type { ContainerImageRecipe, ImageBuildContext } from './image-recipe.js';
import { prepareCacheDir } from './prepare-cache-dir.js';
import type { StoredImage } from './vm-image-store.js';

/** True when the Docker engine has `reference`. */
export async function dockerImageExists(
  reference: string,
  context: Pick<ImageBuildContext, 'run' | 'signal'>,
): Promise<boolean> {
  const result = await context.run(
    'docker',
    ['image', 'inspect', '--format', '{{.Id}}', reference],
    {
      reject: false,
      timeoutMs: 30_000,
      ...(context.signal ? { signal: context.signal } : {}),
    },
  );
  return result.exitCode === 0;
}

/**
 * Makes sure the Docker engine holds `<repository>:<key>` for `recipe`, building it if needed under
 * a lock in the cache directory (so parallel workers build once). Docker applies a tag only to a
 * finished image, so a failed build leaves no tagged half image.
 */
export async function ensureContainerImage(
  recipe: ContainerImageRecipe,
  context: ImageBuildContext,
  force = false,
): Promise<StoredImage> {
  const prepared = await recipe.prepare(context);
  const reference = `${recipe.repository}:${prepared.key}`;
  if (!force && (await dockerImageExists(reference, context))) {
    return { key: prepared.key, location: reference, built: false };
  }
  await prepareCacheDir(context.cacheDir);
  const lock = await acquireImageLock(join(context.cacheDir, `.${recipe.name}.lock`), {
    ...(context.signal ? { signal: context.signal } : {}),
    onWait: (holder) =>
      context.progress(`waiting for another build of ${recipe.name} (pid ${holder.pid})`),
  });
  try {
    if (!force && (await dockerImageExists(reference, context))) {
      return { key: prepared.key, location: reference, built: false };
    }
    await recipe.build(context, prepared);
    return { key: prepared.key, location: reference, built: true };
  } finally {
    await lock.release();
  }
}
