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

async function prepare(
  context: ImageBuildContext,
  dir: string,
): Promise<PreparedRecipe<TinyContainerInputs>> {
  await requireTools(['docker'], 'Building the tiny container image', context.env);
  const recipe = recipeSchema.parse(JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')));
  const busybox = await readBusybox(recipe.busybox, recipe.busyboxPackage);
  const digest = await hashRecipeFiles(dir);
  const busyboxSha256 = createHash('sha256').update(busybox).digest('hex');
  return {
    key: cacheKey({ recipe: digest.sha256, busybox: busyboxSha256 }),
    inputs: { recipeFiles: digest.files, busyboxSha256 },
  };
}

async function build(
  context: ImageBuildContext,
  prepared: PreparedRecipe<TinyContainerInputs>,
  dir: string,
): Promise<void> {
  const recipe = recipeSchema.parse(JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')));
  const contextDir = await mkdtemp(join(tmpdir(), 'testbed-tiny-container-'));
  try {
    context.progress(`docker build ${REPOSITORY}:${prepared.key}`);
    await copyFile(recipe.busybox, join(contextDir, 'busybox'));
    for (const name of ['Dockerfile', 'testbed-init']) {
      await copyFile(join(dir, name), join(contextDir, name));
    }
    await context.run(
      'docker',
      [
        'build',
        '--quiet',
        '--force-rm',
        '--label',
        `testbed.image=${recipe.name}`,
        '--label',
        `testbed.recipe-key=${prepared.key}`,
        '--tag',
        `${REPOSITORY}:${prepared.key}`,
        '--tag',
        `${REPOSITORY}:latest`,
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
