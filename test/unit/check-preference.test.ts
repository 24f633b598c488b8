import { describe, expect, it } from 'vitest';
import { checkPreference } from '../../src/core/check-preference.js';
import { isTestbedError } from '../../src/core/errors.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { fakeProvider } from './fake-provider.js';

describe('checkPreference', () => {
  it('accepts known ids and no preference', () => {
    expect(() => checkPreference(['docker'], ['libvirt', 'docker'])).not.toThrow();
    expect(() => checkPreference(undefined, ['libvirt'])).not.toThrow();
  });

  it('reports every unknown id with the known ones and a did-you-mean', () => {
    let error: unknown;
    try {
      checkPreference(['libvirt', 'dockr', 'qemu'], ['libvirt', 'docker']);
    } catch (e) {
      error = e;
    }
    expect(isTestbedError(error, 'TESTBED_INVALID_CONFIG')).toBe(true);
    const message = (error as Error).message;
    expect(message).toContain(
      "TESTBED_PROVIDERS: unknown provider id 'dockr' (did you mean 'docker'?); known: libvirt, docker",
    );
    expect(message).toContain("unknown provider id 'qemu'");
    expect(message).toContain('2 problems');
  });

  it('makes a registry refuse to select with a typo in its preference, instead of leaving a backend out', async () => {
    const registry = new ProviderRegistry({ preference: ['libvirt', 'dockr'] })
      .register(fakeProvider({ id: 'libvirt' }))
      .register(fakeProvider({ id: 'docker' }));
    await expect(registry.select(['ProvisionVm'])).rejects.toThrow(/did you mean 'docker'/);
  });
});
