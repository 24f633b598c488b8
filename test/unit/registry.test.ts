import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DuplicateProviderError, NoMatchingProviderError } from '../../src/core/errors.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { fakeProvider } from './fake-provider.js';

const VM = ['ProvisionVm', 'CloneVm', 'SerialConsole', 'SshAccess', 'Exec', 'VmType(FullVirt)'];
const CONTAINER = ['ProvisionVm', 'Exec', 'VmType(Container)'];

describe('ProviderRegistry', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('rejects a second provider with the same id', () => {
    const registry = new ProviderRegistry().register(fakeProvider({ id: 'a' }));
    expect(() => registry.register(fakeProvider({ id: 'a' }))).toThrow(DuplicateProviderError);
  });

  it('checks providers in parallel: three 400 ms checks finish after 400 ms, not 1.2 s', async () => {
    const registry = new ProviderRegistry({ timeoutMs: 5000 });
    for (const id of ['a', 'b', 'c']) registry.register(fakeProvider({ id, delayMs: 400 }));
    let found: string[] | undefined;
    void registry.findAvailable().then((providers) => {
      found = providers.map((p) => p.id);
    });
    await vi.advanceTimersByTimeAsync(399);
    expect(found).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(found).toEqual(['a', 'b', 'c']);
  });

  it('reports a provider that never answers as unavailable after timeoutMs, and finds the others', async () => {
    const registry = new ProviderRegistry({ timeoutMs: 1000 })
      .register(fakeProvider({ id: 'stuck', available: 'hang' }))
      .register(fakeProvider({ id: 'quick', delayMs: 10 }));
    const pending = registry.discover();
    await vi.advanceTimersByTimeAsync(1000);
    const statuses = await pending;
    expect(statuses.map((s) => [s.provider.id, s.available])).toEqual([
      ['stuck', false],
      ['quick', true],
    ]);
    expect(statuses[0]?.reason).toBe('stuck: isAvailable() did not finish within 1000 ms.');
  });

  it("gives a provider that asks for it a longer bound than the registry's (a daemon starting)", async () => {
    const starting = {
      ...fakeProvider({ id: 'starting', delayMs: 3000 }),
      checkTimeoutMs: () => 30_000,
    };
    const registry = new ProviderRegistry({ timeoutMs: 1000 })
      .register(starting)
      .register(fakeProvider({ id: 'slow', delayMs: 3000 }));
    const pending = registry.discover({ health: true });
    await vi.advanceTimersByTimeAsync(6000);
    const statuses = await pending;
    expect(statuses.map((s) => [s.provider.id, s.available, s.health?.healthy])).toEqual([
      ['starting', true, true],
      ['slow', false, undefined],
    ]);
  });

  it('reports a provider that throws as unavailable with the reason', async () => {
    vi.useRealTimers();
    const registry = new ProviderRegistry().register(fakeProvider({ id: 'x', available: 'throw' }));
    const [status] = await registry.discover();
    expect(status?.available).toBe(false);
    expect(status?.reason).toBe('backend exploded');
  });

  it("uses the provider's own explanation of why it is unavailable", async () => {
    vi.useRealTimers();
    const provider = {
      ...fakeProvider({ id: 'x', available: false }),
      unavailableReason: async () => 'no socket at /run/x.sock',
    };
    const [status] = await new ProviderRegistry().register(provider).discover();
    expect(status?.reason).toBe('no socket at /run/x.sock');
  });

  it('finds providers by capability and by VM type', async () => {
    vi.useRealTimers();
    const registry = new ProviderRegistry()
      .register(fakeProvider({ id: 'vm', capabilities: VM }))
      .register(fakeProvider({ id: 'ct', capabilities: CONTAINER, vmType: 'Container' }))
      .register(fakeProvider({ id: 'off', capabilities: VM, available: false }));
    expect((await registry.findByCapability('SerialConsole')).map((p) => p.id)).toEqual(['vm']);
    expect((await registry.findByCapability('Exec')).map((p) => p.id)).toEqual(['vm', 'ct']);
    expect((await registry.findByVmType('Container')).map((p) => p.id)).toEqual(['ct']);
  });

  it('health-checks every available provider, mapping failures to errors', async () => {
    vi.useRealTimers();
    const registry = new ProviderRegistry()
      .register(fakeProvider({ id: 'ok' }))
      .register(fakeProvider({ id: 'bad', healthy: 'throw' }))
      .register(fakeProvider({ id: 'gone', available: false }));
    const health = await registry.healthCheck();
    expect(health.get('ok')).toMatchObject({ healthy: true, version: '1.0' });
    expect(health.get('bad')).toBeInstanceOf(Error);
    expect((health.get('bad') as Error).message).toContain('backend exploded');
    expect((health.get('gone') as Error).message).toBe('not found on this host');
  });

  describe('findBest', () => {
    beforeEach(() => {
      vi.useRealTimers();
    });

    it('picks the provider with the fewest surplus capabilities among those that cover the needs', async () => {
      const registry = new ProviderRegistry()
        .register(fakeProvider({ id: 'vm', capabilities: VM }))
        .register(fakeProvider({ id: 'ct', capabilities: CONTAINER, vmType: 'Container' }));
      expect((await registry.findBest(['Exec'])).id).toBe('ct');
      expect((await registry.findBest(['SerialConsole'])).id).toBe('vm');
    });

    it('puts the TESTBED_PROVIDERS preference first, and passes over unlisted providers', async () => {
      const registry = new ProviderRegistry({ preference: ['vm'] })
        .register(fakeProvider({ id: 'vm', capabilities: VM }))
        .register(fakeProvider({ id: 'ct', capabilities: CONTAINER, vmType: 'Container' }));
      expect((await registry.findBest(['Exec'])).id).toBe('vm');
      const selection = await registry.select(['VmType(Container)']);
      expect(selection.best).toBeUndefined();
      expect(selection.error?.message).toContain('ct: not listed in TESTBED_PROVIDERS');
    });

    it('passes over an unhealthy provider', async () => {
      const registry = new ProviderRegistry()
        .register(fakeProvider({ id: 'sick', capabilities: CONTAINER, healthy: false }))
        .register(fakeProvider({ id: 'vm', capabilities: VM }));
      expect((await registry.findBest(['Exec'])).id).toBe('vm');
    });

    it('explains unmet needs per provider, with the fix', async () => {
      const registry = new ProviderRegistry()
        .register(fakeProvider({ id: 'vm', capabilities: VM, available: false }))
        .register(fakeProvider({ id: 'ct', capabilities: CONTAINER, vmType: 'Container' }));
      const error = await registry.findBest(['SerialConsole', 'Custom(gpu)']).catch((e) => e);
      expect(error).toBeInstanceOf(NoMatchingProviderError);
      expect(error.code).toBe('TESTBED_NO_MATCHING_PROVIDER');
      expect(error.message).toContain('No available provider offers SerialConsole, Custom(gpu)');
      expect(error.message).toContain(
        'vm: lacks Custom(gpu); unavailable (not found on this host)',
      );
      expect(error.message).toContain('ct: lacks SerialConsole, Custom(gpu)');
      expect(error.mismatches).toHaveLength(2);
    });

    it('says how to make an unavailable provider usable when it would otherwise match', async () => {
      const registry = new ProviderRegistry().register(
        fakeProvider({ id: 'vm', capabilities: VM, available: false }),
      );
      const error = await registry.findBest(['SerialConsole']).catch((e) => e);
      expect(error.message).toContain('fix: start the vm daemon');
    });

    it('rejects unknown needs before any discovery', async () => {
      const provider = fakeProvider({ id: 'vm', capabilities: VM });
      const registry = new ProviderRegistry().register(provider);
      // @ts-expect-error: a literal need is checked at compile time too
      await expect(registry.findBest(['SerialConsol'])).rejects.toThrow(
        /Did you mean 'SerialConsole'/,
      );
      expect(provider.calls).toEqual([]);
    });
  });
});
