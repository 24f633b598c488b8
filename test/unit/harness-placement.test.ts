import { describe, expect, it } from 'vitest';
import { parseNeeds } from '../../src/core/capabilities.js';
import { ProviderUnavailableError } from '../../src/core/errors.js';
import type { Machine, VmProvisioner } from '../../src/core/provider.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { MachineSource } from '../../src/harness/machine-source.js';
import { fakeProvider } from './fake-provider.js';
import { runSnapshot } from './support/run-snapshot.js';

const capacity = { total: { memoryMiB: 4096, vcpus: 2 }, free: { memoryMiB: 4096, vcpus: 2 } };

/** Two equal hosts; `host2`'s provisioner cannot be created (its engine went away). */
function twoHosts(): MachineSource {
  const provisioner = (id: string): VmProvisioner => ({
    provision: async () =>
      ({ name: `${id}-machine`, providerId: id, destroy: async () => {} }) as unknown as Machine,
    attach: async () => {
      throw new Error('not used');
    },
  });
  const registry = new ProviderRegistry()
    .register({
      ...fakeProvider({ id: 'fake' }),
      createProvisioner: async () => provisioner('fake'),
    })
    .register({
      ...fakeProvider({ id: 'fake@host2' }),
      createProvisioner: async () => {
        throw new ProviderUnavailableError('fake@host2', 'cannot connect to host2');
      },
    });
  const candidate = (id: string) => ({
    id,
    capabilities: parseNeeds(['ProvisionVm', 'Exec']),
    available: true,
    healthy: true,
    capacity,
  });
  const snapshot = runSnapshot({ candidates: [candidate('fake'), candidate('fake@host2')] });
  return new MachineSource(registry, snapshot);
}

const pick = (s: MachineSource) => {
  const selected = s.select(['Exec']);
  if ('error' in selected) throw selected.error;
  return selected.providerId;
};

describe('placement in a test process', () => {
  it('counts a machine on its provider until it is destroyed, so the next one goes elsewhere', async () => {
    const s = twoHosts();
    expect(pick(s)).toBe('fake');
    const machine = await s.provision('fake', { memoryMiB: 1024 });
    expect(s.placement.state().placed).toEqual({ fake: { memoryMiB: 1024, vcpus: 1 } });
    expect(pick(s)).toBe('fake@host2');
    await machine.destroy();
    expect(pick(s)).toBe('fake');
  });

  it('counts a machine from the moment it is asked for, and gives it back when provisioning fails', async () => {
    const s = twoHosts();
    const pending = s.provision('fake');
    // Still provisioning: a worker choosing now must already see it.
    expect(s.placement.state().placed).toEqual({ fake: { memoryMiB: 256, vcpus: 1 } });
    await pending;
    await expect(s.provision('fake@host2')).rejects.toThrow();
    expect(s.placement.state().placed).toEqual({
      fake: { memoryMiB: 256, vcpus: 1 },
      'fake@host2': { memoryMiB: 0, vcpus: 0 },
    });
  });

  it('marks a provider that fails as unreachable down: new machines go to the other host', async () => {
    const s = twoHosts();
    await s.provision('fake');
    expect(pick(s)).toBe('fake@host2');
    await expect(s.provision('fake@host2')).rejects.toThrow(/cannot connect to host2/);
    expect(pick(s)).toBe('fake');
    const selected = s.select(['SerialConsole']);
    expect('error' in selected && selected.error.message).toContain(
      'fake@host2: lacks SerialConsole; unavailable (marked down during this run: Provider',
    );
  });
});
