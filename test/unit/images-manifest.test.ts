import { mkdir, mkdtemp, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { resolveVmImage } from '../../src/images/resolve-vm-image.js';
import { vmImageManifestSchema } from '../../src/images/vm-image-manifest.js';

const file = (path: string) => ({ path, sizeBytes: 1, sha256: 'a'.repeat(64) });

/** A tiny-vm manifest as builds wrote it before `boot`, `firmware` and `ready` existed. */
const oldTinyVm = {
  name: 'tiny-vm',
  recipeVersion: 1,
  key: '0123456789abcdef',
  builtAt: '2026-11-01T00:00:00.000Z',
  kernelVersion: '6.1.0-57-cloud-amd64',
  cmdline: 'console=ttyS0 root=/dev/vda rw',
  sshUser: 'root',
  readinessPattern: 'testbed-ready (\\S+)',
  virtualSizeBytes: 256 * 1024 * 1024,
  files: { base: file('base.qcow2'), kernel: file('vmlinuz'), initrd: file('initrd.img') },
  modules: ['virtio_blk'],
  inputs: { recipeFiles: {}, packages: [] },
};

const debian = {
  name: 'debian-12',
  recipeVersion: 1,
  key: 'fedcba9876543210',
  builtAt: '2026-12-01T00:00:00.000Z',
  boot: 'disk',
  firmware: 'bios',
  kernelVersion: '6.1.0-57-cloud-amd64',
  cmdline: 'root=UUID=x ro console=tty0 console=ttyS0,115200n8',
  sshUser: 'debian',
  ready: { kind: 'cloud-init' },
  readinessPattern: 'Cloud-init v\\. \\S+ finished at',
  virtualSizeBytes: 2 * 1024 ** 3,
  rootFsUuid: 'x',
  files: { base: file('base.qcow2') },
  installed: [{ name: 'openssh-server', version: '1:9.2p1-2+deb12u10', architecture: 'amd64' }],
  inputs: { recipeFiles: {}, packages: [] },
};

describe('VM image manifest', () => {
  it('reads a tiny-vm manifest from before boot/firmware/ready with defaults', () => {
    const manifest = vmImageManifestSchema.parse(oldTinyVm);
    expect(manifest).toMatchObject({
      boot: 'direct',
      firmware: 'bios',
      ready: { kind: 'console', pattern: 'testbed-ready (\\S+)' },
      sshUser: 'root',
    });
  });

  it('reads a disk-boot manifest without kernel files', () => {
    const manifest = vmImageManifestSchema.parse(debian);
    expect(manifest).toMatchObject({ boot: 'disk', ready: { kind: 'cloud-init' }, modules: [] });
    expect(manifest.files.kernel).toBeUndefined();
  });

  it('rejects an unknown boot mode or ready signal', () => {
    expect(() => vmImageManifestSchema.parse({ ...debian, boot: 'pxe' })).toThrow();
    expect(() => vmImageManifestSchema.parse({ ...debian, ready: { kind: 'ping' } })).toThrow();
    expect(() => vmImageManifestSchema.parse({ ...debian, ready: { kind: 'console' } })).toThrow();
  });
});

describe('resolveVmImage with manifests and plain files', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-resolve-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function cached(name: string, manifest: object): Promise<string> {
    const build = join(dir, name, 'k1');
    await mkdir(build, { recursive: true });
    await writeFile(join(build, 'manifest.json'), JSON.stringify(manifest));
    await symlink('k1', join(dir, name, 'current'));
    return build;
  }

  it('fills boot, sshUser and ready from a disk-boot manifest and gives no kernel', async () => {
    const build = await cached('debian-12', debian);
    const image = await resolveVmImage('debian-12', { cacheDir: dir });
    expect(image).toMatchObject({
      name: 'debian-12',
      base: join(build, 'base.qcow2'),
      format: 'qcow2',
      boot: 'disk',
      sshUser: 'debian',
      ready: { kind: 'cloud-init' },
    });
    expect(image).not.toHaveProperty('kernel');
    expect(image).not.toHaveProperty('initrd');
    expect(image).not.toHaveProperty('cmdline');
  });

  it('keeps direct boot files for an old tiny-vm manifest', async () => {
    const build = await cached('tiny-vm', oldTinyVm);
    const image = await resolveVmImage('tiny-vm', { cacheDir: dir });
    expect(image).toMatchObject({
      boot: 'direct',
      sshUser: 'root',
      ready: { kind: 'console', pattern: 'testbed-ready (\\S+)' },
      kernel: join(build, 'vmlinuz'),
      initrd: join(build, 'initrd.img'),
      cmdline: oldTinyVm.cmdline,
    });
  });

  it('leaves boot, sshUser and ready undefined for a plain disk file', async () => {
    const path = join(dir, 'disk.img');
    await writeFile(path, '');
    await truncate(path, 4 * 1024 * 1024);
    expect(await resolveVmImage(path)).toEqual({ base: path, format: 'raw' });
  });

  it.each([
    ['an empty file', 0, 'empty'],
    ['a tiny text file', 12, '12 bytes'],
  ])('refuses %s as not a disk image', async (_what, size, words) => {
    const path = join(dir, 'notes.img');
    await writeFile(path, 'x'.repeat(size));
    const error = await resolveVmImage(path).catch((e: unknown) => e);
    expect(error).toMatchObject({
      code: 'TESTBED_IMAGE_NOT_FOUND',
      fix: expect.stringMatching(new RegExp(`not a disk image: it is ${words}`)),
    });
  });
});
