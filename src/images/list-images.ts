import { readdir, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { findTool } from '../core/find-tool.js';
import { createBuildContext, type ImageOptions } from './image-options.js';
import type { ContainerImageRecipe, ImageBuildContext, VmImageRecipe } from './image-recipe.js';
import { builtInRecipes } from './image-recipes.js';
import { readVmImageManifest } from './vm-image-manifest.js';
import { CURRENT_LINK } from './vm-image-store.js';

/** One cached build of an image. */
export interface CachedImage {
  /** Recipe name. */
  name: string;
  /** `vm` (files) or `container` (Docker engine). */
  kind: 'vm' | 'container';
  /** Cache key of this build. */
  key: string;
  /** True for the build in use: the `current` link (VM), the recipe's present key (container). */
  current: boolean;
  /** Build directory (VM) or `repository:tag` (container). */
  location: string;
  /** Size in bytes: the build's files (VM) or the image (container). */
  sizeBytes: number;
  /** Build time, ISO 8601. */
  builtAt: string;
}

async function listVm(recipe: VmImageRecipe, context: ImageBuildContext): Promise<CachedImage[]> {
  const nameDir = join(context.cacheDir, recipe.name);
  const entries = await readdir(nameDir).catch(() => []);
  const current = await realpath(join(nameDir, CURRENT_LINK)).catch(() => undefined);
  const images: CachedImage[] = [];
  for (const entry of entries.filter((e) => !e.startsWith('.') && e !== CURRENT_LINK)) {
    const dir = join(nameDir, entry);
    const manifest = await readVmImageManifest(dir).catch(() => undefined);
    if (!manifest) continue;
    const { base, kernel, initrd } = manifest.files;
    images.push({
      name: recipe.name,
      kind: 'vm',
      key: manifest.key,
      current: current === dir,
      location: dir,
      sizeBytes: base.sizeBytes + (kernel?.sizeBytes ?? 0) + (initrd?.sizeBytes ?? 0),
      builtAt: manifest.builtAt,
    });
  }
  return images;
}

async function listContainer(
  recipe: ContainerImageRecipe,
  context: ImageBuildContext,
): Promise<CachedImage[]> {
  if (!(await findTool('docker', context.env))) return [];
  const { stdout } = await context.run(
    'docker',
    ['image', 'ls', '--filter', `label=testbed.image=${recipe.name}`, '--format', '{{.ID}}'],
    { timeoutMs: 30_000 },
  );
  const ids = [...new Set(stdout.split('\n').filter(Boolean))];
  if (ids.length === 0) return [];
  const format = '{{json .RepoTags}}\t{{.Size}}\t{{.Created}}';
  const inspected = await context.run('docker', ['image', 'inspect', '--format', format, ...ids], {
    timeoutMs: 30_000,
  });
  const present = await recipe.prepare(context).catch(() => undefined);
  return inspected.stdout
    .split('\n')
    .filter(Boolean)
    .flatMap((line) => {
      const [tags, size, created] = line.split('\t') as [string, string, string];
      return (JSON.parse(tags) as string[])
        .filter((tag) => tag.startsWith(`${recipe.repository}:`) && !tag.endsWith(':latest'))
        .map((tag) => {
          const key = tag.slice(recipe.repository.length + 1);
          return {
            name: recipe.name,
            kind: 'container' as const,
            key,
            current: key === present?.key,
            location: tag,
            sizeBytes: Number(size),
            builtAt: created,
          };
        });
    });
}

/** What `listImages` found, and what it could not look at. */
export interface ImageListing {
  /** Cached builds, by name then newest first. */
  images: CachedImage[];
  /** One line per recipe whose store could not be read (e.g. the Docker engine is down), with the fix. */
  problems: string[];
}

/**
 * Lists every cached build of the built-in recipes, VM images from the cache directory and
 * container images from Docker; a store that cannot be read is reported, not fatal.
 */
export async function listImages(options: ImageOptions = {}): Promise<ImageListing> {
  const context = createBuildContext(options);
  const problems: string[] = [];
  const lists = await Promise.all(
    builtInRecipes().map((recipe) =>
      (recipe.kind === 'vm' ? listVm(recipe, context) : listContainer(recipe, context)).catch(
        (error: unknown) => {
          const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
          problems.push(
            `${recipe.name}: could not list (${reason}); is the Docker engine running? (\`docker info\`)`,
          );
          return [];
        },
      ),
    ),
  );
  const images = lists
    .flat()
    .sort((a, b) => a.name.localeCompare(b.name) || b.builtAt.localeCompare(a.builtAt));
  return { images, problems };
}
