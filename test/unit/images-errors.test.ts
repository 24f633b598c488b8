import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunCommand } from '../../src/core/run-command.js';
import { checkFreeSpace } from '../../src/images/check-free-space.js';
import {
  type DebianPackage,
  downloadDebianPackages,
  parseAptCacheShow,
  resolveDebianPackages,
} from '../../src/images/debian-packages.js';
import { findRecipe } from '../../src/images/image-recipes.js';
import { requireTools } from '../../src/images/require-tools.js';
import { resolveVmImage } from '../../src/images/resolve-vm-image.js';

const show = (name: string, version: string) =>
  `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nDepends: libc6 (>= 2.34)\nSize: 10\nSHA256: ${'a'.repeat(64)}\n`;

describe('missing tools', () => {
  it('names every missing tool and the apt-get line that installs them', async () => {
    const error = await requireTools(['mkfs.ext4x', 'xorriso'], 'Building X', {
      PATH: '/nonexistent',
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('Building X needs mkfs.ext4x, xorriso'),
      fix: 'apt-get install -y --no-install-recommends mkfs.ext4x xorriso',
    });
  });

  it('finds sbin tools even when PATH lacks sbin', async () => {
    const found = await requireTools(['mkfs.ext4'], 'Building X', { PATH: '/usr/bin' });
    expect(found['mkfs.ext4']).toMatch(/sbin\/mkfs\.ext4$/);
  });
});

describe('missing Debian packages', () => {
  it('parses apt-cache show paragraphs', () => {
    expect(parseAptCacheShow(`${show('a', '1:2.0-1')}\n${show('b', '3')}`)).toEqual([
      {
        name: 'a',
        version: '1:2.0-1',
        architecture: 'amd64',
        sha256: 'a'.repeat(64),
        size: 10,
        depends: 'libc6 (>= 2.34)',
      },
      {
        name: 'b',
        version: '3',
        architecture: 'amd64',
        sha256: 'a'.repeat(64),
        size: 10,
        depends: 'libc6 (>= 2.34)',
      },
    ]);
  });

  it('names each package apt does not know and says to run apt-get update', async () => {
    const run: RunCommand = async () => ({
      stdout: show('busybox-static', '1'),
      stderr: '',
      exitCode: 0,
    });
    const error = await resolveDebianPackages(
      ['busybox-static', 'dropbear-bin', 'libtommath1'],
      run,
    ).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringMatching(
        /^apt does not know the Debian packages dropbear-bin, libtommath1\./,
      ),
      fix: expect.stringContaining('apt-get update'),
    });
  });
});

describe('downloading packages', () => {
  let debDir: string;
  const pkg: DebianPackage = {
    name: 'busybox-static',
    version: '1:1.35.0-4',
    architecture: 'amd64',
    sha256: 'a'.repeat(64),
    size: 4,
    depends: '',
  };
  beforeEach(async () => {
    debDir = await mkdtemp(join(tmpdir(), 'testbed-debs-'));
  });
  afterEach(async () => {
    await rm(debDir, { recursive: true, force: true });
  });

  it('downloads pinned versions through apt-get in a temp dir, then moves them in', async () => {
    const calls: string[][] = [];
    const run: RunCommand = async (file, args, options) => {
      calls.push([file, ...args, `cwd=${options?.cwd}`]);
      await writeFile(
        join(options?.cwd as string, 'busybox-static_1%3a1.35.0-4_amd64.deb'),
        'deb!',
      );
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const [path] = await downloadDebianPackages([pkg], debDir, run, () => {});
    expect(path).toBe(join(debDir, 'busybox-static_1%3a1.35.0-4_amd64.deb'));
    expect(calls[0]).toEqual([
      'apt-get',
      'download',
      '-q',
      'busybox-static=1:1.35.0-4',
      expect.stringMatching(/^cwd=.*\.download-/),
    ]);
    expect(await readdir(debDir)).toEqual(['busybox-static_1%3a1.35.0-4_amd64.deb']);
    // Already there with the right size: no second download.
    await downloadDebianPackages([pkg], debDir, run, () => {});
    expect(calls).toHaveLength(1);
  });

  it('leaves no partial .deb when the download fails, and says how to check the mirror', async () => {
    const run: RunCommand = async (_file, _args, options) => {
      await writeFile(join(options?.cwd as string, 'busybox-static_1%3a1.35.0-4_amd64.deb'), 'de');
      throw new Error('Could not resolve deb.debian.org');
    };
    const error = await downloadDebianPackages([pkg], debDir, run, () => {}).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('busybox-static=1:1.35.0-4'),
      fix: expect.stringContaining('apt-get download busybox-static=1:1.35.0-4'),
    });
    expect(await readdir(debDir)).toEqual([]);
  });
});

describe('disk space', () => {
  it('refuses to start a build without enough free space, naming the directory and the fix', async () => {
    const stat = async () => ({ bavail: 100, bsize: 1024 * 1024 });
    await expect(
      checkFreeSpace('/var/cache/x', 512 * 1024 * 1024, 'building tiny-vm', stat),
    ).rejects.toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringMatching(
        /Only 100 MiB are free in \/var\/cache\/x; building tiny-vm needs about 512 MiB/,
      ),
      fix: expect.stringContaining('TESTBED_BASE_IMAGE_PATH'),
    });
  });

  it('passes with enough space', async () => {
    const stat = async () => ({ bavail: 1000, bsize: 1024 * 1024 });
    await expect(checkFreeSpace('/x', 512 * 1024 * 1024, 'b', stat)).resolves.toBeUndefined();
  });
});

describe('unknown and uncached images', () => {
  it('suggests the closest known recipe name', () => {
    expect(() => findRecipe('tiny-mv')).toThrow(/Did you mean 'tiny-vm'\?/);
  });

  it('tells how to build a known VM image that is not cached', async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'testbed-empty-cache-'));
    try {
      await expect(resolveVmImage('tiny-vm', { cacheDir })).rejects.toMatchObject({
        code: 'TESTBED_IMAGE_NOT_FOUND',
        fix: expect.stringContaining('npx testbed images build tiny-vm'),
      });
    } finally {
      await rm(cacheDir, { recursive: true, force: true });
    }
  });

  it('says a missing path is missing', async () => {
    await expect(resolveVmImage('/nonexistent/disk.qcow2')).rejects.toMatchObject({
      code: 'TESTBED_IMAGE_NOT_FOUND',
      message: expect.stringContaining('/nonexistent/disk.qcow2'),
    });
  });

  it('takes a user qcow2 path as is and recognises its format', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'testbed-user-image-'));
    try {
      const path = join(dir, 'disk.qcow2');
      await writeFile(path, Buffer.concat([Buffer.from('QFI\xfb', 'latin1'), Buffer.alloc(60)]));
      expect(await resolveVmImage(path)).toEqual({ base: path, format: 'qcow2' });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
