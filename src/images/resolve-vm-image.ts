import { open, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { loadConfig } from '../core/config.js';
import { ImageNotFoundError } from '../core/errors.js';
import { builtInRecipes } from './image-recipes.js';
import {
  MANIFEST_FILE,
  type ReadySignal,
  readVmImageManifest,
  type VmImageManifest,
} from './vm-image-manifest.js';
import { CURRENT_LINK } from './vm-image-store.js';

export type { ReadySignal } from './vm-image-manifest.js';

/**
 * A VM base image ready to put under an overlay, with what booting it needs if known: images
 * built by testbed fill `boot`, `sshUser` and `ready` from their manifest (and the direct-boot
 * files for `boot: 'direct'`); for a plain disk file they are undefined and the provisioner
 * decides.
 */
export interface VmImage {
  /** Cache name, when resolved from the image cache. */
  name?: string;
  /** Absolute path of the base disk; never written, only used as a backing file. */
  base: string;
  /** Format of the base disk, from its first bytes. */
  format: 'qcow2' | 'raw';
  /** `direct`: boot `kernel`/`initrd` with `cmdline`; `disk`: the disk's own boot loader. */
  boot?: 'direct' | 'disk';
  /** The user the seed's SSH key is authorized for (`root` for tiny-vm, `debian` for debian-12). */
  sshUser?: string;
  /** How a machine booted from it tells it is ready. */
  ready?: ReadySignal;
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

/** Smallest file taken for a raw disk image: a partition table and a filesystem need more. */
export const MIN_RAW_DISK_BYTES = 1024 * 1024;

/**
 * `qcow2` when the file starts with the qcow2 magic, `raw` for any other file of at least
 * `MIN_RAW_DISK_BYTES`; a smaller file is no disk image (`ImageNotFoundError`).
 */
async function diskFormat(
  nameOrPath: string,
  path: string,
  size: number,
): Promise<'qcow2' | 'raw'> {
  const handle = await open(path, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead === 4 && buffer.toString('latin1') === 'QFI\xfb') return 'qcow2';
  } finally {
    await handle.close();
  }
  if (size < MIN_RAW_DISK_BYTES) {
    throw new ImageNotFoundError(nameOrPath, {
      fix: `${path} is not a disk image: it is ${size === 0 ? 'empty' : `${size} bytes`}, not a qcow2 file, and too small for a raw disk (under 1 MiB). Check the path, or build an image with \`npx testbed images build <name>\`.`,
    });
  }
  return 'raw';
}

async function fromBuildDir(dir: string, name?: string): Promise<VmImage> {
  const manifest = await readVmImageManifest(dir);
  const { kernel, initrd } = manifest.files;
  const direct = manifest.boot === 'direct';
  return {
    ...(name ? { name } : {}),
    base: join(dir, manifest.files.base.path),
    format: 'qcow2',
    boot: manifest.boot,
    sshUser: manifest.sshUser,
    ready: manifest.ready,
    ...(direct && kernel ? { kernel: join(dir, kernel.path) } : {}),
    ...(direct && initrd ? { initrd: join(dir, initrd.path) } : {}),
    ...(direct && manifest.cmdline ? { cmdline: manifest.cmdline } : {}),
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
      return { base: path, format: await diskFormat(nameOrPath, path, info.size) };
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
