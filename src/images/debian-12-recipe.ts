import { createHash } from 'node:crypto';
import { chmod, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { ImageBuildError, isTestbedError } from '../core/errors.js';
import { debianSourcesFromPolicy, formatSourcesList, forwardedAptOptions } from './apt-sources.js';
import { checkFreeSpace } from './check-free-space.js';
import { type DebianPackage, debFileName, resolveDebianPackagesCached } from './debian-packages.js';
import { recipeDir } from './fixtures-dir.js';
import { cacheKey, hashRecipeFiles, uuidFromKey } from './hash-recipe-files.js';
import type { ImageBuildContext, PreparedRecipe, VmImageRecipe } from './image-recipe.js';
import { prepareCacheDir } from './prepare-cache-dir.js';
import { requireTools } from './require-tools.js';
import { MANIFEST_FILE, type VmImageManifest } from './vm-image-manifest.js';

const recipeSchema = z.object({
  name: z.string(),
  recipeVersion: z.number().int(),
  suite: z.string(),
  packages: z.array(z.string()).min(1),
  excludePaths: z.array(z.string()),
  includePaths: z.array(z.string()),
  diskSizeMiB: z.number().int().min(1024),
  sshUser: z.string(),
});

type DebianRecipeFile = z.infer<typeof recipeSchema>;

/** What a debian-12 build is made of: the recipe, its files' hashes, the pinned top-level packages. */
export interface DebianImageInputs {
  /** Parsed `recipe.json`. */
  recipe: DebianRecipeFile;
  /** Hash of every recipe file. */
  recipeFiles: Record<string, string>;
  /** The packages the recipe names, at the host's candidate versions (their dependencies follow). */
  packages: DebianPackage[];
}

/** Tools the build runs; `prepare` needs only apt-cache, so a cached image needs none of these. */
export const DEBIAN_BUILD_TOOLS = [
  'apt-cache',
  'apt-config',
  'chroot',
  'e2fsck',
  'fstrim',
  'losetup',
  'mkfs.ext4',
  'mmdebstrap',
  'mount',
  'partx',
  'qemu-img',
  'sfdisk',
  'sh',
  'truncate',
  'umount',
  'unshare',
] as const;

/** The console line cloud-init prints when it is done (`ready: cloud-init`'s console twin). */
export const CLOUD_INIT_FINISHED_PATTERN = 'Cloud-init v\\. \\S+ finished at';
const MiB = 1024 * 1024;
const BUILD_TIMEOUT_MS = 20 * 60_000;

async function prepare(
  context: ImageBuildContext,
  dir: string,
): Promise<PreparedRecipe<DebianImageInputs>> {
  await requireTools(['apt-cache'], 'Resolving the debian-12 image', context.env);
  const recipe = recipeSchema.parse(JSON.parse(await readFile(join(dir, 'recipe.json'), 'utf8')));
  const digest = await hashRecipeFiles(dir);
  const memo = join(context.cacheDir, `.${recipe.name}-packages.json`);
  const packages = await resolveDebianPackagesCached(
    recipe.packages,
    context.run,
    memo,
    context.signal,
  );
  const key = cacheKey({
    recipe: digest.sha256,
    packages: packages.map((p) => [p.name, p.version, p.sha256]),
  });
  return { key, inputs: { recipe, recipeFiles: digest.files, packages } };
}

/** Reports every new line of `path` (a file another process appends to) until stopped. */
function followLines(
  path: string,
  report: (line: string) => void,
  intervalMs = 500,
): () => Promise<void> {
  let seen = 0;
  let reading: Promise<void> = Promise.resolve();
  const poll = () => {
    reading = reading.then(async () => {
      const text = await readFile(path, 'utf8').catch(() => '');
      const lines = text.split('\n');
      lines.pop(); // the last, unfinished line waits for its newline
      for (const line of lines.slice(seen)) report(line);
      seen = Math.max(seen, lines.length);
    });
  };
  const timer = setInterval(poll, intervalMs);
  return async () => {
    clearInterval(timer);
    poll();
    await reading;
  };
}

/** mmdebstrap's lines worth a progress line (its steps, not its chatter). */
const MMDEBSTRAP_STEP = /^I: (running apt-get update|downloading|extracting|installing)/;

function tail(text: string, lines = 15): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}

/** Detaches loop devices still backed by `raw` (a build killed before its own cleanup ran). */
async function detachLoops(
  context: ImageBuildContext,
  tools: Record<string, string>,
  raw: string,
): Promise<void> {
  const losetup = tools.losetup as string;
  const options = { reject: false, timeoutMs: 10_000 };
  const { stdout } = await context.run(losetup, ['-j', raw], options);
  for (const device of stdout.split('\n').map((l) => /^(\/dev\/loop\d+):/.exec(l)?.[1])) {
    if (!device) continue;
    await context.run(tools.partx as string, ['--delete', device], options);
    await context.run(losetup, ['--detach', device], options);
  }
}

/** Parses build.sh's packages.tsv (name, version, architecture per line). */
export function parseInstalledPackages(
  text: string,
): { name: string; version: string; architecture: string }[] {
  return text
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', version = '', architecture = ''] = line.split('\t');
      return { name, version, architecture };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** Removes .debs of the reuse cache that this build did not install (older versions). */
async function pruneDebs(
  debDir: string,
  installed: readonly { name: string; version: string; architecture: string }[],
): Promise<void> {
  const keep = new Set(
    installed.map((p) => debFileName({ ...p, sha256: '', size: 0, depends: '' })),
  );
  for (const entry of await readdir(debDir).catch(() => [] as string[])) {
    if (entry.endsWith('.deb') && !keep.has(entry)) {
      await rm(join(debDir, entry), { force: true });
    }
  }
}

async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Host facts the build depends on; injected by tests. */
export interface DebianRecipeHost {
  /** The user id the build runs as. Default `process.getuid()`. */
  uid?: number | undefined;
}

async function build(
  context: ImageBuildContext,
  prepared: PreparedRecipe<DebianImageInputs>,
  { outDir, workDir }: { outDir: string; workDir: string },
  dir: string,
  host: DebianRecipeHost,
): Promise<void> {
  const { recipe } = prepared.inputs;
  const { run, progress } = context;
  const purpose = `Building the ${recipe.name} image`;
  const tools = await requireTools(DEBIAN_BUILD_TOOLS, purpose, context.env);
  if (('uid' in host ? host.uid : process.getuid?.()) !== 0) {
    throw new ImageBuildError(`${purpose} needs root: it uses a loop device, mounts and chroot.`, {
      fix: 'Build it as root once (`sudo npx testbed images build debian-12`); machines then reuse the cached image without root.',
    });
  }
  await checkFreeSpace(
    context.cacheDir,
    (recipe.diskSizeMiB + 512) * MiB,
    `building the ${recipe.name} image`,
  );
  context.signal?.throwIfAborted();

  // The mirror is the one the host's apt uses for this suite, as apt itself reports it.
  const policy = await run(tools['apt-cache'] as string, ['policy'], { timeoutMs: 60_000 });
  const sources = debianSourcesFromPolicy(policy.stdout, recipe.suite);
  if (sources.length === 0) {
    throw new ImageBuildError(`apt on this host has no Debian ${recipe.suite} package lists.`, {
      fix: `Add a Debian mirror for ${recipe.suite} (e.g. \`deb http://deb.debian.org/debian ${recipe.suite} main\`) to /etc/apt/sources.list and run \`apt-get update\`.`,
    });
  }
  const sourcesFile = join(workDir, 'sources.list');
  await writeFile(sourcesFile, formatSourcesList(sources));
  const aptConfig = await run(tools['apt-config'] as string, ['dump'], { timeoutMs: 30_000 });
  const options = [
    ...forwardedAptOptions(aptConfig.stdout).map((o) => `--aptopt=${o}`),
    ...recipe.excludePaths.map((p) => `--dpkgopt=path-exclude=${p}`),
    ...recipe.includePaths.map((p) => `--dpkgopt=path-include=${p}`),
  ];
  const debDir = join(context.cacheDir, recipe.name, '.debs');
  await prepareCacheDir(debDir);

  const rootUuid = uuidFromKey(prepared.key);
  const raw = join(workDir, 'disk.raw');
  const stop = [
    followLines(join(workDir, 'progress'), progress),
    followLines(join(workDir, 'mmdebstrap.log'), (line) => {
      if (MMDEBSTRAP_STEP.test(line)) progress(`mmdebstrap: ${line.slice(3).replace(/\.+$/, '')}`);
    }),
  ];
  let failure: unknown;
  try {
    await run(
      tools.unshare as string,
      [
        '--mount',
        '--propagation',
        'private',
        tools.sh as string,
        join(dir, 'build.sh'),
        workDir,
        String(recipe.diskSizeMiB),
        rootUuid,
        join(dir, 'rootfs'),
        debDir,
        recipe.suite,
        sourcesFile,
        recipe.packages.join(','),
        ...options,
      ],
      {
        timeoutMs: BUILD_TIMEOUT_MS,
        ...(context.signal ? { signal: context.signal } : {}),
      },
    );
  } catch (error) {
    failure = error;
  } finally {
    await Promise.all(stop.map((s) => s()));
  }
  if (failure !== undefined) {
    await detachLoops(context, tools, raw);
    if (context.signal?.aborted) throw failure;
    const log = await readFile(join(workDir, 'mmdebstrap.log'), 'utf8').catch(() => '');
    const steps = await readFile(join(workDir, 'progress'), 'utf8').catch(() => '');
    const step = tail(steps, 1) || 'starting';
    throw new ImageBuildError(`${purpose} failed while ${step}.`, {
      cause: failure,
      fix: [
        'Check that the Debian mirror is reachable (`apt-get update`) and that loop devices work (`losetup -f`).',
        isTestbedError(failure) ? failure.message : String(failure),
        log ? `mmdebstrap.log (last lines):\n${tail(log)}` : '',
      ]
        .filter(Boolean)
        .join('\n  '),
    });
  }

  progress('qemu-img convert to compressed qcow2 (zstd)');
  const base = join(outDir, 'base.qcow2');
  await run(
    tools['qemu-img'] as string,
    ['convert', '-q', '-c', '-o', 'compression_type=zstd', '-f', 'raw', '-O', 'qcow2', raw, base],
    { timeoutMs: 600_000, ...(context.signal ? { signal: context.signal } : {}) },
  );
  await rm(raw, { force: true });
  await chmod(base, 0o644);

  const installed = parseInstalledPackages(await readFile(join(workDir, 'packages.tsv'), 'utf8'));
  const cmdline = (await readFile(join(workDir, 'cmdline'), 'utf8')).trim();
  const kernel = installed.find((p) => /^linux-image-\d/.test(p.name));
  if (!kernel) throw new ImageBuildError(`${purpose}: no linux-image package was installed.`);
  await pruneDebs(debDir, installed);

  const manifest: VmImageManifest = {
    name: recipe.name,
    recipeVersion: recipe.recipeVersion,
    key: prepared.key,
    builtAt: new Date().toISOString(),
    boot: 'disk',
    firmware: 'bios',
    kernelVersion: kernel.name.replace(/^linux-image-/, ''),
    cmdline,
    sshUser: recipe.sshUser,
    ready: { kind: 'cloud-init' },
    readinessPattern: CLOUD_INIT_FINISHED_PATTERN,
    virtualSizeBytes: recipe.diskSizeMiB * MiB,
    rootFsUuid: rootUuid,
    files: {
      base: {
        path: 'base.qcow2',
        sizeBytes: (await stat(base)).size,
        sha256: await sha256File(base),
      },
    },
    modules: [],
    installed,
    inputs: {
      recipeFiles: prepared.inputs.recipeFiles,
      packages: prepared.inputs.packages.map(({ name, version, sha256 }) => ({
        name,
        version,
        sha256,
      })),
    },
  };
  await writeFile(join(outDir, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`, {
    mode: 0o644,
  });
}

/**
 * The debian-12 recipe (`fixtures/images/debian-12`): a full-disk Debian 12 cloud image like the
 * official genericcloud one (GPT, GRUB for BIOS, systemd, cloud-init with NoCloud, OpenSSH,
 * netplan + systemd-networkd DHCP, growroot), bootstrapped with mmdebstrap from the host's
 * Debian mirror. Needs root to build; boots from its own disk (`boot: 'disk'`).
 */
export function debian12Recipe(
  dir: string = recipeDir('debian-12'),
  host: DebianRecipeHost = {},
): VmImageRecipe<DebianImageInputs> {
  return {
    kind: 'vm',
    name: 'debian-12',
    description:
      'Debian 12 cloud image: GRUB (BIOS), systemd, cloud-init NoCloud, OpenSSH; user debian',
    prepare: (context) => prepare(context, dir),
    build: (context, prepared, dirs) => build(context, prepared, dirs, dir, host),
  };
}
