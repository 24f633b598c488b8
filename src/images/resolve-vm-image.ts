import { open, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { ImageNotFoundError } from '../core/errors.js';
import { builtInRecipes } from './image-recipes.js';
import { MANIFEST_FILE, readVmImageManifest, type VmImageManifest } from './vm-image-manifest.js';
import { CURRENT_LINK } from './vm-image-store.js';

/** A VM base image ready to put under an overlay, with what direct kernel boot needs if known. */
export interface VmImage {
  /** Cache name, when resolved from the image cache. */
  name?: string;
  /** Absolute path of the base disk; never written, only used as a backing file. */
  base: string;
  /** Format of the base disk, from its first bytes. */
  format: 'qcow2' | 'raw';
  /** Kernel for direct boot (images built by testbed). */
  kernel?: string;
  /** Initramfs for direct boot. */
  initrd?: string;
  /** Kernel command line for direct boot. */
  cmdline?: string;
  /** The build's manifest (images built by testbed). */
  manifest?: VmImageManifest;
}

/** Options of `resolveVmImage`. */
export interface ResolveVmImageOptions {
  /** Image cache directory. Default: `loadConfig(env).baseImagePath`. */
  cacheDir?: string;
  /** Environment for the configuration. Default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

const isPath = (value: string) => value.includes('/') || /\.(qcow2|img|raw)$/.test(value);

async function diskFormat(path: string): Promise<'qcow2' | 'raw'> {
  const handle = await open(path, 'r');
  try {
    const { buffer } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    return buffer.toString('latin1') === 'QFI\xfb' ? 'qcow2' : 'raw';
  } finally {
    await handle.close();
  }
}

async function fromBuildDir(dir: string, name?: string): Promise<VmImage> {
  const manifest = await readVmImageManifest(dir);
  return {
    ...(name ? { name } : {}),
    base: join(dir, manifest.files.base.path),
    format: 'qcow2',
    kernel: join(dir, manifest.files.kernel.path),
    initrd: join(dir, manifest.files.initrd.path),
    cmdline: manifest.cmdline,
    manifest,
  };
}

function notCachedFix(name: string): string {
  const recipes = builtInRecipes();
  const recipe = recipes.find((r) => r.name === name);
  if (recipe?.kind === 'vm') return `Build it: \`npx testbed images build ${name}\`.`;
  if (recipe) return `'${name}' is a container image; use it with a container provider.`;
  const vmNames = recipes.filter((r) => r.kind === 'vm').map((r) => r.name);
  return `Use a built-in image (${vmNames.join(', ')}; build with \`npx testbed images build <name>\`) or the path of a qcow2 file.`;
}

/**
 * Resolves an image cache name (`tiny-vm`) or a path (a qcow2 file, or a build directory holding
 * a manifest) to the files a VM boots from. Paths inside the cache are resolved through the
 * `current` link to the immutable build directory, so overlays keep a stable backing file.
 */
export async function resolveVmImage(
  nameOrPath: string,
  options: ResolveVmImageOptions = {},
): Promise<VmImage> {
  if (isPath(nameOrPath)) {
    const path = resolve(nameOrPath);
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      const manifest = await stat(join(path, MANIFEST_FILE)).catch(() => undefined);
      if (manifest) return fromBuildDir(path);
    } else if (info?.isFile()) {
      return { base: path, format: await diskFormat(path) };
    }
    throw new ImageNotFoundError(nameOrPath, {
      fix: `No qcow2 file or built image directory at ${path}; check the path.`,
    });
  }
  const cacheDir = options.cacheDir ?? loadConfig(options.env ?? process.env).baseImagePath;
  const dir = await realpath(join(cacheDir, nameOrPath, CURRENT_LINK)).catch(() => undefined);
  const manifest = dir && (await stat(join(dir, MANIFEST_FILE)).catch(() => undefined));
  if (!dir || !manifest) {
    throw new ImageNotFoundError(nameOrPath, {
      fix: `It is not in the image cache ${cacheDir}. ${notCachedFix(nameOrPath)}`,
    });
  }
  return fromBuildDir(dir, nameOrPath);
}
