import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DoctorReport } from '../../src/cli/doctor-report.js';
import { loadConfig } from '../../src/core/config.js';
import { HostStorageError, HostUnreachableError } from '../../src/core/errors.js';
import { placementDir, removePlacements } from '../../src/core/file-placement-store.js';
import { hostListSchema } from '../../src/core/hosts.js';
import { descendants, isRunning } from '../../src/core/process-table.js';
import type { Machine, VmBackendProvider, VmProvisioner } from '../../src/core/provider.js';
import { createRunContext } from '../../src/core/run-context.js';
import { MachineSource } from '../../src/harness/machine-source.js';
import type { DockerMachine } from '../../src/providers/docker/docker-machine.js';
import type { LibvirtMachine } from '../../src/providers/libvirt/libvirt-machine.js';
import { VmBackendRegistry } from '../../src/registry.js';
import { runVitest } from '../fixtures/run-vitest.js';
import { startVitest } from './support/child-vitest.js';
import {
  canStartRemoteHost,
  type RemoteDockerHost,
  startRemoteHost,
} from './support/remote-host.js';
import { runLeftovers } from './support/run-leftovers.js';
import { until } from './support/until.js';

const repo = resolve(import.meta.dirname, '../..');
const fixture = resolve(repo, 'test/fixtures/vitest-hosts');
const bin = fileURLToPath(new URL('../../bin/testbed.js', import.meta.url));
const POOL_DIR = '/var/lib/libvirt/images/testbed';
const { stateDir } = loadConfig();

let host: RemoteDockerHost | undefined;

/** The part of `testbed ls --json` read here. */
interface LsJson {
  runs: {
    runId: string;
    ownerState: string;
    resources: { providerId: string; kind: string; name: string }[];
  }[];
}

function remote(): RemoteDockerHost {
  if (!host) throw new Error('the remote host did not start (see beforeAll)');
  return host;
}

/** The remote host's libvirt, and with `docker` its Docker engine too. */
function hostsVariable(h: RemoteDockerHost, options: { docker?: boolean } = {}): string {
  const docker = options.docker ? ` host2=docker:${h.dockerEndpoint}` : '';
  return `host2=libvirt:${h.libvirtUri}${docker}`;
}

function registryWith(entries: string[]): VmBackendRegistry {
  const hosts = hostListSchema.parse(entries.flatMap((e) => e.split(' ')));
  return VmBackendRegistry.withDefaults({ hosts });
}

async function lines(h: RemoteDockerHost, args: string[]): Promise<string[]> {
  const { stdout } = await h.exec(['virsh', '-q', ...args], { reject: false });
  return stdout
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter(Boolean);
}

/** The image volumes of the pool: base, kernel and initrd, each with its `.ready` marker. */
function baseVolumes(volumes: readonly string[]): string[] {
  return volumes.filter((v) => /^(base|kernel|initrd)-/.test(v)).sort();
}

/** Names the host's engine lists with the run's label: containers, images, networks. */
async function engineLines(h: RemoteDockerHost, kind: string, runId: string): Promise<string[]> {
  const format =
    { container: '{{.Names}}', image: '{{.Repository}}:{{.Tag}}' }[kind] ?? '{{.Name}}';
  const list = kind === 'container' ? ['ps', '-a'] : [kind, 'ls'];
  const { stdout } = await h.docker(
    [...list, '--filter', `label=testbed.run=${runId}`, '--format', format],
    { reject: false },
  );
  return stdout.split('\n').filter(Boolean);
}

/** Everything of `runId` on the remote host: domains, networks, volumes of its pool; its engine's containers, images and networks. */
async function remoteLeftovers(h: RemoteDockerHost, runId: string): Promise<string[]> {
  const [domains, networks, volumes, containers, images, engineNetworks] = await Promise.all([
    lines(h, ['list', '--all', '--name']),
    lines(h, ['net-list', '--all', '--name']),
    lines(h, ['vol-list', 'testbed']),
    engineLines(h, 'container', runId),
    engineLines(h, 'image', runId),
    engineLines(h, 'network', runId),
  ]);
  return [
    ...domains.filter((d) => d.includes(runId)).map((d) => `domain ${d}`),
    ...networks.filter((n) => n.includes(runId)).map((n) => `network ${n}`),
    ...volumes.filter((v) => v.includes(runId)).map((v) => `volume ${v}`),
    ...containers.map((c) => `docker container ${c}`),
    ...images.map((i) => `docker image ${i}`),
    ...engineNetworks.map((n) => `docker network ${n}`),
  ];
}

beforeAll(async () => {
  if (!canStartRemoteHost()) {
    throw new Error(
      'These tests need root, unshare, nsenter, dropbear and libvirtd (sh scripts/setup-host.sh).',
    );
  }
  if (!existsSync(join(repo, 'dist/cli/main.js'))) {
    throw new Error('bin/testbed.js and the fixture run dist/: run `npm run build` first.');
  }
  host = (await startRemoteHost({ name: 'host2', docker: true })) as RemoteDockerHost;
});

afterAll(async () => {
  await host?.stop();
});

describe('a remote libvirt host (its own libvirtd and files, reached over SSH)', () => {
  let provider: VmBackendProvider;
  let provisioner: VmProvisioner;
  const run = createRunContext();
  const machines: Machine[] = [];

  beforeAll(async () => {
    provider = registryWith([hostsVariable(remote())]).get('libvirt@host2') as VmBackendProvider;
    provisioner = await provider.createProvisioner({ run });
  });

  afterAll(async () => {
    for (const machine of machines.reverse()) await machine.destroy().catch(() => {});
    await provider.removeRun?.(run.runId);
  });

  it('boots a VM from volumes uploaded once, with its ports and console on this side; destroy leaves nothing on either', async () => {
    const h = remote();
    const first = (await provisioner.provision({
      ports: [8080],
      hostname: 'far',
    })) as LibvirtMachine;
    machines.push(first);
    expect(first.providerId).toBe('libvirt@host2');
    expect(first.ssh.host).toBe('127.0.0.1');
    expect((await first.exec('hostname')).stdout.trim()).toBe('far');
    await first.exec(
      'mkdir -p /www && echo "hello from far" > /www/index.html && httpd -p 8080 -h /www',
    );
    const response = await fetch(first.url(8080, '/index.html') ?? '');
    expect(await response.text()).toBe('hello from far\n');
    expect(first.endpoint(8080).host).toBe('127.0.0.1');
    expect(await first.console.read()).toMatch(/testbed-ready far/);

    // Its disk is a volume on the host, at a path that does not exist here: nothing was local.
    const xml = await h.virsh(['dumpxml', first.name]);
    const disk = /<source file='([^']+disk-0\.qcow2)'/.exec(xml)?.[1] ?? '';
    expect(disk).toBe(`${POOL_DIR}/${first.name}-disk-0.qcow2`);
    expect(existsSync(disk)).toBe(false);
    expect(xml).toContain(`${POOL_DIR}/kernel-`);
    const dir = first.state.dir;
    expect(readdirSync(dir).filter((f) => /\.(qcow2|iso|img)$/.test(f))).toEqual([]);
    const volumes = await lines(h, ['vol-list', 'testbed']);
    for (const part of ['disk-0.qcow2', 'seed.iso', 'serial.log']) {
      expect(volumes).toContain(`${first.name}-${part}`);
    }
    expect(baseVolumes(volumes).filter((v) => v.endsWith('.ready'))).toHaveLength(3);

    // Crash and start: the same domain XML, the same ports on the host, so the same tunnels.
    await first.exec('echo kept > /root/file && sync');
    await first.crash();
    await first.start();
    expect((await first.exec('cat /root/file')).stdout.trim()).toBe('kept');
    await first.exec('httpd -p 8080 -h /www');
    expect(await (await fetch(first.url(8080, '/index.html'))).text()).toBe('hello from far\n');

    await first.destroy();
    expect(await remoteLeftovers(h, run.runId)).toEqual([]);
    expect(existsSync(dir)).toBe(false);
    expect(await provider.listResources?.()).toEqual([]);
  });

  it('refuses a pool it may not write with a coded error naming the host and the fix, leaving nothing', async () => {
    const h = remote();
    await h.exec([
      'sh',
      '-c',
      `mount --bind ${POOL_DIR} ${POOL_DIR} && mount -o remount,bind,ro ${POOL_DIR}`,
    ]);
    try {
      const error = await provisioner.provision({}).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(HostStorageError);
      expect((error as HostStorageError).code).toBe('TESTBED_HOST_STORAGE_DENIED');
      expect((error as Error).message).toMatch(
        /^Host libvirt@host2 does not let testbed use storage pool 'testbed': .*read-only file system/is,
      );
      expect((error as Error).message).toContain('Fix: Let libvirtd on that host write');
    } finally {
      await h.exec(['umount', POOL_DIR]);
    }
    expect(await remoteLeftovers(h, run.runId)).toEqual([]);
    // The run's own directory stays until the run ends; no machine's files are in it.
    const runDir = join(stateDir, run.runId);
    const inRunDir = existsSync(runDir) ? readdirSync(runDir) : [];
    expect(inRunDir.filter((f) => f.startsWith('testbed-'))).toEqual([]);
  });

  it('names an unreachable host and the fix, within the discovery timeout', async () => {
    const h = remote();
    // The host's own address, on a port nothing listens on.
    const uri = h.libvirtUri.replace(`@${h.address}/`, `@${h.address}:2222/`);
    const registry = registryWith([`host3=libvirt:${uri}`]);
    const started = Date.now();
    const statuses = await registry.discover({ health: true });
    const status = statuses.find((s) => s.provider.id === 'libvirt@host3');
    expect(Date.now() - started).toBeLessThan(loadConfig().timeoutMs + 3_000);
    expect(status?.health?.healthy).toBe(false);
    expect(status?.health?.warnings[0]).toMatch(
      /^Host libvirt@host3 \(qemu\+ssh:.*:2222\/system.*\) cannot be reached: .*Connection refused/,
    );
    // The local providers were discovered as usual.
    expect(statuses.find((s) => s.provider.id === 'docker')?.health?.healthy).toBe(true);
    const error = await registry
      .get('libvirt@host3')
      ?.createProvisioner({ run })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostUnreachableError);
    expect((error as Error).message).toContain('Fix: Check that libvirtd runs on that host');
  });
  it("`testbed ls` and `testbed gc` find a dead runner's machine on the remote host by its run stamp and remove it", async () => {
    const h = remote();
    // The same pid with another start time: the owner is dead, as after a reboot or a lost runner.
    const dead = { ...createRunContext(), owner: { ...run.owner, startTime: 1 } };
    const orphan = await (await provider.createProvisioner({ run: dead })).provision({});
    const env = { ...process.env, TESTBED_HOSTS: hostsVariable(h) };
    const ls = await execa(process.execPath, [bin, 'ls', '--json'], { env, reject: false });
    const listed = (JSON.parse(ls.stdout) as LsJson).runs.find((r) => r.runId === dead.runId);
    expect(listed?.ownerState).toBe('dead');
    expect(listed?.resources.map((r) => `${r.providerId} ${r.kind} ${r.name}`)).toEqual(
      expect.arrayContaining([
        `libvirt@host2 domain ${orphan.name}`,
        `libvirt@host2 volume ${orphan.name}-disk-0.qcow2`,
      ]),
    );
    const gc = await execa(process.execPath, [bin, 'gc'], { env, reject: false });
    expect(gc.exitCode, gc.stderr).toBe(0);
    expect(await remoteLeftovers(h, dead.runId)).toEqual([]);
    expect(existsSync(join(stateDir, dead.runId))).toBe(false);
    await orphan.destroy();
  });
});

describe('a remote Docker engine (its own dockerd, reached over SSH)', () => {
  let provider: VmBackendProvider;
  let provisioner: VmProvisioner;
  const run = createRunContext();
  const machines: Machine[] = [];

  beforeAll(async () => {
    const registry = registryWith([hostsVariable(remote(), { docker: true })]);
    provider = registry.get('docker@host2') as VmBackendProvider;
    provisioner = await provider.createProvisioner({ run });
  });

  afterAll(async () => {
    for (const machine of machines.reverse()) await machine.destroy().catch(() => {});
    await provider.removeRun?.(run.runId);
  });

  it('builds the image there, runs a container there with its ports on this side; destroy leaves nothing', async () => {
    const h = remote();
    const health = await provider.checkHealth();
    expect(health.healthy, health.warnings.join('; ')).toBe(true);
    expect(health.version).toMatch(/^Docker Engine /);
    const machine = (await provisioner.provision({ ports: [8080] })) as DockerMachine;
    machines.push(machine);
    expect(machine.providerId).toBe('docker@host2');
    expect(machine.vmType).toBe('Container');
    // On the host's engine, not on this one.
    expect(await engineLines(h, 'container', run.runId)).toEqual([machine.name]);
    const here = await execa('docker', ['ps', '-a', '--filter', `name=${machine.name}`, '-q']);
    expect(here.stdout).toBe('');
    const images = await h.docker(['images', 'testbed/tiny', '--format', '{{.Tag}}']);
    expect(images.stdout.split('\n').filter(Boolean).length).toBeGreaterThan(0);

    await machine.exec('mkdir -p /www && echo "hello from far" > /www/index.html');
    await machine.exec('httpd -p 8080 -h /www');
    expect(machine.endpoint(8080).host).toBe('127.0.0.1');
    const url = machine.url(8080, '/index.html');
    expect(await (await fetch(url)).text()).toBe('hello from far\n');
    await machine.writeFile('/root/note', 'written from here');
    expect((await machine.readFile('/root/note')).toString()).toBe('written from here');
    expect((await machine.exec(['cat', '/root/note'])).stdout).toBe('written from here');
    expect(await machine.console.read()).toMatch(/testbed-ready/);

    const clone = await machine.clone();
    machines.push(clone);
    expect((await clone.readFile('/root/note')).toString()).toBe('written from here');
    expect(await engineLines(h, 'image', run.runId)).toHaveLength(1);
    await clone.destroy();

    const listed = await provider.listResources?.();
    expect(listed?.map((r) => `${r.providerId} ${r.kind} ${r.name}`)).toEqual([
      `docker@host2 container ${machine.name}`,
    ]);
    await machine.destroy();
    expect(await remoteLeftovers(h, run.runId)).toEqual([]);
    // The tunnel went with it.
    await expect(fetch(url)).rejects.toThrow();
  });

  it('refuses networks and power control by capability, and a network with a coded error', async () => {
    const names = provider.capabilities().map((c) => c.kind);
    for (const missing of ['NetworkOverlay', 'SharedBridge', 'PowerControl']) {
      expect(names).not.toContain(missing);
    }
    const error = await provisioner.createNetwork?.().catch((e: unknown) => e);
    expect((error as { code?: string }).code).toBe('TESTBED_UNSUPPORTED');
    expect(await remoteLeftovers(remote(), run.runId)).toEqual([]);
  });

  it('names an unreachable engine and the fix, within the discovery timeout', async () => {
    const h = remote();
    const uri = h.dockerEndpoint.replace(`@${h.address}`, `@${h.address}:2222`);
    const registry = registryWith([`host3=docker:${uri}`]);
    const started = Date.now();
    const statuses = await registry.discover({ health: true });
    const status = statuses.find((s) => s.provider.id === 'docker@host3');
    expect(Date.now() - started).toBeLessThan(loadConfig().timeoutMs + 3_000);
    expect(status?.health?.healthy).toBe(false);
    expect(status?.health?.warnings[0]).toMatch(
      /^Host docker@host3 \(ssh:.*:2222.*\) cannot be reached: .*(refused|ECONNREFUSED)/,
    );
    expect(statuses.find((s) => s.provider.id === 'docker')?.health?.healthy).toBe(true);
    const error = await registry
      .get('docker@host3')
      ?.createProvisioner({ run })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HostUnreachableError);
  });
});

describe('a suite over two hosts', () => {
  it('places six parallel VMs and four containers by capability and capacity on both hosts; doctor shows both; nothing is left', async () => {
    const h = remote();
    const env = { TESTBED_HOSTS: hostsVariable(h, { docker: true }) };
    const doctor = await execa(process.execPath, [bin, 'doctor', '--json'], {
      reject: false,
      env: { ...process.env, ...env },
      timeout: 120_000,
    });
    // It once printed its report and never exited: a referenced SSH keepalive timer.
    expect(doctor.timedOut, `testbed doctor did not exit:\n${doctor.stderr}`).toBe(false);
    const report = JSON.parse(doctor.stdout) as DoctorReport;
    expect(report.hosts.map((x) => [x.name, x.providers])).toEqual([
      ['local', ['libvirt', 'docker']],
      ['host2', ['libvirt@host2', 'docker@host2']],
    ]);
    for (const id of ['libvirt', 'libvirt@host2', 'docker', 'docker@host2']) {
      const entry = report.providers.find((p) => p.id === id);
      expect(entry?.health?.healthy, id).toBe(true);
      expect(entry?.capacity?.total.vcpus, id).toBeGreaterThan(0);
      expect(entry?.capacity?.free.memoryMiB, id).toBeGreaterThan(0);
    }

    const child = await runVitest(fixture, [], env, 600_000);
    expect(child.exitCode, child.output).toBe(0);
    expect(child.report).toMatchObject({ numPassedTests: 10, numFailedTests: 0 });
    const placed = [...child.output.matchAll(/placed (vm|container) \d+ on (\S+)/g)].map(
      (m) => `${m[1]} ${m[2]}`,
    );
    const split = Object.fromEntries(
      [...new Set(placed)].map((key) => [key, placed.filter((p) => p === key).length]),
    );
    console.log(`[hosts split] ${JSON.stringify(split)}`);
    expect(placed).toHaveLength(10);
    expect(split['vm libvirt']).toBeGreaterThan(0);
    expect(split['vm libvirt@host2']).toBeGreaterThan(0);
    expect(split['container docker']).toBeGreaterThan(0);
    expect(split['container docker@host2']).toBeGreaterThan(0);
    expect((split['container docker'] ?? 0) + (split['container docker@host2'] ?? 0)).toBe(4);
    const runId = /testbed: run ([a-z0-9]{8})/.exec(child.output)?.[1] ?? '';
    expect(runId).not.toBe('');
    expect(await remoteLeftovers(h, runId)).toEqual([]);
    expect(await runLeftovers(runId)).toEqual([]);
    // Three VMs booted there at once from the image already uploaded: nothing was uploaded again.
    const bases = baseVolumes(await lines(h, ['vol-list', 'testbed']));
    expect(bases).toHaveLength(6);
    expect(bases.filter((v) => v.endsWith('.ready'))).toHaveLength(3);
  });

  it('SIGKILL while machines exist on both hosts: nothing is left on either within 15 s', async () => {
    const h = remote();
    const began = Date.now();
    const child = startVitest(fixture, {
      TESTBED_HOSTS: hostsVariable(h, { docker: true }),
      TESTBED_HOLD_MS: '120000',
    });
    try {
      const [, runId] = await child.waitForOutput(/testbed: run ([a-z0-9]{8})/, 90_000);
      if (!runId) throw new Error(`no run id in:\n${child.output()}`);
      await until('VMs on both hosts and a container', 240_000, async () => {
        const [far, near] = await Promise.all([remoteLeftovers(h, runId), runLeftovers(runId)]);
        if (process.env.DEBUG_HOSTS) console.log(Date.now() - began, far, near);
        const vmThere = far.some((l) => l.startsWith('domain '));
        // This host: a VM or a container (both placed here by the same placement).
        const vmHere = near.some((l) => l.startsWith('libvirt domain '));
        const container = near.some((l) => l.startsWith('docker container '));
        return vmThere && (vmHere || container) ? true : undefined;
      });
      console.log(`[hosts kill] machines on both hosts ${Date.now() - began} ms after the start`);
      const tree = descendants(child.pid);
      child.kill('SIGKILL');
      const killedAt = Date.now();
      await child.exited;
      // Vitest's workers outlive a SIGKILLed main process and go on holding their machines; end
      // them as a CI runner ending the job would. Not the watchdog: it is the one to clean up.
      const workers = tree.filter((p) => p.argv.some((a) => a.includes('vitest/dist/workers')));
      for (const p of workers) if (isRunning(p.pid)) process.kill(p.pid, 'SIGKILL');
      await until('nothing left on either host', 60_000, async () => {
        const [far, near] = await Promise.all([remoteLeftovers(h, runId), runLeftovers(runId)]);
        return far.length === 0 && near.length === 0 ? true : undefined;
      }).catch(async (error: Error) => {
        const left = [...(await remoteLeftovers(h, runId)), ...(await runLeftovers(runId))];
        const log = readFileSync(join(stateDir, '.watchdog', `${runId}.log`), 'utf8');
        throw new Error(`${error.message}; left: ${left.join(', ')}\nwatchdog log:\n${log}`);
      });
      const cleanMs = Date.now() - killedAt;
      console.log(`[hosts kill] nothing left on either host ${cleanMs} ms after SIGKILL`);
      expect(cleanMs).toBeLessThan(15_000);
    } finally {
      if (!child.hasExited()) child.kill('SIGKILL');
    }
  }, 360_000);
});

describe('a host that goes down mid-run', () => {
  it('fails its machines with an error naming it, sends new machines elsewhere, and leaks nothing here', async () => {
    const h = remote();
    process.env.TESTBED_HOSTS = hostsVariable(h);
    const source = await MachineSource.create(undefined).finally(() => {
      delete process.env.TESTBED_HOSTS;
    });
    const runId = source.snapshot.run.runId;
    const placed = (await source.provision('libvirt@host2', {
      timeoutMs: 120_000,
    })) as LibvirtMachine;
    expect(placed.providerId).toBe('libvirt@host2');
    await h.killLibvirtd();

    const failed = await placed.destroy().catch((e: unknown) => e);
    expect(failed).toBeInstanceOf(HostUnreachableError);
    expect((failed as Error).message).toMatch(/^Host libvirt@host2 \(qemu\+ssh:\/\/root@/);
    const next = await source
      .provision('libvirt@host2', { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(next).toBeInstanceOf(HostUnreachableError);

    // Marked down: the same needs now go to this machine's libvirt.
    const selected = source.select(['VmType(FullVirt)', 'Exec']);
    expect(selected).toEqual({ providerId: 'libvirt' });
    const local = (await source.provision('libvirt', { timeoutMs: 120_000 })) as LibvirtMachine;
    expect((await local.exec('echo up')).stdout.trim()).toBe('up');
    await local.destroy();
    await source.release();
    await source.registry.get('libvirt')?.removeRun?.(runId);
    // The QEMU of the machine on the dead host lives on there (its libvirtd is gone): the host's
    // own teardown ends it. Here nothing is left.
    const here = (await runLeftovers(runId)).filter((x) => !x.startsWith('qemu process'));
    expect(here).toEqual([]);
    expect(existsSync(join(stateDir, runId))).toBe(false);
    // The host stays down for the run's other processes, until the run's end clears it.
    expect(readdirSync(placementDir(stateDir, runId))).toEqual(['down~libvirt%40host2']);
    removePlacements(stateDir, runId);
  });

  // Last: the host's engine stays dead; its teardown removes what the engine left.
  it('a dead Docker engine: its container fails naming the host, new containers go to this engine, nothing leaks here', async () => {
    const h = remote();
    process.env.TESTBED_HOSTS = `host2=docker:${h.dockerEndpoint}`;
    const source = await MachineSource.create(undefined).finally(() => {
      delete process.env.TESTBED_HOSTS;
    });
    const runId = source.snapshot.run.runId;
    const placed = (await source.provision('docker@host2', { timeoutMs: 60_000 })) as DockerMachine;
    expect(placed.providerId).toBe('docker@host2');
    await h.killDockerd();

    const failedExec = await placed.exec('true').catch((e: unknown) => e);
    expect(failedExec).toBeInstanceOf(HostUnreachableError);
    expect((failedExec as Error).message).toMatch(
      /^Host docker@host2 \(ssh:\/\/root@[^)]+\) cannot be reached: its Docker engine stopped answering .*; the failure was: /,
    );
    const next = await source
      .provision('docker@host2', { timeoutMs: 60_000 })
      .catch((e: unknown) => e);
    expect(next).toBeInstanceOf(HostUnreachableError);
    expect((next as Error).message).toMatch(
      /^Host docker@host2 \(ssh:\/\/root@[^)]+\) cannot be reached: its Docker engine stopped answering/,
    );
    expect((next as Error).message).toContain('Fix: Check that `docker -H ssh://root@');

    // Marked down: the same needs now go to this machine's engine.
    expect(source.select(['VmType(Container)', 'Exec'])).toEqual({ providerId: 'docker' });
    const local = (await source.provision('docker', { timeoutMs: 60_000 })) as DockerMachine;
    expect((await local.exec('echo up')).stdout.trim()).toBe('up');
    await local.destroy();
    await placed.destroy().catch(() => {});
    await source.release();
    await source.registry.get('docker')?.removeRun?.(runId);
    expect(await runLeftovers(runId)).toEqual([]);
    expect(readdirSync(placementDir(stateDir, runId))).toEqual(['down~docker%40host2']);
    removePlacements(stateDir, runId);
  });
});
