import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandFailedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import { DEBIAN_BUILD_TOOLS, debian12Recipe } from '../../src/images/debian-12-recipe.js';
import type { ImageBuildContext } from '../../src/images/image-recipe.js';
import { readVmImageManifest } from '../../src/images/vm-image-manifest.js';
import { ensureVmImage } from '../../src/images/vm-image-store.js';

const show = (name: string, version: string) =>
  `Package: ${name}\nVersion: ${version}\nArchitecture: amd64\nDepends: libc6\nSize: 10\nSHA256: ${'b'.repeat(64)}\n`;

const POLICY = ` 500 http://mirror.test/debian bookworm/main amd64 Packages
     release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
`;

interface Call {
  file: string;
  args: readonly string[];
}

describe('debian-12 recipe', () => {
  let cacheDir: string;
  let bin: string;
  let calls: Call[];
  let lines: string[];
  let versions: Record<string, string>;
  let unshare: (args: readonly string[]) => Promise<void>;
  let sourcesList: string;

  const run: RunCommand = async (file, args) => {
    calls.push({ file, args });
    const tool = file.split('/').pop();
    if (tool === 'apt-cache' && args[0] === 'show') {
      const names = args.filter((a) => !a.startsWith('-') && a !== 'show');
      return {
        stdout: names.map((n) => show(n, versions[n] ?? '1.0')).join('\n'),
        stderr: '',
        exitCode: 0,
      };
    }
    if (tool === 'apt-cache') return { stdout: POLICY, stderr: '', exitCode: 0 };
    if (tool === 'apt-config') {
      return {
        stdout: 'Acquire::Check-Valid-Until "false";\nAPT::Foo "1";',
        stderr: '',
        exitCode: 0,
      };
    }
    if (tool === 'unshare') await unshare(args);
    if (tool === 'qemu-img') {
      await writeFile(args.at(-1) as string, Buffer.from('QFI\xfbqcow2', 'latin1'));
    }
    if (tool === 'losetup' && args[0] === '-j') {
      return { stdout: `/dev/loop7: []: (${args[1]})`, stderr: '', exitCode: 0 };
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  };

  /** What build.sh leaves in WORK when it succeeds. */
  const succeed = async (args: readonly string[]) => {
    const work = args[5] as string;
    sourcesList = await readFile(args[11] as string, 'utf8');
    await writeFile(join(work, 'progress'), 'partitioning\nmmdebstrap bookworm\n');
    await writeFile(
      join(work, 'mmdebstrap.log'),
      'I: chroot architecture amd64\nI: downloading packages with apt...\n',
    );
    await writeFile(join(work, 'disk.raw'), 'raw');
    await writeFile(
      join(work, 'packages.tsv'),
      'openssh-server\t1:9.2p1-2\tamd64\nlinux-image-6.1.0-57-cloud-amd64\t6.1.192-3\tamd64\ncloud-init\t22.4.2-1\tall\n',
    );
    await writeFile(join(work, 'cmdline'), 'root=UUID=u ro console=tty0 console=ttyS0,115200n8\n');
    await writeFile(join(args[9] as string, 'stale_0.1_amd64.deb'), 'old');
    await writeFile(join(args[9] as string, 'openssh-server_1%3a9.2p1-2_amd64.deb'), 'deb');
  };

  beforeEach(async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'testbed-debian-cache-'));
    bin = join(cacheDir, 'bin');
    await mkdir(bin);
    for (const tool of DEBIAN_BUILD_TOOLS) {
      await writeFile(join(bin, tool), '#!/bin/sh\nexit 1\n');
      await chmod(join(bin, tool), 0o755);
    }
    calls = [];
    lines = [];
    versions = {};
    unshare = succeed;
  });
  afterEach(async () => {
    await rm(cacheDir, { recursive: true, force: true });
  });

  const context = (): ImageBuildContext => ({
    cacheDir,
    run,
    progress: (line) => lines.push(line),
    env: { PATH: bin },
  });

  it('keys on the recipe files and the named packages’ versions', async () => {
    const recipe = debian12Recipe(undefined, { uid: 0 });
    const a = await recipe.prepare(context());
    expect((await recipe.prepare(context())).key).toBe(a.key);
    versions['cloud-init'] = '23.1-1';
    await rm(join(cacheDir, '.debian-12-packages.json'));
    expect((await recipe.prepare(context())).key).not.toBe(a.key);
  });

  it('runs build.sh in a private mount namespace and writes a disk-boot manifest', async () => {
    const stored = await ensureVmImage(debian12Recipe(undefined, { uid: 0 }), context());
    const script = calls.find((c) => c.file.endsWith('/unshare'));
    expect(script?.args.slice(0, 3)).toEqual(['--mount', '--propagation', 'private']);
    expect(script?.args[3]).toMatch(/\/sh$/);
    expect(script?.args[4]).toMatch(/fixtures\/images\/debian-12\/build\.sh$/);
    expect(script?.args[6]).toBe('2048');
    expect(script?.args[12]).toContain('cloud-init,cloud-initramfs-growroot');
    expect(sourcesList).toBe('deb http://mirror.test/debian bookworm main\n');
    expect(script?.args).toContain('--aptopt=Acquire::Check-Valid-Until "false"');
    expect(script?.args).toContain('--dpkgopt=path-exclude=/usr/share/man/*');

    const manifest = await readVmImageManifest(stored.location);
    expect(manifest).toMatchObject({
      name: 'debian-12',
      boot: 'disk',
      firmware: 'bios',
      sshUser: 'debian',
      ready: { kind: 'cloud-init' },
      kernelVersion: '6.1.0-57-cloud-amd64',
      cmdline: 'root=UUID=u ro console=tty0 console=ttyS0,115200n8',
      virtualSizeBytes: 2048 * 1024 * 1024,
    });
    expect(manifest.files.kernel).toBeUndefined();
    expect(manifest.installed?.map((p) => p.name)).toEqual([
      'cloud-init',
      'linux-image-6.1.0-57-cloud-amd64',
      'openssh-server',
    ]);
    expect(manifest.inputs.packages.map((p) => p.name)).toContain('grub-pc');
    // .debs of packages no longer installed leave the reuse cache.
    expect(await readdir(join(cacheDir, 'debian-12', '.debs'))).toEqual([
      'openssh-server_1%3a9.2p1-2_amd64.deb',
    ]);
    expect(lines).toEqual(
      expect.arrayContaining([
        'partitioning',
        'mmdebstrap: downloading packages with apt',
        'qemu-img convert to compressed qcow2 (zstd)',
      ]),
    );
    expect(lines).not.toContain('mmdebstrap: chroot architecture amd64');
  });

  it('says what failed, detaches a leftover loop device and leaves nothing in the cache', async () => {
    unshare = async (args) => {
      const work = args[5] as string;
      await writeFile(join(work, 'progress'), 'partitioning\nmmdebstrap bookworm: downloading\n');
      await writeFile(join(work, 'mmdebstrap.log'), 'E: Unable to locate package cloud-init\n');
      throw new CommandFailedError('unshare ...', 1, 'mmdebstrap failed');
    };
    const error = await ensureVmImage(debian12Recipe(undefined, { uid: 0 }), context()).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('failed while mmdebstrap bookworm: downloading'),
      fix: expect.stringContaining('E: Unable to locate package cloud-init'),
    });
    const detached = calls.filter((c) => c.file.endsWith('/losetup'));
    expect(detached.map((c) => c.args)).toEqual([
      ['-j', expect.stringMatching(/disk\.raw$/)],
      ['--detach', '/dev/loop7'],
    ]);
    expect(calls.some((c) => c.file.endsWith('qemu-img'))).toBe(false);
    const left = await readdir(join(cacheDir, 'debian-12'));
    expect(left.filter((e) => e !== '.debs' && e !== '.lock')).toEqual([]);
  });

  it('rethrows an abort as is, after detaching what the killed script left attached', async () => {
    const controller = new AbortController();
    unshare = async () => {
      controller.abort(new Error('test over'));
      throw controller.signal.reason;
    };
    const error = await ensureVmImage(debian12Recipe(undefined, { uid: 0 }), {
      ...context(),
      signal: controller.signal,
    }).catch((e: unknown) => e);
    expect(error).toBe(controller.signal.reason);
    expect(calls.filter((c) => c.file.endsWith('/losetup')).map((c) => c.args[0])).toEqual([
      '-j',
      '--detach',
    ]);
    expect(
      (await readdir(join(cacheDir, 'debian-12'))).filter((e) => e.startsWith('.build-')),
    ).toEqual([]);
  });

  it('needs root to build, and says so before touching anything', async () => {
    const error = await ensureVmImage(debian12Recipe(undefined, { uid: 1000 }), context()).catch(
      (e: unknown) => e,
    );
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('needs root'),
    });
    expect(calls.some((c) => c.file.endsWith('unshare'))).toBe(false);
  });

  it('names mmdebstrap and fdisk when they are missing', async () => {
    await rm(join(bin, 'mmdebstrap'));
    await rm(join(bin, 'sfdisk'));
    const error = await ensureVmImage(debian12Recipe(undefined, { uid: 0 }), {
      ...context(),
      env: { PATH: `${bin}:/nonexistent` },
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('needs mmdebstrap'),
      fix: expect.stringContaining('mmdebstrap'),
    });
  });
});
