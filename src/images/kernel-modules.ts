import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageBuildError } from '../core/errors.js';

/** A module to load, in dependency order. */
export interface KernelModule {
  /** Module name with underscores, as `depends=` spells it. */
  name: string;
  /** Path of the `.ko` file. */
  path: string;
}

/** The modules of one kernel: where each `.ko` is, and which modules are built in. */
export interface KernelModuleIndex {
  /** Module name (underscores) to `.ko` path. */
  files: Map<string, string>;
  /** Names of modules compiled into the kernel image. */
  builtin: Set<string>;
}

const normalise = (name: string) => name.replaceAll('-', '_');

/** The `depends=` field of a module's `.modinfo` section: the modules it needs loaded first. */
export function readModuleDepends(ko: Buffer): string[] {
  const match = /\0depends=([A-Za-z0-9_,-]*)\0/.exec(`\0${ko.toString('latin1')}`);
  if (!match) return [];
  return (match[1] as string).split(',').filter(Boolean).map(normalise);
}

/** Indexes `/lib/modules/<version>` of an extracted kernel package. */
export async function indexKernelModules(modulesDir: string): Promise<KernelModuleIndex> {
  const files = new Map<string, string>();
  for (const entry of await readdir(join(modulesDir, 'kernel'), { recursive: true })) {
    const match = /([^/]+)\.ko(\.[a-z]+)?$/.exec(entry);
    if (match) files.set(normalise(match[1] as string), join(modulesDir, 'kernel', entry));
  }
  const builtinList = await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '');
  const builtin = new Set(
    builtinList
      .split('\n')
      .map((line) => /([^/]+)\.ko$/.exec(line.trim())?.[1])
      .filter((name): name is string => name !== undefined)
      .map(normalise),
  );
  return { files, builtin };
}

/**
 * Orders `wanted` modules and everything their `depends=` fields pull in so each module comes
 * after its dependencies; built-in modules are skipped. Throws `ImageBuildError` naming a module
 * the kernel has in neither form, or one stored compressed.
 */
export async function resolveModuleLoadOrder(
  wanted: readonly string[],
  index: KernelModuleIndex,
  readDepends: (path: string) => Promise<string[]> = async (path) =>
    readModuleDepends(await readFile(path)),
): Promise<KernelModule[]> {
  const order: KernelModule[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = async (name: string, chain: string[]): Promise<void> => {
    if (state.get(name) === 'done' || index.builtin.has(name)) return;
    if (state.get(name) === 'visiting') {
      throw new ImageBuildError(
        `Kernel modules depend on each other in a cycle: ${[...chain, name].join(' -> ')}.`,
      );
    }
    const path = index.files.get(name);
    if (!path) {
      throw new ImageBuildError(
        `The kernel has no module '${name}'${chain.length ? ` (needed by ${chain.join(' -> ')})` : ''}, and it is not built in.`,
        { fix: 'Use a kernel that provides it, or remove it from the recipe\'s "modules" list.' },
      );
    }
    if (!path.endsWith('.ko')) {
      throw new ImageBuildError(
        `Kernel module ${path} is compressed; the recipe reads plain .ko files.`,
        {
          fix: 'Use a kernel package with uncompressed modules (as Debian 12 cloud kernels ship).',
        },
      );
    }
    state.set(name, 'visiting');
    for (const dependency of await readDepends(path)) await visit(dependency, [...chain, name]);
    state.set(name, 'done');
    order.push({ name, path });
  };
  for (const name of wanted) await visit(normalise(name), []);
  return order;
}
