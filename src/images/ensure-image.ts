import { ensureContainerImage } from './container-image-store.js';
import { createBuildContext, type ImageOptions } from './image-options.js';
import { findRecipe } from './image-recipes.js';
import { ensureVmImage } from './vm-image-store.js';

/** What `ensureImage` / `buildImage` did. */
export interface EnsuredImage {
  /** Recipe name, e.g. `tiny-vm`. */
  name: string;
  /** `vm` (files in the cache directory) or `container` (an image in the Docker engine). */
  kind: 'vm' | 'container';
  /** Cache key: hash of the recipe files and resolved inputs. */
  key: string;
  /** The build's directory (VM) or `repository:tag` (container). */
  location: string;
  /** False when an identical build was already cached. */
  built: boolean;
  /** Wall time of the call. */
  durationMs: number;
}

/** Options of `ensureImage`. */
export interface EnsureImageOptions extends ImageOptions {
  /** Rebuild even when an identical build is cached. */
  force?: boolean;
}

/**
 * Makes sure the image built by the recipe `name` is cached, building it if it is missing or its
 * recipe or inputs changed; reusing a cached build takes well under a second. Safe to call from
 * several processes at once: one builds, the others wait and reuse.
 */
export async function ensureImage(
  name = 'tiny-vm',
  options: EnsureImageOptions = {},
): Promise<EnsuredImage> {
  const started = Date.now();
  const recipe = findRecipe(name);
  const context = createBuildContext(options);
  const stored =
    recipe.kind === 'vm'
      ? await ensureVmImage(recipe, context, options.force)
      : await ensureContainerImage(recipe, context, options.force);
  const durationMs = Date.now() - started;
  context.progress(
    stored.built ? `built ${name} in ${(durationMs / 1000).toFixed(1)} s` : `${name} is up to date`,
  );
  return { name, kind: recipe.kind, ...stored, durationMs };
}

/** Builds the image `name` even if an identical build is cached. */
export function buildImage(name = 'tiny-vm', options: ImageOptions = {}): Promise<EnsuredImage> {
  return ensureImage(name, { ...options, force: true });
}
