import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { writeCpioNewc } from '../../src/images/cpio-newc.js';
import {
  type KernelModuleIndex,
  readModuleDepends,
  resolveModuleLoadOrder,
} from '../../src/images/kernel-modules.js';
import { readElfInterpreter } from '../../src/images/shared-libraries.js';

describe('writeCpioNewc', () => {
  it('writes an archive cpio lists with types, modes, root ownership and contents', () => {
    const archive = writeCpioNewc([
      { path: 'bin', mode: 0o040755 },
      { path: 'bin/hello', mode: 0o100755, data: 'echo hi\n' },
      { path: 'bin/sh', mode: 0o120777, data: 'hello' },
      { path: 'dev/console', mode: 0o020600, rdev: { major: 5, minor: 1 } },
    ]);
    const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: archive, encoding: 'utf8' });
    const lines = listing.trim().split('\n');
    expect(lines[0]).toMatch(/^drwxr-xr-x\s+2 root\s+root\s+0 .* bin$/);
    expect(lines[1]).toMatch(/^-rwxr-xr-x\s+1 root\s+root\s+8 .* bin\/hello$/);
    expect(lines[2]).toMatch(/^lrwxrwxrwx .* bin\/sh -> hello$/);
    expect(lines[3]).toMatch(/^crw-------\s+1 root\s+root\s+5,\s+1 .* dev\/console$/);
    expect(archive.length % 4).toBe(0);
  });
});

describe('kernel module load order', () => {
  const ko = (depends: string) =>
    Buffer.from(`\x7fELF...\0license=GPL\0depends=${depends}\0retpoline=Y\0`, 'latin1');
  const modules: Record<string, string> = {
    virtio_ring: '',
    virtio: '',
    virtio_pci_modern_dev: '',
    virtio_pci_legacy_dev: '',
    virtio_pci: 'virtio_ring,virtio_pci_modern_dev,virtio_pci_legacy_dev,virtio',
    virtio_blk: 'virtio,virtio_ring',
    failover: '',
    net_failover: 'failover',
    virtio_net: 'virtio_ring,virtio,net_failover',
  };
  const index: KernelModuleIndex = {
    files: new Map(Object.keys(modules).map((name) => [name, `/m/${name}.ko`])),
    builtin: new Set(['ext4']),
  };
  const readDepends = async (path: string) =>
    readModuleDepends(ko(modules[path.slice(3, -3)] ?? ''));

  it('reads depends= from the modinfo strings', () => {
    expect(readModuleDepends(ko('virtio,virtio-ring'))).toEqual(['virtio', 'virtio_ring']);
    expect(readModuleDepends(ko(''))).toEqual([]);
  });

  it('puts every dependency before its user, each module once, built-ins skipped', async () => {
    const order = (
      await resolveModuleLoadOrder(
        ['virtio_pci', 'virtio_blk', 'virtio_net', 'ext4'],
        index,
        readDepends,
      )
    ).map((m) => m.name);
    expect(new Set(order).size).toBe(order.length);
    expect(order).not.toContain('ext4');
    for (const [name, depends] of Object.entries(modules)) {
      for (const dependency of depends.split(',').filter(Boolean)) {
        expect(order.indexOf(dependency)).toBeLessThan(order.indexOf(name));
      }
    }
    expect(order.at(-1)).toBe('virtio_net');
  });

  it('names a module the kernel lacks and who needed it', async () => {
    const broken: KernelModuleIndex = {
      ...index,
      files: new Map([['virtio_blk', '/m/virtio_blk.ko']]),
    };
    await expect(resolveModuleLoadOrder(['virtio_blk'], broken, readDepends)).rejects.toMatchObject(
      {
        code: 'TESTBED_IMAGE_BUILD_FAILED',
        message: expect.stringContaining("no module 'virtio' (needed by virtio_blk)"),
      },
    );
  });
});

describe('readElfInterpreter', () => {
  it('finds the dynamic loader of a dynamic binary and none in a static one', () => {
    expect(readElfInterpreter(readFileSync('/bin/ls'))).toMatch(/ld-linux-x86-64\.so\.2$/);
    expect(readElfInterpreter(readFileSync('/bin/busybox'))).toBeUndefined();
    expect(readElfInterpreter(Buffer.from('#!/bin/sh\n'))).toBeUndefined();
  });
});
