import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine } from '../../src/core/provider.js';
import { runCommand } from '../../src/core/run-command.js';
import { MachineSource } from '../../src/harness/machine-source.js';
import { noGuard } from '../../src/harness/run-guard.js';
import { startRun } from '../../src/harness/start-run.js';
import { parseTestbedOptions } from '../../src/harness/testbed-options.js';
import type { Topology } from '../../src/harness/topology.js';
import type { TopologyDeclaration } from '../../src/harness/topology-plan.js';
import { VmBackendRegistry } from '../../src/registry.js';
import { runLeftovers } from './support/run-leftovers.js';
import { until } from './support/until.js';

/** What a topology left of `runId`; the run's own directory stays until the run ends. */
const topologyLeftovers = async (runId: string) =>
  (await runLeftovers(runId)).filter((l) => !l.startsWith('run directory'));

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const { libvirtUri } = loadConfig();

const defaults = VmBackendRegistry.withDefaults();
const ready = async (id: string) => (await defaults.get(id)?.isAvailable()) ?? false;
const available = (await ready('libvirt')) && (await ready('docker'));

/** Exit code and output of shell `command` in `machine`. */
async function sh(machine: Machine, command: string) {
  const result = await machine.exec?.(command, { timeoutMs: 60_000 });
  return { code: result?.exitCode, out: `${result?.stdout ?? ''}${result?.stderr ?? ''}` };
}

/** Whether `machine` gets an answer from `name` (resolved through its /etc/hosts). */
async function reaches(machine: Machine, name: string): Promise<boolean> {
  const { out } = await sh(machine, `ping -c 2 -W 2 ${name}`);
  return /[1-9] packets received/.test(out);
}

const linkExists = async (name: string) =>
  (await runCommand('ip', ['link', 'show', name], { reject: false })).exitCode === 0;

const DECLARATION: TopologyDeclaration = {
  machines: {
    db: { needs: ['VmType(Container)', 'Exec'] },
    app: { needs: ['VmType(FullVirt)', 'Exec', 'PowerControl'] },
    web: { needs: ['VmType(FullVirt)', 'Exec'] },
  },
  networks: { lan: ['db', 'app', 'web'] },
};

describe.skipIf(!available && !process.env.CI)(
  'topologies: two VMs and a container on one network',
  () => {
    let source: MachineSource;
    let topology: Topology;
    let bridge: string;

    beforeAll(async () => {
      if (!available) throw new Error('libvirt and Docker must both be available here');
      source = await MachineSource.create(undefined);
      const selected = source.selectTopology(DECLARATION);
      if ('error' in selected) throw selected.error;
      expect(selected.providerOf).toEqual({ db: 'docker', app: 'libvirt', web: 'libvirt' });
      topology = await source.provisionTopology(DECLARATION, selected.providerOf);
      bridge = topology.networks.lan?.segments[0]?.bridge as string;
    });

    afterAll(async () => {
      await topology?.destroy();
      await source?.release();
      if (source) {
        for (const p of defaults.providers()) await p.removeRun?.(source.snapshot.run.runId);
      }
    });

    it('gives each member its address on the network, and every member reaches the others by name', async () => {
      const lan = topology.networks.lan;
      const base = lan?.subnet.replace(/\.0\/24$/, '');
      expect(lan?.addresses).toEqual({ db: `${base}.11`, app: `${base}.12`, web: `${base}.13` });
      const { machines } = topology;
      for (const [name, machine] of Object.entries(machines)) {
        expect((await sh(machine, 'hostname')).out.trim(), name).toBe(name);
        for (const peer of Object.keys(machines)) {
          if (peer !== name) expect(await reaches(machine, peer), `${name} -> ${peer}`).toBe(true);
        }
      }
    });

    it('is isolated from the host: one bridge without a host address or route, Docker on it by macvlan', async () => {
      expect(bridge).toMatch(/\S/);
      const addresses = await runCommand('ip', ['-4', '-o', 'addr', 'show', 'dev', bridge]);
      expect(addresses.stdout.trim()).toBe('');
      const routes = await runCommand('ip', ['-4', 'route', 'show']);
      expect(routes.stdout).not.toContain(topology.networks.lan?.subnet.replace('/24', ''));
      const [libvirtNet, dockerNet] = topology.networks.lan?.segments ?? [];
      const xml = await runCommand('virsh', [
        '-c',
        libvirtUri,
        'net-dumpxml',
        libvirtNet?.name ?? '',
      ]);
      expect(xml.stdout).not.toMatch(/<forward|<ip /);
      const inspect = await runCommand('docker', [
        'network',
        'inspect',
        '-f',
        '{{.Driver}} {{index .Options "parent"}}',
        dockerNet?.name ?? '',
      ]);
      expect(inspect.stdout.trim()).toBe(`macvlan ${bridge}`);
    });

    it('cuts a VM and a container off the network, and they are reachable again after connect', async () => {
      const { db, app, web } = topology.machines as Record<string, Machine>;
      const lan = topology.networks.lan;
      if (!db || !app || !web || !lan) throw new Error('topology is incomplete');
      await lan.disconnect(app);
      await lan.disconnect(db);
      expect(await reaches(web, 'app')).toBe(false);
      expect(await reaches(web, 'db')).toBe(false);
      await lan.connect(app);
      await lan.connect(db);
      expect(await reaches(web, 'app')).toBe(true);
      expect(await reaches(web, 'db')).toBe(true);
      expect(await reaches(db, 'app')).toBe(true);
    });

    it('a crashed VM comes back with its disk, its address and its names', async () => {
      const { app, db } = topology.machines as Record<string, Machine>;
      if (!app?.crash || !app.start || !db) throw new Error('app offers no PowerControl');
      await sh(app, 'echo kept > /root/state && sync');
      await app.crash();
      expect(await reaches(db, 'app')).toBe(false);
      await app.start();
      expect((await sh(app, 'cat /root/state')).out.trim()).toBe('kept');
      expect(await reaches(app, 'db')).toBe(true);
      expect(await reaches(db, 'app')).toBe(true);
    });

    it('destroys members and networks together, bridge included', async () => {
      const runId = source.snapshot.run.runId;
      await topology.destroy();
      expect(await topologyLeftovers(runId)).toEqual([]);
      expect(await linkExists(bridge)).toBe(false);
    });
  },
);

describe.skipIf(!available && !process.env.CI)('topologies: failures', () => {
  it('a member that cannot be provisioned fails the topology naming it, and nothing is left', async () => {
    const source = await MachineSource.create(undefined);
    try {
      const declaration: TopologyDeclaration = {
        machines: {
          db: { needs: ['VmType(Container)', 'Exec'] },
          app: { needs: ['VmType(FullVirt)', 'Exec'], spec: { image: 'no-such-image' } },
        },
        networks: { lan: ['db', 'app'] },
      };
      const selected = source.selectTopology(declaration);
      if ('error' in selected) throw selected.error;
      const error = await source.provisionTopology(declaration, selected.providerOf).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isTestbedError(error, 'TESTBED_PROVISION_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(
        /Topology member 'app' \(libvirt\) was not provisioned: .*no-such-image/,
      );
      expect(await topologyLeftovers(source.snapshot.run.runId)).toEqual([]);
    } finally {
      await source.release();
    }
  });

  it('refuses undeclared members and shared names before anything is created', async () => {
    const source = await MachineSource.create(undefined);
    try {
      expect(() =>
        source.selectTopology({
          machines: { db: { needs: ['Exec'] }, app: { needs: ['Exec'], spec: { hostname: 'db' } } },
          networks: { lan: ['db', 'cache'] },
        }),
      ).toThrow(
        /Invalid topology \(2 problems\)[\s\S]*'db' that machines\.db has too[\s\S]*names 'cache'/,
      );
    } finally {
      await source.release();
    }
  });
});

describe.skipIf(!available && !process.env.CI)(
  'topologies: run-scoped, from the plugin options',
  () => {
    it('provisions networked run machines together; they reach each other by name; stop() removes all', async () => {
      const options = parseTestbedOptions({
        machines: {
          server: { needs: ['VmType(Container)', 'Exec'] },
          client: { needs: ['VmType(Container)', 'Exec'] },
          Alone: { needs: ['VmType(Container)'] },
        },
        networks: { lan: ['server', 'client'] },
      });
      const lines: string[] = [];
      const started = await startRun({
        options,
        registry: defaults,
        log: (l) => lines.push(l),
        guard: noGuard,
      });
      try {
        const client = started.machines.get('client') as Machine;
        expect(await reaches(client, 'server')).toBe(true);
        expect(started.machines.get('Alone')).toBeDefined();
        expect(Object.keys(started.snapshot.machines)).toEqual(['server', 'client', 'Alone']);
      } finally {
        await started.stop();
      }
      expect(await runLeftovers(started.snapshot.run.runId)).toEqual([]);
    });

    it('refuses a network naming an undeclared run machine, with the problem named', () => {
      expect(() =>
        parseTestbedOptions({
          machines: { db: { needs: ['Exec'] } },
          networks: { lan: ['db', 'app'] },
        }),
      ).toThrow(
        /Invalid topology \(1 problem\):\n {2}- networks\.lan: names 'app', which is not a declared machine/,
      );
    });
  },
);

/** A run's owner provisioning a mixed topology under its watchdog, then waiting to be killed. */
const OWNER = `
import { createRunContext } from ${JSON.stringify(`${SRC}core/run-context.ts`)};
import { startWatchdog } from ${JSON.stringify(`${SRC}reaper/start-watchdog.ts`)};
import { VmBackendRegistry } from ${JSON.stringify(`${SRC}registry.ts`)};
import { provisionTopology } from ${JSON.stringify(`${SRC}harness/topology.ts`)};

const run = createRunContext();
await startWatchdog(run, { pollMs: 200, resweepDelaysMs: [2000, 6000] });
process.stdout.write(JSON.stringify({ runId: run.runId }) + '\\n');
const registry = VmBackendRegistry.withDefaults();
const provisioners = {};
const get = async (id) => (provisioners[id] ??= await registry.get(id).createProvisioner({ run }));
const topology = await provisionTopology(
  {
    machines: { db: { needs: [] }, app: { needs: [] } },
    networks: { lan: ['db', 'app'] },
  },
  { db: 'docker', app: 'libvirt' },
  {
    provision: async (id, spec, signal) => (await get(id)).provision({ ...spec, signal }),
    createNetwork: async (id, options) => (await get(id)).createNetwork(options),
  },
);
process.stdout.write(JSON.stringify({ done: true }) + '\\n');
setInterval(() => {}, 1000);
`;

describe.skipIf(!available && !process.env.CI)('topologies: a killed run', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-topology-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('SIGKILL while a topology is being provisioned leaves nothing within 15 s, bridge included', async () => {
    const script = join(dir, 'owner.mjs');
    writeFileSync(script, OWNER);
    const child = spawn(process.execPath, ['--import', TSX, script], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr?.on('data', (chunk) => {
      stderr += chunk;
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
      child.once('exit', () => reject(new Error(`owner exited: ${stderr}`)));
    });
    const { runId } = JSON.parse(line) as { runId: string };
    // Mid-topology: the network's both halves and the container exist, the VM is booting.
    const bridge = await until(
      'the topology to be half-way up',
      120_000,
      async () => {
        const left = await runLeftovers(runId);
        const parts = ['libvirt network', 'docker network', 'docker container', 'libvirt domain'];
        if (!parts.every((part) => left.some((l) => l.startsWith(part)))) return undefined;
        const network = left.find((l) => l.startsWith('libvirt network'))?.split(' ')[2] ?? '';
        const info = await runCommand('virsh', ['-c', libvirtUri, 'net-info', network]);
        return /^Bridge:\s+(\S+)/m.exec(info.stdout)?.[1];
      },
      100,
    );
    expect(await linkExists(bridge)).toBe(true);
    const killed = Date.now();
    child.kill('SIGKILL');
    await until(
      'the run to be swept',
      15_000,
      async () => {
        const left = await runLeftovers(runId);
        return left.length === 0 && !(await linkExists(bridge)) ? true : undefined;
      },
      500,
    );
    console.log(`topology swept ${Date.now() - killed} ms after SIGKILL`);
    expect(existsSync(join(loadConfig().stateDir, runId))).toBe(false);
  });
});
