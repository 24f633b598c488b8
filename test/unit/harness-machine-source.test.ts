import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine, VmProvisioner } from '../../src/core/provider.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { MachineSource } from '../../src/harness/machine-source.js';
import { fakeProvider } from './fake-provider.js';
import { runSnapshot } from './support/run-snapshot.js';

function deadRun(): RunContext {
  // A process that has exited: its pid (and start time) no longer name a live process.
  const child = spawnSync(process.execPath, ['-e', '0']);
  return {
    runId: 'deadrun1',
    owner: { pid: child.pid ?? 0, startTime: 1, host: createRunContext().owner.host },
  };
}

function source(run: RunContext, provisioned: string[]) {
  const machine = {
    name: 'm1',
    destroy: async () => {
      provisioned.push('destroyed');
    },
  } as unknown as Machine;
  const provisioner: VmProvisioner = {
    provision: async () => {
      provisioned.push('provisioned');
      return machine;
    },
    attach: async () => machine,
  };
  const provider = { ...fakeProvider({ id: 'fake' }), createProvisioner: async () => provisioner };
  const snapshot = runSnapshot({ run });
  return new MachineSource(new ProviderRegistry().register(provider), snapshot);
}

describe('MachineSource', () => {
  it('provisions while the run owner is alive', async () => {
    const events: string[] = [];
    const machine = await source(createRunContext(), events).provision('fake');
    expect(machine.name).toBe('m1');
    expect(events).toEqual(['provisioned']);
  });

  it('provisions nothing once the run owner is gone (a worker outliving a killed run)', async () => {
    const events: string[] = [];
    const error = await source(deadRun(), events)
      .provision('fake')
      .catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_PROVISION_FAILED')).toBe(true);
    expect((error as Error).message).toMatch(
      /Run deadrun1 has ended: its owner \(pid \d+\) is gone/,
    );
    expect(events).toEqual([]);
  });
});

describe('MachineSource.selectTopology', () => {
  const candidate = (id: string, names: string[]) => ({
    id,
    available: true,
    healthy: true,
    capabilities: names.map((name) =>
      name.startsWith('VmType(')
        ? { kind: 'VmType' as const, type: name.slice(7, -1) as 'FullVirt' | 'Container' }
        : { kind: name as 'Exec' },
    ),
  });
  const sourceWith = (candidates: ReturnType<typeof candidate>[]) =>
    new MachineSource(new ProviderRegistry(), runSnapshot({ candidates: candidates as never }));

  it('picks a provider per member, adding NetworkOverlay for members of a network', () => {
    const s = sourceWith([
      candidate('vms', ['Exec', 'VmType(FullVirt)', 'NetworkOverlay', 'SharedBridge']),
      candidate('boxes', ['Exec', 'VmType(Container)', 'NetworkOverlay', 'SharedBridge']),
    ]);
    expect(
      s.selectTopology({
        machines: { app: { needs: ['VmType(FullVirt)'] }, db: { needs: ['VmType(Container)'] } },
        networks: { lan: ['app', 'db'] },
      }),
    ).toEqual({ providerOf: { app: 'vms', db: 'boxes' } });
  });

  it('names every unmet member with its own reason', () => {
    const s = sourceWith([candidate('boxes', ['Exec', 'VmType(Container)'])]);
    const selected = s.selectTopology({
      machines: {
        db: { needs: ['Exec'] },
        vm: { needs: ['SerialConsole'] },
        gpu: { needs: ['Custom(gpu)'] },
      },
    });
    if (!('error' in selected)) throw new Error('expected an error');
    expect(selected.error.code).toBe('TESTBED_NO_MATCHING_PROVIDER');
    expect(selected.error.message).toMatch(
      /machines\.vm: No available provider offers SerialConsole/,
    );
    expect(selected.error.message).toMatch(
      /machines\.gpu: No available provider offers Custom\(gpu\)/,
    );
    expect(selected.error.message).not.toMatch(/machines\.db/);
  });

  it('refuses, before anything is created, a network over providers that cannot share one', () => {
    const s = sourceWith([
      candidate('vms', ['Exec', 'VmType(FullVirt)', 'NetworkOverlay', 'SharedBridge']),
      candidate('boxes', ['Exec', 'VmType(Container)', 'NetworkOverlay']),
    ]);
    const selected = s.selectTopology({
      machines: { app: { needs: ['VmType(FullVirt)'] }, db: { needs: ['VmType(Container)'] } },
      networks: { lan: ['app', 'db'] },
    });
    if (!('error' in selected)) throw new Error('expected an error');
    expect(selected.error.code).toBe('TESTBED_MIXED_NETWORK_UNSUPPORTED');
    expect(selected.error.message).toMatch(/'lan'.*app \(vms\), db \(boxes\)/);
  });
});
