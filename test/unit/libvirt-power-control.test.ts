import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import {
  LibvirtMachine,
  type LibvirtMachineState,
} from '../../src/providers/libvirt/libvirt-machine.js';
import { LibvirtPowerControl } from '../../src/providers/libvirt/power-control.js';
import { Virsh } from '../../src/providers/libvirt/virsh.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed-power-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A virsh whose `domstate` answers `state` ('gone': no such domain); records every call. */
function fakeVirsh(state: string) {
  const calls: string[] = [];
  const run: RunCommand = async (_file, args) => {
    const command = args.slice(3).join(' ');
    calls.push(command);
    if (command.startsWith('domstate')) {
      return state === 'gone'
        ? { stdout: '', stderr: "error: failed to get domain 'm'", exitCode: 1 }
        : { stdout: state, stderr: '', exitCode: 0 };
    }
    return { stdout: '', stderr: '', exitCode: 0 };
  };
  return { virsh: new Virsh('qemu:///system', run), calls };
}

function machine(power: LibvirtPowerControl): LibvirtMachine {
  const state = {
    name: 'testbed-run-m',
    dir,
    disk: join(dir, 'disk-1.qcow2'),
    serialLog: join(dir, 'serial.log'),
    ports: {},
    readiness: { readyPattern: null, cloudInit: false },
    ssh: { host: '127.0.0.1', port: 1, username: 'root', privateKeyPath: '', privateKey: '' },
  } as unknown as LibvirtMachineState;
  const lifecycle = { power } as unknown as ConstructorParameters<typeof LibvirtMachine>[1];
  return new LibvirtMachine(state, lifecycle);
}

describe('LibvirtPowerControl', () => {
  it('pause of a paused domain and resume of a running one call nothing', async () => {
    const paused = fakeVirsh('paused');
    await machine(new LibvirtPowerControl(paused.virsh)).pause();
    expect(paused.calls).toEqual(['domstate testbed-run-m']);
    const running = fakeVirsh('running');
    const m = machine(new LibvirtPowerControl(running.virsh));
    await m.resume();
    await m.pause();
    expect(running.calls).toEqual([
      'domstate testbed-run-m',
      'domstate testbed-run-m',
      'suspend testbed-run-m',
    ]);
  });

  it('crash of a crashed machine does nothing; pause of it names start() as the fix', async () => {
    const gone = fakeVirsh('gone');
    const m = machine(new LibvirtPowerControl(gone.virsh));
    await m.crash();
    expect(gone.calls).toEqual(['domstate testbed-run-m']);
    const error = await m.pause().catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_FAULT_FAILED')).toBe(true);
    expect(String(error)).toContain('testbed-run-m');
    expect(String(error)).toContain('start()');
  });

  it('start() refuses a saved XML that names an older disk layer, and never creates it', async () => {
    writeFileSync(
      join(dir, 'domain.xml'),
      `<domain><source file='${join(dir, 'disk-0.qcow2')}'/></domain>`,
    );
    const gone = fakeVirsh('gone');
    const error = await machine(new LibvirtPowerControl(gone.virsh))
      .start()
      .catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_FAULT_FAILED')).toBe(true);
    expect(String(error)).toContain('disk-1.qcow2');
    expect(gone.calls.some((c) => c.startsWith('create'))).toBe(false);
  });

  it('an attached handle (no provisioner) refuses with UnsupportedOperationError', async () => {
    const attached = new LibvirtMachine(
      machine(new LibvirtPowerControl(fakeVirsh('running').virsh)).state,
      undefined,
    );
    const error = await attached.crash().catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_UNSUPPORTED')).toBe(true);
  });
});
