import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandFailedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import {
  cachedAccelerator,
  probeAccelerator,
} from '../../src/providers/libvirt/accelerator-probe.js';
import { Virsh } from '../../src/providers/libvirt/virsh.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'testbed-accel-'));
  await writeFile(join(dir, 'boot_id'), 'boot-1\n');
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function virshWith(
  calls: string[][],
  domcapabilities: 'ok' | 'fail',
  uri = 'qemu:///system',
): Virsh {
  const run: RunCommand = async (file, args) => {
    calls.push([file, ...args]);
    if (args.includes('domcapabilities') && domcapabilities === 'fail') {
      throw new CommandFailedError('virsh domcapabilities', 1, 'error: KVM is not supported');
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  return new Virsh(uri, run);
}

describe('probeAccelerator', () => {
  it('chooses TCG when there is no /dev/kvm, naming why, and caches it per host boot', async () => {
    const calls: string[][] = [];
    const options = {
      virsh: virshWith(calls, 'ok'),
      stateDir: dir,
      kvmDevice: join(dir, 'no-kvm'),
      bootIdPath: join(dir, 'boot_id'),
    };
    const choice = await probeAccelerator(options);
    expect(choice).toMatchObject({ accelerator: 'tcg', verified: true });
    expect(choice.reason).toMatch(/no .*no-kvm/);
    expect(await cachedAccelerator(options)).toEqual(choice);
    await writeFile(join(dir, 'boot_id'), 'boot-2\n');
    expect(await cachedAccelerator(options)).toBeUndefined();
  });

  it('chooses TCG when /dev/kvm is not accessible to the QEMU user', async () => {
    const device = join(dir, 'kvm');
    await writeFile(device, '');
    await chmod(device, 0o600);
    const choice = await probeAccelerator({
      virsh: virshWith([], 'ok'),
      stateDir: dir,
      kvmDevice: device,
      bootIdPath: join(dir, 'boot_id'),
    });
    expect(choice.accelerator).toBe('tcg');
    expect(choice.reason).toMatch(/not accessible .*mode 600.*setup-host/);
  });

  it('under qemu:///session, judges /dev/kvm by this user, who runs QEMU there', async () => {
    const device = join(dir, 'kvm');
    await writeFile(device, '');
    await chmod(device, 0o660);
    const choice = await probeAccelerator({
      virsh: virshWith([], 'ok', 'qemu:///session'),
      stateDir: dir,
      kvmDevice: device,
      bootIdPath: join(dir, 'boot_id'),
      accessible: async () => false,
    });
    expect(choice).toMatchObject({ accelerator: 'tcg', verified: true });
    expect(choice.reason).toMatch(
      /not accessible to you.*qemu:\/\/\/session.*sudo usermod -aG kvm /,
    );
  });

  it('chooses TCG when libvirt refuses KVM', async () => {
    const device = join(dir, 'kvm');
    await writeFile(device, '');
    await chmod(device, 0o660);
    const choice = await probeAccelerator({
      virsh: virshWith([], 'fail'),
      stateDir: dir,
      kvmDevice: device,
      bootIdPath: join(dir, 'boot_id'),
    });
    expect(choice.reason).toMatch(/libvirt cannot use KVM: error: KVM is not supported/);
  });

  it('without a kernel to boot, answers TCG provisionally and caches nothing', async () => {
    const device = join(dir, 'kvm');
    await writeFile(device, '');
    await chmod(device, 0o660);
    const calls: string[][] = [];
    const options = {
      virsh: virshWith(calls, 'ok'),
      stateDir: dir,
      kvmDevice: device,
      bootIdPath: join(dir, 'boot_id'),
    };
    const choice = await probeAccelerator(options);
    expect(choice).toMatchObject({ accelerator: 'tcg', verified: false });
    expect(await cachedAccelerator(options)).toBeUndefined();
    expect(calls.some((c) => c.includes('create'))).toBe(false);
  });
});
