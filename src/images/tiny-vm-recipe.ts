import { createHash } from 'node:crypto';
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { z } from 'zod';
import { ImageBuildError } from '../core/errors.js';
import { buildInitramfs } from './build-initramfs.js';
import { checkFreeSpace } from './check-free-space.js';
import {
  type DebianPackage,
  downloadDebianPackages,
  resolveDebianPackages,
  resolveDebianPackagesCached,
} from './debian-packages.js';
import { recipeDir } from './fixtures-dir.js';
import { cacheKey, hashRecipeFiles, uuidFromKey } from './hash-recipe-files.js';
import type { ImageBuildContext, PreparedRecipe, VmImageRecipe } from './image-recipe.js';
import { indexKernelModules, resolveModuleLoadOrder } from './kernel-modules.js';
import { requireTools } from './require-tools.js';
import { resolveSharedLibraries } from './shared-libraries.js';
import { MANIFEST_FILE, type VmImageManifest } from './vm-image-manifest.js';

const recipeSchema = z.object({
  name: z.string(),
  recipeVersion: z.number().int(),
  kernelMetapackage: z.string(),
  busyboxPackage: z.string(),
  sshPackage: z.string(),
  sshServer: z.string(),
  libraryPackages: z.array(z.string()),
  modules: z.array(z.string()).min(1),
  diskSizeMiB: z.number().int().min(16),
  cmdline: z.string(),
});

type TinyVmRecipeFile = z.infer<typeof recipeSchema>;

/** What a tiny-vm build is made of: the recipe, its files' hashes, and the pinned packages. */
export interface TinyVmInputs {
  /** Parsed `recipe.json`. */
  recipe: TinyVmRecipeFile;
  /** Hash of every recipe file. */
  recipeFiles: Record<string, string>;
  /** Kernel metapackage, busybox, SSH server and libraries, at their candidate versions. */
  packages: DebianPackage[];
}

const TOOLS = ['apt-cache', 'apt-get', 'dpkg-deb', 'env', 'mkfs.ext4', 'qemu-img'] as const;
const READINESS_PATTERN = 'testbed-ready (\\S+)';
const MiB = 1024 * 1024;

async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

async function prepare(
  context: ImageBuildContext,
  dir: string,
): Promise<PreparedRecipe<TinyVmInputs>> {
  await requireTools(TOOLS, 'Building the tiny-vm image', context.env);
  const recipe = recipeSchema.parse(JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')));
  const digest = await hashRecipeFiles(dir);
  const names = [
    recipe.kernelMetapackage,
    recipe.busyboxPackage,
    recipe.sshPackage,
    ...recipe.libraryPackages,
  ];
  const memo = join(context.cacheDir, '.tiny-vm-packages.json');
  const packages = await resolveDebianPackagesCached(names, context.run, memo, context.signal);
  const key = cacheKey({
    recipe: digest.sha256,
    packages: packages.map((p) => [p.name, p.version, p.sha256]),
  });
  return { key, inputs: { recipe, recipeFiles: digest.files, packages } };
}

async function extract(context: ImageBuildContext, deb: string, into: string): Promise<void> {
  await mkdir(into, { recursive: true });
  await context.run('dpkg-deb', ['-x', deb, into], { timeoutMs: 120_000 });
}

/**
 * Extracts a .deb once into `<deb>.d` next to it and reuses that afterwards: unpacking the kernel
 * (over 100 MB of modules) is the slowest step of a build whose packages are already downloaded.
 */
async function extractOnce(context: ImageBuildContext, deb: string): Promise<string> {
  const dir = `${deb}.d`;
  if (await stat(dir).catch(() => undefined)) return dir;
  const temp = await mkdtemp(join(dirname(deb), '.extract-'));
  try {
    await context.run('dpkg-deb', ['-x', deb, temp], { timeoutMs: 120_000 });
    await rename(temp, dir);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
  return dir;
}

/** Removes downloaded packages and extractions this build did not use (older versions). */
async function pruneDebDir(debDir: string, used: readonly string[]): Promise<void> {
  const keep = new Set(used.flatMap((deb) => [basename(deb), `${basename(deb)}.d`]));
  for (const entry of await readdir(debDir)) {
    if (!entry.startsWith('.') && !keep.has(entry)) {
      await rm(join(debDir, entry), { recursive: true, force: true });
    }
  }
}

/** Copies the recipe's `rootfs/` overlay: executables 0755, `etc/shadow` 0600, the rest 0644. */
async function copyOverlay(from: string, to: string): Promise<void> {
  for (const path of (await readdir(from, { recursive: true })).sort()) {
    const info = await stat(join(from, path));
    if (info.isDirectory()) {
      await mkdir(join(to, path), { recursive: true, mode: 0o755 });
      continue;
    }
    await mkdir(dirname(join(to, path)), { recursive: true });
    await copyFile(join(from, path), join(to, path));
    const mode = path === 'etc/shadow' ? 0o600 : info.mode & 0o111 ? 0o755 : 0o644;
    await chmod(join(to, path), mode);
  }
}

async function assembleRootfs(
  context: ImageBuildContext,
  recipe: TinyVmRecipeFile,
  dirs: { rootfs: string; busybox: string; libs: string; overlay: string },
): Promise<void> {
  const { rootfs } = dirs;
  for (const dir of ['bin', 'dev', 'etc/dropbear', 'lib', 'mnt', 'proc', 'run', 'sbin', 'sys']) {
    await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  for (const dir of ['usr/bin', 'usr/sbin', 'var/log']) {
    await mkdir(join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  await mkdir(join(rootfs, 'root'), { mode: 0o700 });
  await mkdir(join(rootfs, 'tmp'));
  await chmod(join(rootfs, 'tmp'), 0o1777);
  await symlink('/run', join(rootfs, 'var/run'));

  const busybox = join(dirs.busybox, 'bin/busybox');
  await copyFile(busybox, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  const { stdout } = await context.run(busybox, ['--list-full'], { timeoutMs: 10_000 });
  for (const applet of stdout.split('\n').map((l) => l.trim())) {
    if (!applet.includes('/') || applet === 'bin/busybox') continue;
    await mkdir(dirname(join(rootfs, applet)), { recursive: true });
    await symlink('/bin/busybox', join(rootfs, applet));
  }

  const server = join(dirs.libs, recipe.sshServer);
  await mkdir(dirname(join(rootfs, recipe.sshServer)), { recursive: true });
  await copyFile(server, join(rootfs, recipe.sshServer));
  await chmod(join(rootfs, recipe.sshServer), 0o755);
  for (const library of await resolveSharedLibraries(server, dirs.libs, context.run)) {
    await mkdir(dirname(join(rootfs, library.target)), { recursive: true });
    await copyFile(library.source, join(rootfs, library.target));
    await chmod(join(rootfs, library.target), 0o755);
  }
  await copyOverlay(dirs.overlay, rootfs);
}

async function build(
  context: ImageBuildContext,
  prepared: PreparedRecipe<TinyVmInputs>,
  { outDir, workDir }: { outDir: string; workDir: string },
  dir: string,
): Promise<void> {
  const { recipe, packages } = prepared.inputs;
  const { run, progress } = context;
  const tools = await requireTools(TOOLS, 'Building the tiny-vm image', context.env);
  await checkFreeSpace(context.cacheDir, 512 * MiB, 'building the tiny-vm image');
  const [meta, busyboxPkg, sshPkg, ...libraryPkgs] = packages as [
    DebianPackage,
    DebianPackage,
    DebianPackage,
    ...DebianPackage[],
  ];
  const kernelName = /(linux-image-[^\s,(]+)/.exec(meta.depends)?.[1];
  if (!kernelName) {
    throw new ImageBuildError(`${meta.name} ${meta.version} depends on no linux-image package.`, {
      fix: `Check \`apt-cache depends ${meta.name}\`; the recipe expects a kernel metapackage.`,
    });
  }
  const [kernelPkg] = await resolveDebianPackages([kernelName], run, context.signal);
  const debDir = join(context.cacheDir, 'debs');
  await mkdir(debDir, { recursive: true, mode: 0o755 });
  const [kernelDeb, busyboxDeb, sshDeb, ...libraryDebs] = await downloadDebianPackages(
    [kernelPkg as DebianPackage, busyboxPkg, sshPkg, ...libraryPkgs],
    debDir,
    run,
    progress,
    context.signal,
  );

  progress('extracting packages');
  const busybox = join(workDir, 'busybox');
  const libs = join(workDir, 'libs');
  const [kernel] = await Promise.all([
    extractOnce(context, kernelDeb as string),
    extract(context, busyboxDeb as string, busybox),
    (async () => {
      for (const deb of [sshDeb as string, ...(libraryDebs as string[])])
        await extract(context, deb, libs);
    })(),
  ]);
  const versions = await readdir(join(kernel, 'lib/modules'));
  const kernelVersion = versions[0];
  if (versions.length !== 1 || !kernelVersion) {
    throw new ImageBuildError(
      `Expected one kernel in ${kernelName}, found: ${versions.join(', ')}.`,
    );
  }

  progress(`building the initramfs for kernel ${kernelVersion}`);
  const index = await indexKernelModules(join(kernel, 'lib/modules', kernelVersion));
  const modules = await resolveModuleLoadOrder(recipe.modules, index);
  await buildInitramfs(
    { busybox: join(busybox, 'bin/busybox'), init: join(dir, 'initramfs/init'), modules },
    join(outDir, 'initrd.img'),
  );
  await copyFile(join(kernel, 'boot', `vmlinuz-${kernelVersion}`), join(outDir, 'vmlinuz'));

  progress('assembling the root filesystem');
  const rootfs = join(workDir, 'rootfs');
  await assembleRootfs(context, recipe, { rootfs, busybox, libs, overlay: join(dir, 'rootfs') });

  progress(`mkfs.ext4 (${recipe.diskSizeMiB} MiB)`);
  const raw = join(workDir, 'root.raw');
  await run(
    tools['mkfs.ext4'] as string,
    [
      '-q',
      '-F',
      '-L',
      'testbed-root',
      '-U',
      uuidFromKey(prepared.key),
      '-E',
      'root_owner=0:0',
    ].concat(['-d', rootfs, raw, `${recipe.diskSizeMiB}M`]),
    { timeoutMs: 120_000 },
  );
  progress('qemu-img convert to compressed qcow2');
  const base = join(outDir, 'base.qcow2');
  await run(
    tools['qemu-img'] as string,
    ['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', raw, base],
    {
      timeoutMs: 300_000,
    },
  );
  await rm(raw, { force: true });

  const describe = async (name: string) => {
    const path = join(outDir, name);
    await chmod(path, 0o644);
    return { path: name, sizeBytes: (await stat(path)).size, sha256: await sha256File(path) };
  };
  const manifest: VmImageManifest = {
    name: recipe.name,
    recipeVersion: recipe.recipeVersion,
    key: prepared.key,
    builtAt: new Date().toISOString(),
    boot: 'direct',
    firmware: 'bios',
    kernelVersion,
    cmdline: recipe.cmdline,
    sshUser: 'root',
    ready: { kind: 'console', pattern: READINESS_PATTERN },
    readinessPattern: READINESS_PATTERN,
    virtualSizeBytes: recipe.diskSizeMiB * MiB,
    files: {
      base: await describe('base.qcow2'),
      kernel: await describe('vmlinuz'),
      initrd: await describe('initrd.img'),
    },
    modules: modules.map((m) => m.name),
    inputs: {
      recipeFiles: prepared.inputs.recipeFiles,
      packages: [kernelPkg as DebianPackage, ...packages].map(({ name, version, sha256 }) => ({
        name,
        version,
        sha256,
      })),
    },
  };
  await pruneDebDir(debDir, [kernelDeb, busyboxDeb, sshDeb, ...libraryDebs] as string[]);
  await writeFile(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o644,
  });
}

/** The tiny VM recipe (`fixtures/images/tiny-vm`): boots to SSH in seconds under TCG. */
export function tinyVmRecipe(dir: string = recipeDir('tiny-vm')): VmImageRecipe<TinyVmInputs> {
  return {
    kind: 'vm',
    name: 'tiny-vm',
    description:
      'Debian cloud kernel + busybox + dropbear, NoCloud seed, qcow2 for direct kernel boot',
    prepare: (context) => prepare(context, dir),
    build: (context, prepared, dirs) => build(context, prepared, dirs, dir),
  };
}
