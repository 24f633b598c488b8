import { loadConfig } from '../core/config.js';
import { type RunCommand, runCommand } from '../core/run-command.js';
import type { ImageBuildContext } from './image-recipe.js';
import { prepareCacheDir } from './prepare-cache-dir.js';
import { createProgressReporter, type ProgressReporter } from './progress.js';

/** Options shared by the image functions; every field has a default from the environment. */
export interface ImageOptions {
  /** Image cache directory. Default: `loadConfig(env).baseImagePath`. */
  cacheDir?: string;
  /** Environment for configuration and tool lookup. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Runs external tools. Default `runCommand`. */
  run?: RunCommand;
  /** Progress lines. Default: stderr on a TTY outside CI, otherwise quiet. */
  progress?: ProgressReporter;
  /** Aborts the operation; a build in progress is removed. */
  signal?: AbortSignal;
}

/** Resolves the defaults and creates the cache directory (mode 0755 along the way). */
export async function createBuildContext(options: ImageOptions = {}): Promise<ImageBuildContext> {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? loadConfig(env).baseImagePath;
  await prepareCacheDir(cacheDir);
  return {
    cacheDir,
    env,
    run: options.run ?? runCommand,
    progress: options.progress ?? createProgressReporter(process.stderr, env),
    signal: options.signal,
  };
}
