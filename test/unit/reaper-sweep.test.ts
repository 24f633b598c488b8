import { describe, expect, it } from 'vitest';
import type { OwnedResource, VmBackendProvider } from '../../src/core/provider.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import type { RunOwner } from '../../src/core/run-context.js';
import type { OwnerState } from '../../src/reaper/owner-state.js';
import { removeRuns } from '../../src/reaper/remove-runs.js';
import { sweepDeadRuns } from '../../src/reaper/sweep-dead-runs.js';

const LIVE: RunOwner = { pid: 100, startTime: 5 };
const DEAD: RunOwner = { pid: 200, startTime: 6 };
const stateOf = (owner: RunOwner): OwnerState => (owner.pid === LIVE.pid ? 'alive' : 'dead');

interface FakeBackendOptions {
  available?: boolean;
  listing?: 'ok' | 'throw' | 'hang';
  stuck?: string[];
  noRemoval?: boolean;
}

/** A backend holding resources in memory; removal really removes them, except `stuck` names. */
function fakeBackend(id: string, resources: OwnedResource[], options: FakeBackendOptions = {}) {
  const removeCalls: string[] = [];
  const provider: VmBackendProvider = {
    id,
    name: `Fake ${id}`,
    setupHint: `start ${id}d`,
    isAvailable: async () => options.available ?? true,
    capabilities: () => [],
    vmType: () => 'FullVirt',
    checkHealth: () => Promise.reject(new Error('unused')),
    createProvisioner: () => Promise.reject(new Error('unused')),
    listResources: () => {
      if (options.listing === 'hang') return new Promise(() => {});
      if (options.listing === 'throw')
        return Promise.reject(new Error(`cannot connect to ${id}: socket missing\nstack`));
      return Promise.resolve([...resources]);
    },
  };
  if (!options.noRemoval) {
    provider.removeRun = async (runId) => {
      removeCalls.push(runId);
      const mine = resources.filter((r) => r.runId === runId);
      const stuck = mine.filter((r) => options.stuck?.includes(r.name));
      for (const r of mine) if (!stuck.includes(r)) resources.splice(resources.indexOf(r), 1);
      return {
        removed: mine.filter((r) => !stuck.includes(r)),
        failed: stuck.map((resource) => ({ resource, error: 'domain will not die' })),
      };
    };
  }
  return { provider, resources, removeCalls };
}

const res = (providerId: string, runId: string, owner: RunOwner, name: string): OwnedResource => ({
  providerId,
  kind: providerId === 'docker' ? 'container' : 'domain',
  name,
  runId,
  owner,
  createdAt: 1000,
});

function twoBackends(options: { libvirt?: FakeBackendOptions; docker?: FakeBackendOptions } = {}) {
  const libvirt = fakeBackend(
    'libvirt',
    [res('libvirt', 'deadrun1', DEAD, 'vm-a'), res('libvirt', 'liverun1', LIVE, 'vm-b')],
    options.libvirt,
  );
  const docker = fakeBackend(
    'docker',
    [res('docker', 'deadrun1', DEAD, 'c-a'), res('docker', 'deadrun2', DEAD, 'c-b')],
    options.docker,
  );
  const registry = new ProviderRegistry().register(libvirt.provider).register(docker.provider);
  return { libvirt, docker, registry };
}

describe('sweepDeadRuns', () => {
  it('removes every resource of dead runs on every backend and leaves the live run alone', async () => {
    const { libvirt, docker, registry } = twoBackends();
    const report = await sweepDeadRuns({ registry, stateOf });
    expect(libvirt.resources.map((r) => r.name)).toEqual(['vm-b']);
    expect(docker.resources).toEqual([]);
    expect(libvirt.removeCalls).toEqual(['deadrun1']);
    expect(docker.removeCalls.sort()).toEqual(['deadrun1', 'deadrun2']);
    expect(report.complete).toBe(true);
    expect(report.runs.filter((d) => d.remove).map((d) => d.run.runId)).toEqual([
      'deadrun1',
      'deadrun2',
    ]);
  });

  it('on a dry run decides the same but removes nothing', async () => {
    const { libvirt, docker, registry } = twoBackends();
    const report = await sweepDeadRuns({ registry, stateOf, dryRun: true });
    expect(report.dryRun).toBe(true);
    expect(report.removals).toEqual([]);
    expect(report.runs.filter((d) => d.remove)).toHaveLength(2);
    expect(libvirt.resources).toHaveLength(2);
    expect(docker.resources).toHaveLength(2);
    expect(libvirt.removeCalls).toEqual([]);
  });

  it('reports a daemon that is down and still sweeps the other backend', async () => {
    const { libvirt, registry } = twoBackends({ docker: { available: false } });
    const report = await sweepDeadRuns({ registry, stateOf });
    const docker = report.backends.find((b) => b.providerId === 'docker');
    expect(docker?.status).toBe('unavailable');
    expect(docker?.reason).toContain('start dockerd');
    expect(libvirt.resources.map((r) => r.name)).toEqual(['vm-b']);
    expect(report.complete).toBe(false);
  });

  it('reports a listing that throws or hangs, within the bound', async () => {
    const { registry } = twoBackends({
      libvirt: { listing: 'throw' },
      docker: { listing: 'hang' },
    });
    const started = Date.now();
    const report = await sweepDeadRuns({ registry, stateOf, listTimeoutMs: 200 });
    expect(Date.now() - started).toBeLessThan(5000);
    const [libvirt, docker] = report.backends;
    expect(libvirt).toMatchObject({
      status: 'failed',
      reason: 'cannot connect to libvirt: socket missing',
    });
    expect(docker?.status).toBe('failed');
    expect(docker?.reason).toContain('did not finish within 200 ms');
    expect(report.runs).toEqual([]);
  });

  it('reports resources that could not be removed, without throwing', async () => {
    const { registry } = twoBackends({ libvirt: { stuck: ['vm-a'] } });
    const report = await sweepDeadRuns({ registry, stateOf });
    const stuck = report.removals.find((r) => r.providerId === 'libvirt');
    expect(stuck?.failed).toEqual([
      { resource: expect.objectContaining({ name: 'vm-a' }), error: 'domain will not die' },
    ]);
    expect(report.complete).toBe(false);
  });

  it('sweeps only the providers asked for', async () => {
    const { libvirt, docker, registry } = twoBackends();
    const report = await sweepDeadRuns({ registry, stateOf, providerIds: ['docker'] });
    expect(report.backends.map((b) => b.providerId)).toEqual(['docker']);
    expect(libvirt.removeCalls).toEqual([]);
    expect(docker.resources).toEqual([]);
  });

  it('removes old runs of a live owner only when olderThanMs says so', async () => {
    const { libvirt, registry } = twoBackends();
    await sweepDeadRuns({ registry, stateOf, now: 1000 + 10_000, olderThanMs: 60_000 });
    expect(libvirt.resources.map((r) => r.name)).toEqual(['vm-b']);
    await sweepDeadRuns({ registry, stateOf, now: 1000 + 120_000, olderThanMs: 60_000 });
    expect(libvirt.resources).toEqual([]);
  });
});

describe('removeRuns', () => {
  it('runs at most `concurrency` removals at once and reports a provider without removeRun', async () => {
    let running = 0;
    let peak = 0;
    const slow: VmBackendProvider = {
      ...fakeBackend('slow', []).provider,
      removeRun: async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return { removed: [], failed: [] };
      },
    };
    const mute = fakeBackend('mute', [], { noRemoval: true }).provider;
    const targets = ['a', 'b', 'c', 'd', 'e'].map((runId) => ({ runId, provider: slow }));
    const results = await removeRuns([...targets, { runId: 'f', provider: mute }], {
      concurrency: 2,
    });
    expect(peak).toBe(2);
    expect(results.map((r) => r.runId)).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    expect(results[5]?.failed).toEqual([{ error: 'provider cannot remove runs' }]);
  });
});
