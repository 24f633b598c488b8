import { createHash } from 'node:crypto';
import { copyFile, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { ImageBuildError } from '../core/errors.js';
import { recipeDir } from './fixtures-dir.js';
import { cacheKey, hashRecipeFiles } from './hash-recipe-files.js';
import type { ContainerImageRecipe, ImageBuildContext, PreparedRecipe } from './image-recipe.js';
import { requireTools } from './require-tools.js';
import { readElfInterpreter } from './shared-libraries.js';

const recipeSchema = z.object({
  name: z.string(),
  recipeVersion: z.number().int(),
  busybox: z.string(),
  busyboxPackage: z.string(),
});

/** What a tiny-container build is made of. */
export interface TinyContainerInputs {
  /** Hash of every recipe file. */
  recipeFiles: Record<string, string>;
  /** SHA-256 of the host's busybox binary. */
  busyboxSha256: string;
}

const REPOSITORY = 'testbed/tiny';

async function readBusybox(path: string, pkg: string): Promise<Buffer> {
  const fix = `apt-get install -y ${pkg}`;
  let binary: Buffer;
  try {
    binary = await readFile(path);
  } catch (error) {
    throw new ImageBuildError(`The tiny container image needs ${path} from Debian's ${pkg}.`, {
      cause: error,
      fix,
    });
  }
  if (readElfInterpreter(binary) !== undefined) {
    throw new ImageBuildError(`${path} is dynamically linked; a FROM scratch image needs ${pkg}.`, {
      fix,
    });
  }
  return binary;
}

/** The tiny container's build context, tags and labels, for a build through the CLI or an engine's API. */
export interface TinyContainerBuild extends PreparedRecipe<TinyContainerInputs> {
  /** `testbed/tiny:<key>`, then `testbed/tiny:latest`. */
  tags: [string, string];
  /** Labels the image carries. */
  labels: Record<string, string>;
  /** Build context: file name in the context → its path on this host. */
  files: Record<string, string>;
}

/** Reads the recipe and the host's busybox into what a build needs; fast, offline, needs no Docker. */
export async function tinyContainerBuild(
  dir: string = recipeDir('tiny-container'),
): Promise<TinyContainerBuild> {
  const recipe = recipeSchema.parse(JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')));
  const busybox = await readBusybox(recipe.busybox, recipe.busyboxPackage);
  const digest = await hashRecipeFiles(dir);
  const busyboxSha256 = createHash('sha256').update(busybox).digest('hex');
  const key = cacheKey({ recipe: digest.sha256, busybox: busyboxSha256 });
  return {
    key,
    inputs: { recipeFiles: digest.files, busyboxSha256 },
    tags: [`${REPOSITORY}:${key}`, `${REPOSITORY}:latest`],
    labels: { 'testbed.image': recipe.name, 'testbed.recipe-key': key },
    files: {
      busybox: recipe.busybox,
      Dockerfile: join(dir, 'Dockerfile'),
      'testbed-init': join(dir, 'testbed-init'),
    },
  };
}

async function prepare(
  context: ImageBuildContext,
  dir: string,
): Promise<PreparedRecipe<TinyContainerInputs>> {
  await requireTools(['docker'], 'Building the tiny container image', context.env);
  const { key, inputs } = await tinyContainerBuild(dir);
  return { key, inputs };
}

async function build(
  context: ImageBuildContext,
  prepared: PreparedRecipe<TinyContainerInputs>,
  dir: string,
): Promise<void> {
  const { tags, labels, files } = await tinyContainerBuild(dir);
  const contextDir = await mkdtemp(join(tmpdir(), 'testbed-tiny-container-'));
  try {
    context.progress(`docker build ${REPOSITORY}:${prepared.key}`);
    for (const [name, path] of Object.entries(files)) await copyFile(path, join(contextDir, name));
    await context.run(
      'docker',
      [
        'build',
        '--quiet',
        '--force-rm',
        ...Object.entries(labels).flatMap(([key, value]) => ['--label', `${key}=${value}`]),
        ...tags.flatMap((tag) => ['--tag', tag]),
        contextDir,
      ],
      { timeoutMs: 300_000, ...(context.signal ? { signal: context.signal } : {}) },
    );
  } finally {
    await rm(contextDir, { recursive: true, force: true });
  }
}

/** The tiny container recipe (`fixtures/images/tiny-container`), tagged `testbed/tiny:<key>`. */
export function tinyContainerRecipe(
  dir: string = recipeDir('tiny-container'),
): ContainerImageRecipe<TinyContainerInputs> {
  return {
    kind: 'container',
    name: 'tiny-container',
    description: "FROM scratch + the host's busybox-static; prints testbed-ready, then idles",
    repository: REPOSITORY,
    prepare: (context) => prepare(context, dir),
    build: (context, prepared) => build(context, prepared, dir),
  };
}
