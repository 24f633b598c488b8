import { randomBytes } from 'node:crypto';
import { lstat, mkdir, mkdtemp, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatCapability, parseCapability } from '../../src/core/capabilities.js';
import { isTestbedError } from '../../src/core/errors.js';
import type {
  Machine,
  MachineSpec,
  VmBackendProvider,
  VmProvisioner,
} from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { Wait } from '../../src/wait/wait.js';
import { until } from '../integration/support/until.js';

/** How one provider is put through the shared contract. */
export interface ProviderContractOptions {
  /** Builds the provider under test (real backend, default configuration). */
  create: () => VmBackendProvider;
  /** A spec that provisions a small, quick machine. */
  spec: () => MachineSpec | Promise<MachineSpec>;
}

/**
 * The contract every provider must pass (as unstorage's `testDriver()`): discovery never throws,
 * capabilities are truthful (each optional machine member exists exactly when its capability is
 * offered), machines cross processes as descriptors, destroy is idempotent and leaves nothing.
 * A backend that is missing skips the suite locally with the reason, and fails it under CI.
 */
export async function testProvider(options: ProviderContractOptions): Promise<void> {
  const provider = options.create();
  const available = await provider.isAvailable().catch(() => false);
  const reason = `${provider.id} is not available here (${provider.setupHint})`;

  describe(`provider contract: ${provider.id}`, () => {
    if (!available && !process.env.CI) {
      it.skip(reason, () => {});
      return;
    }

    let run: RunContext;
    let provisioner: VmProvisioner;
    let machine: Machine;
    const capabilities = provider.capabilities().map(formatCapability);
    const offers = (name: string) => capabilities.includes(name as never);

    beforeAll(async () => {
      if (!available) throw new Error(`${reason}; CI must provide every backend`);
      run = createRunContext();
      provisioner = await provider.createProvisioner({ run });
      const ports = offers('PortForward') ? { ports: [8080] } : {};
      machine = await provisioner.provision({ ...(await options.spec()), ...ports });
    });

    afterAll(async () => {
      await provider.removeRun?.(run.runId);
    });

    it('identifies itself and says how to set it up', () => {
      expect(provider.id).toMatch(/^[a-z][a-z0-9-]*$/);
      expect(provider.name.length).toBeGreaterThan(0);
      expect(provider.setupHint.length).toBeGreaterThan(10);
    });

    it('offers parsed capabilities that round-trip and name its own VmType', () => {
      for (const cap of provider.capabilities()) {
        expect(parseCapability(formatCapability(cap))).toEqual(cap);
      }
      expect(capabilities).toContain(`VmType(${provider.vmType()})`);
      expect(capabilities).toContain('ProvisionVm');
    });

    it('answers isAvailable without throwing, even when already aborted', async () => {
      await expect(provider.isAvailable(AbortSignal.abort())).resolves.toBeTypeOf('boolean');
    });

    it('reports health with a version and resource counts', async () => {
      const health = await provider.checkHealth(AbortSignal.timeout(30_000));
      expect(health.healthy).toBe(true);
      expect(health.version).toBeTruthy();
      expect(health.resources.vmsRunning).toBeGreaterThanOrEqual(1);
      expect(Array.isArray(health.warnings)).toBe(true);
    });

    it('provisions a machine whose members match its capabilities', () => {
      expect(machine.providerId).toBe(provider.id);
      expect(machine.vmType).toBe(provider.vmType());
      expect(machine.name).toContain(run.runId);
      expect(typeof machine.exec === 'function').toBe(offers('Exec'));
      expect(machine.console !== undefined).toBe(
        offers('SerialConsole') || machine.vmType === 'Container',
      );
      expect(machine.ssh !== undefined).toBe(offers('SshAccess'));
      expect(typeof machine.clone === 'function').toBe(offers('CloneVm'));
      expect(typeof machine.snapshot === 'function').toBe(offers('Snapshot'));
      expect(typeof machine.spawn === 'function').toBe(offers('Exec'));
      for (const member of ['copyTo', 'copyFrom', 'writeFile', 'readFile'] as const) {
        expect(typeof machine[member] === 'function', member).toBe(offers('FileTransfer'));
      }
      expect(typeof machine.endpoint === 'function').toBe(offers('PortForward'));
      expect(typeof machine.url === 'function').toBe(offers('PortForward'));
      for (const member of ['pause', 'resume'] as const) {
        expect(typeof machine[member] === 'function', member).toBe(offers('PauseResume'));
      }
      for (const member of ['reboot', 'crash', 'start'] as const) {
        expect(typeof machine[member] === 'function', member).toBe(offers('PowerControl'));
      }
      expect(typeof machine.waitUntil).toBe('function');
    });

    it('gives a missing command exit 127 with the message on stderr, and rejects an empty one', async () => {
      if (!machine.exec) return expect(offers('Exec')).toBe(false);
      const missing = await machine.exec(['no-such-command-here']);
      expect(missing.exitCode).toBe(127);
      expect(missing.stdout).toBe('');
      expect(missing.stderr).toMatch(/no-such-command-here/);
      const empty = await machine.exec([]).catch((e: unknown) => e);
      expect(isTestbedError(empty, 'TESTBED_INVALID_SPEC')).toBe(true);
    });

    it('refuses a missing cwd or user the same way, naming it, without running the command', async () => {
      if (!machine.exec || !machine.spawn) return expect(offers('Exec')).toBe(false);
      const mark = '/tmp/contract-context-ran';
      const noDir = await machine
        .exec(['touch', mark], { cwd: '/no/such/dir' })
        .catch((e: unknown) => e);
      expect(isTestbedError(noDir, 'TESTBED_NO_SUCH_CWD_OR_USER'), String(noDir)).toBe(true);
      expect(noDir).toMatchObject({ missing: 'cwd', value: '/no/such/dir', machine: machine.name });
      expect((noDir as Error).message).toContain('/no/such/dir');
      const noUser = await machine
        .exec(['touch', mark], { user: 'no-such-user', cwd: '/tmp' })
        .catch((e: unknown) => e);
      expect(isTestbedError(noUser, 'TESTBED_NO_SUCH_CWD_OR_USER'), String(noUser)).toBe(true);
      expect(noUser).toMatchObject({ missing: 'user', value: 'no-such-user' });
      const spawned = machine.spawn(['touch', mark], { cwd: '/no/such/dir' });
      const exited = await spawned.exited.catch((e: unknown) => e);
      expect(isTestbedError(exited, 'TESTBED_NO_SUCH_CWD_OR_USER'), String(exited)).toBe(true);
      expect((await machine.exec(['test', '-e', mark])).exitCode).not.toBe(0);
      // Ones that exist work as before.
      expect((await machine.exec(['pwd'], { cwd: '/tmp' })).stdout).toBe('/tmp\n');
      expect((await machine.exec(['id', '-u'], { user: 'root' })).stdout).toBe('0\n');
    });

    it('rejects bad per-call options with every problem named, before running anything', async () => {
      if (!machine.exec) return expect(offers('Exec')).toBe(false);
      const error = await machine
        .exec(['touch', '/tmp/contract-options-ran'], { tiemoutMs: 5, encoding: 'hex' } as never)
        .catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_INVALID_OPTIONS'), String(error)).toBe(true);
      expect((error as Error).message).toContain("did you mean 'timeoutMs'");
      expect((error as Error).message).toContain('encoding');
      expect((await machine.exec(['test', '-e', '/tmp/contract-options-ran'])).exitCode).not.toBe(
        0,
      );
    });

    it('streams stdin of any size and returns binary output', async () => {
      if (!machine.exec) return expect(offers('Exec')).toBe(false);
      const input = randomBytes(3 * 1024 * 1024);
      const counted = await machine.exec(['wc', '-c'], { input });
      expect(counted.stdout.trim()).toBe(String(input.length));
      const echoed = await machine.exec(['cat'], { input, encoding: 'buffer' });
      expect(Buffer.from(echoed.stdout).equals(input)).toBe(true);
    });

    it('moves files in and out with modes and symlinks kept, binary-safe', async () => {
      if (!machine.copyTo || !machine.copyFrom || !machine.writeFile || !machine.readFile) {
        return expect(offers('FileTransfer')).toBe(false);
      }
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await machine.writeFile('/tmp/contract/bytes.bin', bytes);
      expect((await machine.readFile('/tmp/contract/bytes.bin')).equals(bytes)).toBe(true);
      const dir = await mkdtemp(join(tmpdir(), 'contract-'));
      try {
        await mkdir(join(dir, 'tree/bin'), { recursive: true });
        await writeFile(join(dir, 'tree/bin/run'), '#!/bin/sh\necho ran\n', { mode: 0o755 });
        await writeFile(join(dir, 'tree/secret'), 'key', { mode: 0o600 });
        await symlink('bin/run', join(dir, 'tree/link'));
        await machine.copyTo(join(dir, 'tree'), '/tmp/contract/tree');
        if (machine.exec) {
          expect((await machine.exec(['/tmp/contract/tree/link'])).stdout).toBe('ran\n');
        }
        await machine.copyFrom('/tmp/contract/tree', join(dir, 'back'));
        expect((await lstat(join(dir, 'back/bin/run'))).mode & 0o777).toBe(0o755);
        expect((await lstat(join(dir, 'back/secret'))).mode & 0o777).toBe(0o600);
        expect(await readlink(join(dir, 'back/link'))).toBe('bin/run');
        const missing = await machine
          .copyFrom('/tmp/contract/none', join(dir, 'none'))
          .catch((e: unknown) => e);
        expect(isTestbedError(missing, 'TESTBED_FILE_TRANSFER_FAILED')).toBe(true);
        expect((missing as Error).message).toContain('/tmp/contract/none');
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });

    it('forwards an asked guest port to 127.0.0.1 and names the fix for one not asked', async () => {
      if (!machine.endpoint || !machine.url || !machine.exec) {
        return expect(offers('PortForward')).toBe(false);
      }
      const serve =
        'mkdir -p /tmp/www && echo contract > /tmp/www/index.html && httpd -p 8080 -h /tmp/www';
      expect((await machine.exec(serve)).exitCode).toBe(0);
      await machine.waitUntil(Wait.forHttp(8080, '/index.html'), { timeoutMs: 30_000 });
      expect(machine.endpoint(8080).host).toBe('127.0.0.1');
      const answer = await fetch(machine.url(8080, '/index.html'));
      expect(await answer.text()).toBe('contract\n');
      const error = (() => {
        try {
          return machine.endpoint?.(8081);
        } catch (e) {
          return e;
        }
      })();
      expect(isTestbedError(error, 'TESTBED_PORT_NOT_FORWARDED')).toBe(true);
    });

    it('runs commands: stdout, stderr and exit code', async () => {
      if (!machine.exec) return expect(offers('Exec')).toBe(false);
      const hello = await machine.exec(['echo', 'hello world']);
      expect(hello).toEqual({ stdout: 'hello world\n', stderr: '', exitCode: 0 });
      const failing = await machine.exec(['sh', '-c', 'echo oops >&2; exit 3']);
      expect(failing.exitCode).toBe(3);
      expect(failing.stderr).toBe('oops\n');
    });

    it('kills the processes of a command that times out or is aborted', async () => {
      if (!machine.exec) return expect(offers('Exec')).toBe(false);
      const exec = machine.exec.bind(machine);
      const timedOut = await exec(['sh', '-c', 'sleep 1001 & sleep 1002; wait'], {
        timeoutMs: 1000,
      }).catch((e: unknown) => e);
      expect(isTestbedError(timedOut, 'TESTBED_TIMEOUT')).toBe(true);
      const controller = new AbortController();
      const aborted = exec(['sleep', '1003'], { signal: controller.signal });
      setTimeout(() => controller.abort(new Error('given up')), 1000);
      await expect(aborted).rejects.toThrow('given up');
      await until('the commands to be killed', 5000, async () =>
        (await exec(['ps'])).stdout.includes('sleep 100') ? undefined : true,
      );
      expect((await exec(['echo', 'still usable'])).stdout).toBe('still usable\n');
    });

    it('stamps its resources with the run and the owner', async () => {
      const resources = (await provider.listResources?.()) ?? [];
      const mine = resources.filter((r) => r.runId === run.runId);
      expect(mine.length).toBeGreaterThanOrEqual(1);
      for (const resource of mine) {
        expect(resource.providerId).toBe(provider.id);
        expect(resource.owner.pid).toBe(process.pid);
      }
    });

    it('crosses processes as a structured-cloneable descriptor that attach() turns back into a handle', async () => {
      const descriptor = structuredClone(machine.describe());
      expect(descriptor).toMatchObject({ providerId: provider.id, name: machine.name });
      const attached = await provisioner.attach(descriptor);
      expect(attached.name).toBe(machine.name);
      if (attached.exec)
        expect((await attached.exec(['echo', 'attached'])).stdout).toBe('attached\n');
      await attached.destroy();
      // An attached handle does not own the machine: it is still there.
      if (machine.exec) expect((await machine.exec(['true'])).exitCode).toBe(0);
    });

    it('rejects an invalid spec with every problem named, and leaves nothing', async () => {
      const before = ((await provider.listResources?.()) ?? []).length;
      const error = await provisioner
        .provision({ ...(await options.spec()), memoryMiB: -1, vcpus: 0 })
        .catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_INVALID_SPEC')).toBe(true);
      expect((error as Error).message).toMatch(/memoryMiB/);
      expect((error as Error).message).toMatch(/vcpus/);
      expect(((await provider.listResources?.()) ?? []).length).toBe(before);
    });

    it('destroys idempotently, concurrently, leaving none of its resources', async () => {
      await Promise.all([machine.destroy(), machine.destroy()]);
      await machine.destroy();
      if (machine.exec) {
        const gone = await machine.exec(['true']).catch((e: unknown) => e);
        expect(isTestbedError(gone, 'TESTBED_MACHINE_GONE')).toBe(true);
      }
      const left = ((await provider.listResources?.()) ?? []).filter(
        (r) => r.runId === run.runId && r.kind !== 'directory',
      );
      expect(left).toEqual([]);
    });

    it('removeRun clears everything of the run, and reports what it removed', async () => {
      const report = await provider.removeRun?.(run.runId);
      expect(report?.failed ?? []).toEqual([]);
      const left = ((await provider.listResources?.()) ?? []).filter((r) => r.runId === run.runId);
      expect(left).toEqual([]);
    });
  });
}
