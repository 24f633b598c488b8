import { readdir, rm, rmdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CommandFailedError, ImageBuildError } from '../core/errors.js';
import { acquireImageLock } from './image-lock.js';
import { createBuildContext, type ImageOptions } from './image-options.js';
import type { ContainerImageRecipe, ImageBuildContext, VmImageRecipe } from './image-recipe.js';
import { findRecipe } from './image-recipes.js';
import { listImages } from './list-images.js';
import { prepareCacheDir } from './prepare-cache-dir.js';

async function removeVm(recipe: VmImageRecipe, context: ImageBuildContext): Promise<string[]> {
  const nameDir = join(context.cacheDir, recipe.name);
  const entries = await readdir(nameDir).catch(() => undefined);
  if (!entries) return [];
  await prepareCacheDir(nameDir);
  // Under the build lock, so a concurrent build is not deleted halfway.
  const lock = await acquireImageLock(join(nameDir, '.lock'), {
    ...(context.signal ? { signal: context.signal } : {}),
  });
  const removed: string[] = [];
  try {
    for (const entry of await readdir(nameDir)) {
      if (entry === '.lock') continue;
      await rm(join(nameDir, entry), { recursive: true, force: true });
      if (!entry.startsWith('.')) removed.push(join(nameDir, entry));
    }
  } finally {
    await lock.release();
  }
  await rmdir(nameDir).catch(() => {});
  return removed;
}

async function removeContainer(
  recipe: ContainerImageRecipe,
  context: ImageBuildContext,
  options: ImageOptions,
): Promise<string[]> {
  const { images, problems } = await listImages(options);
  const mine = problems.find((problem) => problem.startsWith(`${recipe.name}:`));
  if (mine) throw new ImageBuildError(`Cannot remove ${recipe.name}: ${mine}`);
  const tags = images.filter((image) => image.name === recipe.name).map((image) => image.location);
  if (tags.length === 0) return [];
  const latest = `${recipe.repository}:latest`;
  const result = await context.run('docker', ['image', 'rm', ...tags, latest], {
    reject: false,
    timeoutMs: 60_000,
  });
  if (result.exitCode !== 0 && !/No such image: \S+:latest\s*$/.test(result.stderr.trim())) {
    throw new CommandFailedError(
      `docker image rm ${tags.join(' ')}`,
      result.exitCode,
      result.stderr,
      {
        fix: `Remove the containers that use it first: \`docker ps -a --filter ancestor=${recipe.repository}\`.`,
      },
    );
  }
  return tags;
}

/**
 * Removes every cached build of the image `name` (VM build directories, or the container image's
 * tags in Docker); resolves with what was removed. Machines still running on a removed VM build
 * lose their backing file, so remove images only when no machine uses them.
 */
export async function removeImage(name: string, options: ImageOptions = {}): Promise<string[]> {
  const recipe = findRecipe(name);
  const context = createBuildContext(options);
  return recipe.kind === 'vm'
    ? removeVm(recipe, context)
    : removeContainer(recipe, context, options);
}
