import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, delimiter, join, resolve } from 'node:path';
import { execa } from 'execa';
import { childEnv } from '../../fixtures/run-vitest.js';

const repo = resolve(import.meta.dirname, '../../..');

/** What `npm pack --json` says of the tarball. */
export interface PackedTarball {
  path: string;
  /** Compressed size in bytes. */
  size: number;
  unpackedSize: number;
  files: string[];
}

/** A Node binary for the projects of a compat row: the machine's own, or one from the registry. */
export interface NodeRuntime {
  /** Directory put first on PATH, or undefined for the machine's Node. */
  binDir: string | undefined;
  version: string;
}

/** The environment of a child of a compat row: `runtime`'s Node first on PATH, and `extra`. */
export function runtimeEnv(runtime: NodeRuntime, extra: Record<string, string> = {}) {
  const env = childEnv(extra);
  if (runtime.binDir) env.PATH = `${runtime.binDir}${delimiter}${env.PATH ?? ''}`;
  return env;
}

/** Runs a setup command under `runtime`, failing with its output when it does not succeed. */
export async function step(
  what: string,
  runtime: NodeRuntime,
  file: string,
  args: string[],
  cwd: string,
  env: Record<string, string> = {},
): Promise<string> {
  const result = await execa(file, args, {
    cwd,
    env: runtimeEnv(runtime, env),
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 300_000,
  });
  if (result.exitCode !== 0) {
    throw new Error(`${what} failed (exit ${result.exitCode}):\n${result.all}`);
  }
  return result.stdout;
}

/** The machine's own Node (the one running this test). */
export const machineNode: NodeRuntime = { binDir: undefined, version: process.version };

/**
 * Node `major` from the npm registry's `node` package, installed once in `dir` (shared by every
 * row of that major); its binary lands in `dir/node_modules/.bin`.
 */
export async function registryNode(dir: string, major: number): Promise<NodeRuntime> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: `node-${major}`, private: true }),
  );
  await step(
    `npm install node@${major} (the npm registry must be reachable)`,
    machineNode,
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', `node@${major}`],
    dir,
  );
  const binDir = join(dir, 'node_modules/.bin');
  const runtime: NodeRuntime = { binDir, version: '' };
  runtime.version = (await step('node --version', runtime, 'node', ['--version'], dir)).trim();
  if (!runtime.version.startsWith(`v${major}.`)) {
    throw new Error(`node@${major} installed ${runtime.version}`);
  }
  return runtime;
}

/** Packs the built repo as it is published into `dir`; `npm run build` must have run. */
export async function packTestbed(dir: string): Promise<PackedTarball> {
  if (!existsSync(join(repo, 'dist/vitest/index.js'))) {
    throw new Error(`${repo}/dist is missing: run \`npm run build\` before this test.`);
  }
  // --ignore-scripts: `prepare` would rebuild dist/ under the tests of this run that use it.
  const json = await step(
    'npm pack',
    machineNode,
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', dir],
    repo,
  );
  const [packed] = JSON.parse(json) as [
    { filename: string; size: number; unpackedSize: number; files: { path: string }[] },
  ];
  return {
    path: join(dir, packed.filename),
    size: packed.size,
    unpackedSize: packed.unpackedSize,
    files: packed.files.map((f) => f.path),
  };
}

/**
 * A new project `dir` (package.json of `type`) with `packages` installed by npm under `runtime`,
 * as a user of that Node would install them: npm picks versions whose engines that Node meets.
 */
export async function installProject(options: {
  dir: string;
  type: 'module' | 'commonjs';
  runtime: NodeRuntime;
  packages: string[];
}): Promise<string> {
  const { dir, type, runtime, packages } = options;
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name: basename(dir), private: true, type }),
  );
  await step(
    `npm install ${packages.map((p) => basename(p)).join(' ')} (the npm registry must be reachable)`,
    runtime,
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', ...packages],
    dir,
  );
  return dir;
}

/** The version of `name` installed in `project`. */
export function installedVersion(project: string, name: string): string {
  const file = join(project, 'node_modules', name, 'package.json');
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

/** Copies a folder of this repo into `project` (as `as`, default its own name), without caches. */
export function copyFromRepo(from: string, project: string, as = basename(from)): string {
  const to = join(project, as);
  cpSync(join(repo, from), to, { recursive: true, filter: (f) => !f.includes('node_modules') });
  return to;
}
