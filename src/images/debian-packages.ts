import { mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ImageBuildError, isTestbedError } from '../core/errors.js';
import type { RunCommand } from '../core/run-command.js';
import { aptStateFingerprint } from './apt-state-fingerprint.js';
import { prepareCacheDir } from './prepare-cache-dir.js';
import type { ProgressReporter } from './progress.js';

/** One Debian binary package as apt knows it: enough to download it and pin it in a cache key. */
export interface DebianPackage {
  /** Package name. */
  name: string;
  /** Exact version, epoch included. */
  version: string;
  /** Architecture, e.g. `amd64` or `all`. */
  architecture: string;
  /** SHA-256 of the .deb, from the signed apt lists. */
  sha256: string;
  /** Size of the .deb in bytes. */
  size: number;
  /** `Depends:` field, raw. */
  depends: string;
}

/** Parses `apt-cache show` output (one paragraph per package). */
export function parseAptCacheShow(output: string): DebianPackage[] {
  return output
    .split(/\n\s*\n/)
    .map((paragraph) => {
      const fields = new Map<string, string>();
      for (const line of paragraph.split('\n')) {
        const match = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
        if (match) fields.set(match[1] as string, match[2] as string);
      }
      return fields;
    })
    .filter((fields) => fields.has('Package'))
    .map((fields) => ({
      name: fields.get('Package') ?? '',
      version: fields.get('Version') ?? '',
      architecture: fields.get('Architecture') ?? '',
      sha256: fields.get('SHA256') ?? '',
      size: Number(fields.get('Size') ?? 0),
      depends: fields.get('Depends') ?? '',
    }));
}

/**
 * Looks up the candidate version of each package in apt's local lists (one `apt-cache` call, no
 * network); throws one `ImageBuildError` naming every package apt does not know.
 */
export async function resolveDebianPackages(
  names: readonly string[],
  run: RunCommand,
  signal?: AbortSignal,
): Promise<DebianPackage[]> {
  const result = await run('apt-cache', ['show', '--no-all-versions', ...names], {
    reject: false,
    timeoutMs: 60_000,
    ...(signal ? { signal } : {}),
  });
  const found = new Map(parseAptCacheShow(result.stdout).map((p) => [p.name, p]));
  const missing = names.filter((name) => !found.has(name));
  if (missing.length > 0) {
    throw new ImageBuildError(
      `apt does not know the Debian package${missing.length === 1 ? '' : 's'} ${missing.join(', ')}.`,
      {
        fix: 'Run `apt-get update` (as root) so the package lists are current, and check that /etc/apt/sources.list names a Debian mirror with the main component.',
      },
    );
  }
  return names.map((name) => found.get(name) as DebianPackage);
}

/**
 * `resolveDebianPackages`, remembered in `memoPath` until apt's lists or configuration change:
 * `apt-cache` parses every package list on each call (over half a second), which would make
 * checking a cached image slow.
 */
export async function resolveDebianPackagesCached(
  names: readonly string[],
  run: RunCommand,
  memoPath: string,
  signal?: AbortSignal,
): Promise<DebianPackage[]> {
  const fingerprint = await aptStateFingerprint();
  const memo = await readFile(memoPath, 'utf8')
    .then((text) => JSON.parse(text) as { fingerprint: string; packages: DebianPackage[] })
    .catch(() => undefined);
  const wanted = JSON.stringify(names);
  if (
    memo?.fingerprint === fingerprint &&
    JSON.stringify(memo.packages.map((p) => p.name)) === wanted
  ) {
    return memo.packages;
  }
  const packages = await resolveDebianPackages(names, run, signal);
  // Written to a unique name and renamed, so a concurrent reader never sees half a file; a
  // read-only cache simply does without the memo.
  const temp = `${memoPath}.${process.pid}.tmp`;
  await prepareCacheDir(dirname(memoPath))
    .then(() => writeFile(temp, JSON.stringify({ fingerprint, packages })))
    .then(() => rename(temp, memoPath))
    .catch(() => rm(temp, { force: true }));
  return packages;
}

/** The file name `apt-get download` gives a package (the epoch's colon URL-encoded). */
export function debFileName(pkg: DebianPackage): string {
  return `${pkg.name}_${pkg.version.replace(':', '%3a')}_${pkg.architecture}.deb`;
}

async function isComplete(path: string, size: number): Promise<boolean> {
  try {
    return (await stat(path)).size === size;
  } catch {
    return false;
  }
}

/**
 * Makes sure every package's .deb is in `debDir`, downloading the missing ones with
 * `apt-get download` (pinned to the resolved version, hash-checked by apt) into a temporary
 * directory first, so an interrupted download never leaves a truncated .deb behind.
 * Resolves with the path of each package's .deb, in order.
 */
export async function downloadDebianPackages(
  packages: readonly DebianPackage[],
  debDir: string,
  run: RunCommand,
  progress: ProgressReporter,
  signal?: AbortSignal,
): Promise<string[]> {
  const paths = packages.map((pkg) => join(debDir, debFileName(pkg)));
  const missing: DebianPackage[] = [];
  for (const [i, pkg] of packages.entries()) {
    if (!(await isComplete(paths[i] as string, pkg.size))) missing.push(pkg);
  }
  if (missing.length === 0) return paths;
  const megabytes = (missing.reduce((sum, p) => sum + p.size, 0) / 1024 / 1024).toFixed(1);
  progress(`downloading ${missing.length} Debian packages (${megabytes} MB)`);
  const temp = await mkdtemp(join(debDir, '.download-'));
  try {
    const specs = missing.map((p) => `${p.name}=${p.version}`);
    // apt-get download writes into its working directory.
    await run('apt-get', ['download', '-q', ...specs], {
      cwd: temp,
      timeoutMs: 600_000,
      ...(signal ? { signal } : {}),
    }).catch((error: unknown) => {
      throw new ImageBuildError(`Downloading ${specs.join(' ')} with apt-get failed.`, {
        cause: error,
        fix: `Check that the Debian mirror is reachable (\`apt-get download ${specs[0]}\`) and run \`apt-get update\` if the lists are stale.${isTestbedError(error) ? `\n  ${error.message}` : ''}`,
      });
    });
    const downloaded = new Set(await readdir(temp));
    for (const pkg of missing) {
      const name = debFileName(pkg);
      if (!downloaded.has(name)) {
        throw new ImageBuildError(`apt-get download did not produce ${name}.`, {
          fix: 'Run `apt-get update` and retry.',
        });
      }
      await rename(join(temp, name), join(debDir, name));
    }
    return paths;
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}
