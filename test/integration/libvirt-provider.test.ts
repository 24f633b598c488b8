import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine, VmProvisioner } from '../../src/core/provider.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { runCommand } from '../../src/core/run-command.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { resolveVmImage } from '../../src/images/resolve-vm-image.js';
import { findFreePort } from '../../src/providers/libvirt/free-port.js';
import { createImageResolver } from '../../src/providers/libvirt/image-resolver.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import type { LibvirtMachine } from '../../src/providers/libvirt/libvirt-machine.js';
import { LibvirtProvisioner } from '../../src/providers/libvirt/provisioner.js';
import { Virsh } from '../../src/providers/libvirt/virsh.js';
import { sweepDeadRuns } from '../../src/reaper/sweep-dead-runs.js';
import { testProvider } from '../contract/provider-contract.js';

const config = loadConfig();
const uri = config.libvirtUri;
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();

function virsh(...args: string[]): string {
  return execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8' });
}

function domains(): string[] {
  return virsh('list', '--all', '--name').split('\n').filter(Boolean);
}

function networks(): string[] {
  return virsh('net-list', '--all', '--name').split('\n').filter(Boolean);
}

function sha256(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    createReadStream(path)
      .on('data', (chunk) => hash.update(chunk))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

function backingChain(disk: string): string[] {
  const info = JSON.parse(
    execFileSync('qemu-img', ['info', '-U', '--backing-chain', '--output=json', disk], {
      encoding: 'utf8',
    }),
  ) as { filename: string }[];
  return info.map((layer) => layer.filename);
}

async function exec(machine: Machine, command: string): Promise<string> {
  const result = await machine.exec?.(command, { timeoutMs: 60_000 });
  expect(result?.exitCode, `${command}: ${result?.stderr}`).toBe(0);
  return result?.stdout ?? '';
}

describe.skipIf(!available && !process.env.CI)(
  'LibvirtProvider against the real libvirtd (TCG)',
  () => {
    let run: RunContext;
    let provisioner: VmProvisioner;

    beforeAll(async () => {
      if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
      run = createRunContext();
      provisioner = await provider.createProvisioner({ run });
    });

    afterAll(async () => {
      if (run) await provider.removeRun(run.runId);
    });

    // One VM each, no look at the run's other domains: the two at once, one boot slot each.
    it.concurrent('provisions from the tiny image, answers uname -r over SSH, and destroy leaves nothing', async () => {
      const machine = (await provisioner.provision({})) as LibvirtMachine;
      expect(machine.name).toMatch(new RegExp(`^testbed-${run.runId}-[a-z0-9]+$`));
      expect(await machine.console.read()).toContain(`testbed-ready ${machine.state.hostname}`);
      const kernel = await exec(machine, 'uname -r');
      expect(kernel.trim()).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
      expect(machine.ssh.host).toBe('127.0.0.1');
      expect(domains()).toContain(machine.name);
      const dir = machine.state.dir;
      expect(existsSync(machine.state.disk)).toBe(true);

      await Promise.all([machine.destroy(), machine.destroy()]);
      await machine.destroy();
      expect(domains()).not.toContain(machine.name);
      expect(existsSync(dir)).toBe(false);
      expect(networks().filter((n) => n.includes(run.runId))).toEqual([]);
    });

    it.concurrent('snapshots: machines restored from it start from the saved disk state', async () => {
      const source = (await provisioner.provision({})) as LibvirtMachine;
      const snapshot = await source.snapshot();
      let restored: Machine | undefined;
      try {
        await exec(source, 'echo after-snapshot > /root/later && sync');
        restored = await snapshot.restore();
        const later = await restored.exec?.(['test', '-e', '/root/later']);
        expect(later?.exitCode).toBe(1);
        expect((await exec(restored, 'uname -r')).trim()).toMatch(/cloud-amd64$/);
      } finally {
        await restored?.destroy();
        await snapshot.destroy();
        await source.destroy();
      }
      expect(existsSync(source.state.dir)).toBe(false);
    });

    it('runs the guest on an overlay: the base image is unchanged after writes in the guest', async () => {
      const machine = (await provisioner.provision({})) as LibvirtMachine;
      try {
        const chain = backingChain(machine.state.disk);
        const base = chain.at(-1) as string;
        expect(chain.length).toBeGreaterThanOrEqual(2);
        const before = await sha256(base);
        await exec(machine, 'dd if=/dev/urandom of=/root/blob bs=1M count=8 && sync');
        expect(await sha256(base)).toBe(before);
      } finally {
        await machine.destroy({ keepArtifacts: true });
      }
      // Kept for a failure report: the domain is gone, its overlay and log stay until removeRun.
      expect(domains()).not.toContain(machine.name);
      expect(existsSync(machine.state.disk)).toBe(true);
      expect(existsSync(machine.state.serialLog)).toBe(true);
      // ... and a sweep, even one that finds the owner dead, leaves them to `gc --kept`.
      const listed = (await provider.listResources()).find(
        (r) => r.kind === 'directory' && r.runId === run.runId,
      );
      expect(listed?.kept).toBe(true);
      const sweep = await sweepDeadRuns({
        registry: new ProviderRegistry().register(provider),
        dryRun: true,
        stateOf: () => 'dead',
      });
      const decision = sweep.runs.find((d) => d.run.runId === run.runId);
      expect(decision).toMatchObject({ remove: false });
      expect(decision?.reason).toContain('testbed gc --kept');
    });

    it('clones: the source state is visible in the clone, later clone writes are not in the source', async () => {
      const source = (await provisioner.provision({})) as LibvirtMachine;
      let clone: Machine | undefined;
      try {
        await exec(source, 'echo from-source > /root/before-clone');
        clone = await source.clone();
        expect(clone.name).not.toBe(source.name);
        expect(await exec(clone, 'cat /root/before-clone')).toBe('from-source\n');
        await exec(clone, 'echo from-clone > /root/after-clone && sync');
        const inSource = await source.exec(['test', '-e', '/root/after-clone']);
        expect(inSource.exitCode).toBe(1);
        // The source keeps running and writing after the clone point.
        await exec(source, 'echo still-writable > /root/later');
      } finally {
        await clone?.destroy();
        await source.destroy();
      }
      expect(domains().filter((d) => d.includes(run.runId))).toEqual([]);
    });

    it('joins two VMs to an isolated network where they reach each other and the host has no address', async () => {
      const network = await provisioner.createNetwork?.();
      if (!network) throw new Error('createNetwork is missing');
      const machines: Machine[] = [];
      try {
        const bridge = /<bridge name='([^']+)'/.exec(virsh('net-dumpxml', network.name))?.[1];
        expect(bridge).toBeTruthy();
        machines.push(
          ...(await Promise.all([
            provisioner.provision({ networks: [network] }),
            provisioner.provision({ networks: [network] }),
          ])),
        );
        const [a, b] = machines as [Machine, Machine];
        await exec(a, 'ip link set eth1 up && ip addr add 192.168.213.11/24 dev eth1');
        await exec(b, 'ip link set eth1 up && ip addr add 192.168.213.12/24 dev eth1');
        expect(await exec(a, 'ping -c 2 -W 5 192.168.213.12')).toMatch(/2 packets received/);
        expect(await exec(b, 'ping -c 1 -W 5 192.168.213.11')).toMatch(/1 packets received/);
        const hostAddresses = execFileSync('ip', ['-o', 'addr', 'show', 'dev', bridge as string], {
          encoding: 'utf8',
        });
        expect(hostAddresses.trim()).toBe('');
        // A clone joins its source's networks.
        const clone = await a.clone?.();
        if (!clone) throw new Error('clone is missing');
        machines.push(clone);
        await exec(clone, 'ip link set eth1 up && ip addr add 192.168.213.13/24 dev eth1');
        expect(await exec(clone, 'ping -c 1 -W 5 192.168.213.12')).toMatch(/1 packets received/);
      } finally {
        await Promise.all(machines.map((m) => m.destroy()));
        await network.destroy();
        await network.destroy();
      }
      expect(networks()).not.toContain(network.name);
    });

    it('provisions three VMs in parallel with distinct names, ports and overlays', async () => {
      const machines = (await Promise.all([
        provisioner.provision({}),
        provisioner.provision({}),
        provisioner.provision({}),
      ])) as LibvirtMachine[];
      try {
        expect(new Set(machines.map((m) => m.name)).size).toBe(3);
        expect(new Set(machines.map((m) => m.ssh.port)).size).toBe(3);
        expect(new Set(machines.map((m) => m.state.disk)).size).toBe(3);
        const hostnames = await Promise.all(machines.map((m) => exec(m, 'hostname')));
        expect(hostnames.map((h) => h.trim())).toEqual(machines.map((m) => m.state.hostname));
      } finally {
        await Promise.all(machines.map((m) => m.destroy()));
      }
    });

    describe('bad input: a clear error and nothing left', () => {
      function leftovers(runId = run.runId): string[] {
        return domains().filter((d) => d.includes(runId));
      }

      it('a missing base image', async () => {
        const error = await provisioner
          .provision({ image: '/nonexistent/base.qcow2' })
          .catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_IMAGE_NOT_FOUND')).toBe(true);
        expect((error as Error).message).toContain('/nonexistent/base.qcow2');
        expect(leftovers()).toEqual([]);
      });

      it('an invalid memory value and a hostile name, listed together', async () => {
        const error = await provisioner
          .provision({ memoryMiB: 'lots' as unknown as number, name: "a'/><evil/>" })
          .catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_INVALID_SPEC')).toBe(true);
        expect((error as Error).message).toMatch(/memoryMiB/);
        expect((error as Error).message).toMatch(/name/);
        expect(leftovers()).toEqual([]);
      });

      it('a libvirt daemon that is not there', async () => {
        const down = new LibvirtProvider({
          config: { ...config, libvirtUri: 'qemu:///system?socket=/nonexistent/libvirt-sock' },
        });
        expect(await down.isAvailable()).toBe(false);
        const health = await down.checkHealth();
        expect(health.healthy).toBe(false);
        expect(health.warnings.join('\n')).toMatch(/nonexistent\/libvirt-sock/);
        const error = await down.createProvisioner({ run }).catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_PROVIDER_UNAVAILABLE')).toBe(true);
        expect((error as Error).message).toMatch(/libvirtd/);
      });

      it('a guest that never prints readiness: a timeout with the serial tail', async () => {
        const before = existsSync(`${config.stateDir}/${run.runId}`)
          ? execFileSync('ls', [`${config.stateDir}/${run.runId}`], { encoding: 'utf8' })
          : '';
        const error = await provisioner
          .provision({ readyPattern: 'this line never comes', timeoutMs: 15_000 })
          .catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_TIMEOUT')).toBe(true);
        expect((error as Error).message).toMatch(/Last console lines/);
        expect((error as Error).message).toMatch(/Linux version|testbed-ready/);
        expect(leftovers()).toEqual([]);
        // Nothing of the machine is left but the serial log the error names, kept until the run ends.
        const log = /Serial log: (\S+) \(kept until the run ends\)/.exec(
          (error as Error).message,
        )?.[1];
        expect(log).toMatch(
          new RegExp(`^${config.stateDir}/${run.runId}/failed/testbed-\\S+\\.serial\\.log$`),
        );
        expect(readFileSync(log ?? '', 'utf8')).toMatch(/Linux version|testbed-ready/);
        const after = execFileSync('ls', [`${config.stateDir}/${run.runId}`], { encoding: 'utf8' });
        const machineDirs = (list: string) =>
          list.split('\n').filter((n) => n.startsWith('testbed-'));
        expect(machineDirs(after)).toEqual(machineDirs(before));
      });

      it.concurrent('a port taken between choosing and binding: chosen again, not fatal', async () => {
        const taken = createServer().listen(0, '127.0.0.1');
        await once(taken, 'listening');
        const busy = (taken.address() as AddressInfo).port;
        const offered: number[] = [];
        const racy = new LibvirtProvisioner({
          config,
          run,
          virsh: new Virsh(uri),
          runCommand,
          resolveImage: createImageResolver({
            cacheDir: config.baseImagePath,
            run: runCommand,
            env: process.env,
          }),
          accelerator: async () => ({ accelerator: 'tcg', verified: true }),
          choosePort: async () => {
            const port = offered.length === 0 ? busy : await findFreePort();
            offered.push(port);
            return port;
          },
        });
        try {
          const machine = await racy.provision({});
          expect(offered[0]).toBe(busy);
          expect(machine.ssh?.port).toBe(offered.at(-1));
          expect(machine.ssh?.port).not.toBe(busy);
          await machine.destroy();
        } finally {
          taken.close();
        }
        expect(leftovers()).toEqual([]);
      });

      // In a run of its own, so that it runs beside the test above, which looks at every
      // domain of the shared run. (Not beside the test of a guest that never gets ready: its
      // 15 s bound must see the start of the boot on the console, which a second boot delays.)
      it.concurrent('a login user the image does not let in: a coded error soon after SSH answers', async () => {
        const own = createRunContext();
        try {
          const ownProvisioner = await provider.createProvisioner({ run: own });
          const started = Date.now();
          const error = await ownProvisioner
            .provision({ sshUser: 'nosuchuser', timeoutMs: 120_000 })
            .catch((e: unknown) => e);
          expect(isTestbedError(error, 'TESTBED_SSH_AUTH_REFUSED'), String(error)).toBe(true);
          expect((error as Error).message).toContain("refuses testbed's key for 'nosuchuser'");
          expect((error as Error).message).toContain('cloud-init');
          expect(Date.now() - started).toBeLessThan(90_000);
          expect(leftovers(own.runId)).toEqual([]);
        } finally {
          await provider.removeRun(own.runId);
        }
      });

      it('an image the QEMU user cannot read: names the file and the fix, leaves nothing', async () => {
        const hidden = mkdtempSync(join(tmpdir(), 'testbed-hidden-'));
        try {
          const tiny = await resolveVmImage('tiny-vm');
          const copy = join(hidden, 'mine.qcow2');
          copyFileSync(tiny.base, copy);
          // Direct kernel boot, so that it gets as far as libvirt opening the disk.
          const boot = { kernel: tiny.kernel, initrd: tiny.initrd, cmdline: tiny.cmdline };
          const error = await provisioner
            .provision({ image: copy, ...boot })
            .catch((e: unknown) => e);
          expect(isTestbedError(error, 'TESTBED_PROVISION_FAILED'), String(error)).toBe(true);
          expect((error as Error).message).toContain(`cannot read ${copy}`);
          expect((error as Error).message).toContain('chmod o+x');
          expect(leftovers()).toEqual([]);
        } finally {
          rmSync(hidden, { recursive: true, force: true });
        }
      });

      it('a disk with no boot sector (a raw file, or a root filesystem image): refused before booting', async () => {
        const dir = mkdtempSync(join(tmpdir(), 'testbed-raw-'));
        try {
          const raw = join(dir, 'garbage.img');
          writeFileSync(raw, Buffer.alloc(4 * 1024 * 1024, 7));
          const error = await provisioner.provision({ image: raw }).catch((e: unknown) => e);
          expect(isTestbedError(error, 'TESTBED_IMAGE_NOT_FOUND'), String(error)).toBe(true);
          expect((error as Error).message).toContain('(raw) has no boot sector');
          expect((error as Error).message).toContain('kernel/initrd');
          expect(leftovers()).toEqual([]);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      });

      it('an abort during provisioning', async () => {
        const controller = new AbortController();
        setTimeout(() => controller.abort(new Error('test aborted')), 1_500);
        const error = await provisioner
          .provision({ signal: controller.signal })
          .catch((e: unknown) => e);
        expect(isTestbedError(error, 'TESTBED_ABORTED')).toBe(true);
        expect((error as Error).message).toMatch(
          /^Provisioning testbed-\S+ was aborted: test aborted\.$/,
        );
        expect(((error as Error).cause as Error).message).toBe('test aborted');
        expect(leftovers()).toEqual([]);
      });
    });
  },
);

await testProvider({ create: () => new LibvirtProvider({ config }), spec: () => ({}) });
