import { readFileSync } from 'node:fs';
import { chmod, copyFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { Machine, VmProvisioner } from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { ensureImage } from '../../src/images/ensure-image.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';

const config = loadConfig();
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();
// A full distribution boots in 2-3 minutes under TCG: two boots, at the same time.
const BOOT_MS = 480_000;

async function run(machine: Machine, command: string, user?: string): Promise<string> {
  const result = await machine.exec?.(command, { timeoutMs: 120_000, ...(user ? { user } : {}) });
  expect(result?.exitCode, `${command}: ${result?.stderr}`).toBe(0);
  return result?.stdout ?? '';
}

describe.skipIf(!available && !process.env.CI)(
  'a real distribution: debian-12 under libvirt',
  () => {
    let context: RunContext;
    let provisioner: VmProvisioner;
    let work: string;

    beforeAll(async () => {
      if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
      await ensureImage('debian-12');
      context = createRunContext();
      provisioner = await provider.createProvisioner({ run: context });
      work = await mkdtemp(join(tmpdir(), 'testbed-debian-'));
      // As for any image of your own: libvirt's QEMU user must be able to reach the file.
      await chmod(work, 0o755);
    }, 600_000);

    afterAll(async () => {
      if (context) await provider.removeRun(context.runId);
      if (work) await rm(work, { recursive: true, force: true });
    });

    it.concurrent(
      'boots with defaults from the image: user-data applied, cloud-init done, sudo, a bigger disk',
      async () => {
        const machine = await provisioner.provision({
          image: 'debian-12',
          memoryMiB: 1024,
          diskGiB: 4,
          timeoutMs: BOOT_MS,
          userData: {
            write_files: [{ path: '/etc/testbed-probe', content: 'written by user-data\n' }],
          },
        });
        try {
          expect(machine.ssh?.username).toBe('debian');
          expect((await run(machine, 'id -un')).trim()).toBe('debian');
          expect((await run(machine, 'sudo -n id -u')).trim()).toBe('0');
          expect((await run(machine, 'id -u', 'root')).trim()).toBe('0');
          expect(await run(machine, 'cat /etc/testbed-probe')).toBe('written by user-data\n');
          expect((await run(machine, 'cloud-init status')).trim()).toBe('status: done');
          const state = await machine.exec?.(['systemctl', 'is-system-running', '--wait'], {
            timeoutMs: 180_000,
          });
          const failed = await run(machine, 'systemctl --failed --no-legend --plain');
          expect(['running', 'degraded'], `failed units: ${failed}`).toContain(
            state?.stdout.trim(),
          );
          const rootBytes = Number(
            (await run(machine, 'df -B1 --output=size / | tail -n 1')).trim(),
          );
          expect(rootBytes).toBeGreaterThan(3.5 * 1024 ** 3);
          expect(await run(machine, 'command -v /usr/lib/openssh/sftp-server')).toContain(
            'sftp-server',
          );
          // OpenSSH as the image's user: commands at once share the connection; files are debian's.
          const at = await Promise.all(['a', 'b', 'c', 'd'].map((x) => run(machine, `echo ${x}`)));
          expect(at).toEqual(['a\n', 'b\n', 'c\n', 'd\n']);
          const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
          await machine.writeFile?.('/home/debian/app/bytes.bin', bytes, { mode: 0o600 });
          expect((await machine.readFile?.('/home/debian/app/bytes.bin'))?.equals(bytes)).toBe(
            true,
          );
          expect(await run(machine, 'stat -c %U:%a /home/debian/app/bytes.bin')).toBe(
            'debian:600\n',
          );
          await machine.copyFrom?.('/home/debian/app', join(work, 'app'));
          expect(readFileSync(join(work, 'app/bytes.bin')).equals(bytes)).toBe(true);
        } finally {
          await machine.destroy();
        }
      },
      BOOT_MS + 120_000,
    );

    it.concurrent(
      'a plain qcow2 with no metadata and no options provisions and answers exec (as root)',
      async () => {
        const image = await ensureImage('debian-12');
        const plain = join(work, 'my-debian.qcow2');
        await copyFile(join(image.location, 'base.qcow2'), plain);
        const machine = await provisioner.provision({
          image: plain,
          memoryMiB: 1024,
          timeoutMs: BOOT_MS,
        });
        try {
          expect(machine.ssh?.username).toBe('root');
          expect((await run(machine, 'id -u')).trim()).toBe('0');
          expect(await run(machine, 'cat /etc/os-release')).toContain('Debian GNU/Linux 12');
        } finally {
          await machine.destroy();
        }
      },
      BOOT_MS + 60_000,
    );
  },
);
