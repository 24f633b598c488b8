import { mkdtemp, open, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/core/run-command.js';
import { type EnsuredImage, ensureImage } from '../../src/images/ensure-image.js';
import { resolveVmImage, type VmImage } from '../../src/images/resolve-vm-image.js';

const MiB = 1024 * 1024;
const BIOS_BOOT = '21686148-6449-6E6F-744E-656564454649';
const LINUX_FS = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** `debugfs -R <request>` on the ext4 filesystem at byte `offset` of the raw disk `raw`. */
async function debugfs(raw: string, offset: number, request: string): Promise<string> {
  const { stdout } = await runCommand('debugfs', ['-R', request, `${raw}?offset=${offset}`], {
    timeoutMs: 60_000,
  });
  return stdout;
}

// Real build from the host's Debian mirror (mmdebstrap, loop device, GRUB): needs root, the
// setup-host packages and the mirror. It never skips: on a host without them it fails and says
// what is missing.
describe('debian-12 image', () => {
  let built: EnsuredImage;
  let image: VmImage;
  let scratch: string;
  let raw: string;
  let table: { label: string; partitions: { start: number; type: string }[] };
  let rootOffset: number;

  beforeAll(async () => {
    built = await ensureImage('debian-12');
    image = await resolveVmImage('debian-12');
    scratch = await mkdtemp(join(tmpdir(), 'testbed-debian-image-'));
    raw = join(scratch, 'disk.raw');
    await runCommand('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', image.base, raw], {
      timeoutMs: 120_000,
    });
    const { stdout } = await runCommand('sfdisk', ['--json', raw], { timeoutMs: 30_000 });
    table = (JSON.parse(stdout) as { partitiontable: typeof table }).partitiontable;
    rootOffset = (table.partitions[1]?.start ?? 0) * 512;
  }, 900_000);

  afterAll(async () => {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it('is cached with a disk-boot manifest: user debian, ready when cloud-init is done', () => {
    expect(image).toMatchObject({
      name: 'debian-12',
      base: join(built.location, 'base.qcow2'),
      format: 'qcow2',
      boot: 'disk',
      sshUser: 'debian',
      ready: { kind: 'cloud-init' },
    });
    expect(image.kernel).toBeUndefined();
    expect(image.initrd).toBeUndefined();
    const manifest = image.manifest;
    expect(manifest).toMatchObject({
      key: built.key,
      boot: 'disk',
      firmware: 'bios',
      sshUser: 'debian',
      ready: { kind: 'cloud-init' },
      virtualSizeBytes: 2048 * MiB,
    });
    expect(manifest?.files.kernel).toBeUndefined();
    expect(manifest?.files.initrd).toBeUndefined();
    expect(manifest?.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(manifest?.cmdline).toContain(`root=UUID=${manifest?.rootFsUuid}`);
    expect(manifest?.cmdline).toContain('console=ttyS0');
    const installed = new Map(manifest?.installed?.map((p) => [p.name, p.version]));
    for (const name of [
      'systemd',
      'systemd-resolved',
      'cloud-init',
      'cloud-initramfs-growroot',
      'openssh-server',
      'openssh-sftp-server',
      'grub-pc',
      'linux-image-cloud-amd64',
      'netplan.io',
      'sudo',
    ]) {
      expect(installed.has(name), `${name} installed`).toBe(true);
    }
    expect(installed.get('cloud-init')).toMatch(/^22\./);
  });

  it('is a compressed qcow2 of a 2 GiB disk, at most 200 MB on disk', async () => {
    const { stdout } = await runCommand('qemu-img', ['info', '--output=json', image.base], {
      timeoutMs: 30_000,
    });
    const info = JSON.parse(stdout) as { format: string; 'virtual-size': number };
    expect(info.format).toBe('qcow2');
    expect(info['virtual-size']).toBe(2048 * MiB);
    const size = (await stat(image.base)).size;
    expect(size).toBe(image.manifest?.files.base.sizeBytes);
    expect(size).toBeLessThanOrEqual(200 * 1000 * 1000);
  });

  it('has a GPT with a BIOS boot partition holding GRUB, and GRUB in the boot sector', async () => {
    expect(table.label).toBe('gpt');
    expect(table.partitions.map((p) => p.type)).toEqual([BIOS_BOOT, LINUX_FS]);

    const handle = await open(raw, 'r');
    try {
      const mbr = (await handle.read(Buffer.alloc(512), 0, 512, 0)).buffer;
      expect(mbr.readUInt16LE(510)).toBe(0xaa55);
      expect(mbr.includes('GRUB')).toBe(true);
      const biosStart = (table.partitions[0]?.start ?? 0) * 512;
      const core = (await handle.read(Buffer.alloc(512), 0, 512, biosStart)).buffer;
      expect(core.some((byte) => byte !== 0)).toBe(true);
    } finally {
      await handle.close();
    }
  });

  it('has cloud-init, sshd with sftp-server, GRUB and the kernel on its root filesystem', async () => {
    expect(rootOffset).toBeGreaterThan(0);
    const openssh = await debugfs(raw, rootOffset, 'ls -l /usr/lib/openssh');
    expect(openssh).toMatch(/100755.*\ssftp-server\n/);
    for (const path of [
      '/usr/sbin/sshd',
      '/usr/bin/cloud-init',
      '/usr/lib/systemd/systemd',
      '/usr/sbin/grub-install',
      '/boot/grub/grub.cfg',
      '/boot/grub/i386-pc/core.img',
      `/boot/vmlinuz-${image.manifest?.kernelVersion}`,
      `/boot/initrd.img-${image.manifest?.kernelVersion}`,
      '/usr/share/initramfs-tools/scripts/local-bottom/growroot',
    ]) {
      expect(await debugfs(raw, rootOffset, `stat ${path}`), path).toMatch(/Type: regular/);
    }
    const uuid = image.manifest?.rootFsUuid;
    expect(await debugfs(raw, rootOffset, 'cat /etc/fstab')).toContain(`UUID=${uuid} / ext4`);
    expect(await debugfs(raw, rootOffset, 'cat /boot/grub/grub.cfg')).toContain(
      `root=UUID=${uuid} ro console=tty0 console=ttyS0`,
    );
    const cloud = await debugfs(raw, rootOffset, 'cat /etc/cloud/cloud.cfg.d/90-testbed.cfg');
    expect(cloud).toContain('datasource_list: [ NoCloud, None ]');
  });

  it('ships no SSH host keys, no machine id, no apt lists and no docs', async () => {
    expect(await debugfs(raw, rootOffset, 'ls /etc/ssh')).not.toContain('ssh_host_');
    expect(await debugfs(raw, rootOffset, 'stat /etc/machine-id')).toMatch(/Size: 0\b/);
    const lists = await debugfs(raw, rootOffset, 'ls /var/lib/apt/lists');
    expect(lists).toContain('partial');
    expect(lists).not.toMatch(/Packages|Release/);
    const man = await debugfs(raw, rootOffset, 'ls /usr/share/man');
    expect(man).not.toMatch(/man1/);
    const doc = await debugfs(raw, rootOffset, 'ls -l /usr/share/doc/openssh-client');
    expect(doc).toContain('copyright');
    expect(doc).not.toContain('changelog');
  });

  it('is a fast no-op the second time', async () => {
    const started = Date.now();
    const again = await ensureImage('debian-12');
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(again).toMatchObject({ built: false, key: built.key, location: built.location });
  });
});
