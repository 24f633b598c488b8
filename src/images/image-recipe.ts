import type { RunCommand } from '../core/run-command.js';
import type { ProgressReporter } from './progress.js';

/** What a recipe gets to compute its key and build. */
export interface ImageBuildContext {
  /** The image cache directory (already created). */
  cacheDir: string;
  /** Runs external tools. */
  run: RunCommand;
  /** Progress lines for long steps. */
  progress: ProgressReporter;
  /** Environment (PATH for tool lookup). */
  env: NodeJS.ProcessEnv;
  /** Aborts the build; whatever was half-built is removed. */
  signal?: AbortSignal | undefined;
}

/** A recipe resolved against this host: its cache key and what went into it. */
export interface PreparedRecipe<Inputs = unknown> {
  /** Hash of the recipe files and resolved inputs (package versions, binaries). */
  key: string;
  /** The resolved inputs, recorded in the manifest. */
  inputs: Inputs;
}

/** A recipe that builds a VM image into a directory (base.qcow2, vmlinuz, initrd.img, manifest.json). */
export interface VmImageRecipe<Inputs = unknown> {
  /** Builds VM images. */
  readonly kind: 'vm';
  /** Name in the cache, e.g. `tiny-vm`. */
  readonly name: string;
  /** One line for `images ls` and `--help`. */
  readonly description: string;
  /** Resolves the inputs and the key; fast, offline. */
  prepare(context: ImageBuildContext): Promise<PreparedRecipe<Inputs>>;
  /**
   * Writes the image into `dirs.outDir`, a fresh directory renamed into place on success;
   * `dirs.workDir` is scratch space on the same filesystem, removed afterwards either way.
   */
  build(
    context: ImageBuildContext,
    prepared: PreparedRecipe<Inputs>,
    dirs: { outDir: string; workDir: string },
  ): Promise<void>;
}

/** A recipe that builds a Docker image through the local engine, tagged `<repository>:<key>`. */
export interface ContainerImageRecipe<Inputs = unknown> {
  /** Builds container images. */
  readonly kind: 'container';
  /** Name in the cache, e.g. `tiny-container`. */
  readonly name: string;
  /** One line for `images ls` and `--help`. */
  readonly description: string;
  /** Docker repository the image is tagged in, e.g. `testbed/tiny`. */
  readonly repository: string;
  /** Resolves the inputs and the key; fast, offline. */
  prepare(context: ImageBuildContext): Promise<PreparedRecipe<Inputs>>;
  /** Builds and tags `<repository>:<key>` (and `:latest`). */
  build(context: ImageBuildContext, prepared: PreparedRecipe<Inputs>): Promise<void>;
}

/** Any image recipe. */
export type ImageRecipe = VmImageRecipe | ContainerImageRecipe;
