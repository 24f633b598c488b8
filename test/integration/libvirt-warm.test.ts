import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine, MachineSnapshot, VmProvisioner } from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import type { LibvirtMachine } from '../../src/providers/libvirt/libvirt-machine.js';
import { domainNames, execOk } from './support/libvirt-checks.js';
import { mountSmallTmpfs } from './support/small-tmpfs.js';

const config = loadConfig();
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();

const domains = () => domainNames(config.libvirtUri);

const exec = execOk;

describe.skipIf(!available && !process.env.CI)('warm snapshots of libvirt VMs (TCG)', () => {
  let run: RunContext;
  let provisioner: VmProvisioner;
  let template: LibvirtMachine;
  let snapshot: MachineSnapshot;

  beforeAll(async () => {
    if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
    template = (await provisioner.provision({ memoryMiB: 256 })) as LibvirtMachine;
    await exec(template, 'echo before > /root/saved');
    snapshot = await template.snapshot({ memory: true });
  }, 240_000);

  afterAll(async () => {
    await snapshot?.destroy();
    await template?.destroy();
    if (run) await provider.removeRun(run.runId);
    expect(domains().filter((d) => d.includes(run.runId))).toEqual([]);
  });

  it('restores continue from the saved instant: the template’s file, distinct machines, own writes', async () => {
    expect(snapshot.warm).toBe(true);
    // The source keeps running after its snapshot, on a layer of its own.
    expect((await exec(template, 'cat /root/saved')).trim()).toBe('before');
    const restores = (await Promise.all([
      snapshot.restore({ name: 'warm' }),
      snapshot.restore({ name: 'warm' }),
      snapshot.restore({ name: 'warm' }),
    ])) as LibvirtMachine[];
    try {
      expect(new Set(restores.map((m) => m.name)).size).toBe(3);
      expect(new Set(restores.map((m) => m.ssh.port)).size).toBe(3);
      expect(new Set(restores.map((m) => m.state.disk)).size).toBe(3);
      for (const machine of restores) {
        expect(domains()).toContain(machine.name);
        expect((await exec(machine, 'cat /root/saved')).trim()).toBe('before');
        // No boot: the console log holds the template's one boot, then where the restore took over.
        const log = readFileSync(machine.state.serialLog, 'utf8');
        expect(log.match(/Linux version/g)).toHaveLength(1);
        expect(log).toContain(`[testbed] ${machine.name} continues from ${snapshot.id}`);
        expect(log).toMatch(/testbed-ready \S+/);
      }
      const [a, b] = restores as [LibvirtMachine, LibvirtMachine];
      await exec(a, 'echo mine > /root/own && sync');
      expect(await exec(b, 'cat /root/own 2>/dev/null || echo absent')).toBe('absent\n');
      expect(await exec(template, 'cat /root/own 2>/dev/null || echo absent')).toBe('absent\n');
      // Each restore draws its own random numbers, though all continue from one RNG state.
      const draws = await Promise.all(
        restores.map((m) => exec(m, 'head -c 16 /dev/urandom | od -An -tx1')),
      );
      expect(new Set(draws).size).toBe(3);
    } finally {
      await Promise.all(restores.map((m) => m.destroy()));
    }
    for (const machine of restores) {
      expect(domains()).not.toContain(machine.name);
      expect(existsSync(machine.state.dir)).toBe(false);
    }
  });

  it('sets the restored guest’s clock and the hostname it is given', async () => {
    // The save is older than this test: a guest clock not set anew would lag by that much.
    const machine = await snapshot.restore({ hostname: 'restored-one' });
    try {
      const guest = Number((await exec(machine, 'date +%s')).trim());
      expect(Math.abs(guest - Date.now() / 1000)).toBeLessThan(2);
      expect((await exec(machine, 'hostname')).trim()).toBe('restored-one');
    } finally {
      await machine.destroy();
    }
  });

  it('two restores on one isolated network reach each other by distinct addresses', async () => {
    const network = await provisioner.createNetwork?.();
    if (!network) throw new Error('createNetwork is missing');
    const machines: Machine[] = [];
    try {
      machines.push(
        ...(await Promise.all([
          snapshot.restore({ networks: [network] }),
          snapshot.restore({ networks: [network] }),
        ])),
      );
      const [a, b] = machines as [Machine, Machine];
      const macs = await Promise.all(
        machines.map((m) => exec(m, 'cat /sys/class/net/eth1/address')),
      );
      expect(new Set(macs).size).toBe(2);
      await exec(a, 'ip link set eth1 up && ip addr add 192.168.214.11/24 dev eth1');
      await exec(b, 'ip link set eth1 up && ip addr add 192.168.214.12/24 dev eth1');
      expect(await exec(a, 'ping -c 2 -W 5 192.168.214.12')).toMatch(/2 packets received/);
    } finally {
      await Promise.all(machines.map((m) => m.destroy()));
      await network.destroy();
    }
  });

  describe('bad input: a coded error and nothing left', () => {
    it('a snapshot of a machine that is gone, and a restore after the snapshot was destroyed', async () => {
      const machine = await snapshot.restore();
      await machine.destroy();
      const gone = await machine.snapshot?.({ memory: true }).catch((e: unknown) => e);
      expect(isTestbedError(gone, 'TESTBED_MACHINE_GONE')).toBe(true);
      const other = await template.snapshot({ memory: true });
      await other.destroy();
      const late = await other.restore().catch((e: unknown) => e);
      expect(isTestbedError(late, 'TESTBED_SNAPSHOT_GONE')).toBe(true);
      expect((late as Error).message).toContain(other.id);
      expect(
        readdirSync(join(config.stateDir, run.runId)).filter((f) => f.startsWith('snapshot-')),
      ).toEqual([snapshot.id]);
    });

    it('no room for the memory image: names the directory and the size, the source runs on', async () => {
      const { dir: small, unmount } = mountSmallTmpfs('testbed-small-');
      const tight = new LibvirtProvider({ config: { ...config, stateDir: small } });
      const tightRun = createRunContext();
      try {
        const tightProvisioner = await tight.createProvisioner({ run: tightRun });
        const machine = await tightProvisioner.provision({ memoryMiB: 256 });
        const error = await machine.snapshot?.({ memory: true }).catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_NO_SPACE')).toBe(true);
        expect((error as Error).message).toContain(join(small, tightRun.runId));
        expect((error as Error).message).toMatch(/needs \d+ MiB/);
        expect((await exec(machine, 'echo alive')).trim()).toBe('alive');
        await machine.destroy();
        expect(
          readdirSync(join(small, tightRun.runId)).filter((f) => f.startsWith('snapshot-')),
        ).toEqual([]);
      } finally {
        await tight.removeRun(tightRun.runId);
        unmount();
      }
    });
  });
});
