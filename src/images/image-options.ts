import { loadConfig } from '../core/config.js';
import { type RunCommand, runCommand } from '../core/run-command.js';
import type { ImageBuildContext } from './image-recipe.js';
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

/**
 * Resolves the defaults. Touches no file: a prepared, read-only cache serves machines without
 * write access; the stores call `prepareCacheDir` only when they are about to write.
 */
export function createBuildContext(options: ImageOptions = {}): ImageBuildContext {
  const env = options.env ?? process.env;
  const cacheDir = options.cacheDir ?? loadConfig(env).baseImagePath;
  return {
    cacheDir,
    env,
    run: options.run ?? runCommand,
    progress: options.progress ?? createProgressReporter(process.stderr, env),
    signal: options.signal,
  };
}
