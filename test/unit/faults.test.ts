import { describe, expect, expectTypeOf, it } from 'vitest';
import { boundedFault } from '../../src/core/bounded-fault.js';
import { isTestbedError } from '../../src/core/errors.js';
import { injectFault, injectLinkFault } from '../../src/core/faults.js';
import type { FaultOptions, Machine, MachineNetwork } from '../../src/core/provider.js';
import type { MachineWith } from '../../src/harness/machine-with.js';
import { nicOnNetwork } from '../../src/providers/libvirt/link-faults.js';

const bare = { name: 'm-1', providerId: 'fake', vmType: 'Container' } as unknown as Machine;
const network = { name: 'net-1', providerId: 'fake' } as unknown as MachineNetwork;

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('resolved'),
    (error: unknown) => error,
  );
}

describe('fault capabilities in types', () => {
  it('types pause/resume and reboot/crash/start as present only when needed', () => {
    type Fault = (options?: FaultOptions) => Promise<void>;
    expectTypeOf<MachineWith<['PauseResume']>['pause']>().toEqualTypeOf<Fault>();
    expectTypeOf<MachineWith<['PowerControl']>['crash']>().toEqualTypeOf<Fault>();
    expectTypeOf<MachineWith<['Exec']>['pause']>().toEqualTypeOf<Fault | undefined>();
    expectTypeOf<MachineWith<['PauseResume']>['start']>().toEqualTypeOf<Fault | undefined>();
  });
});

describe('injectFault / injectLinkFault', () => {
  it('rejects with UnsupportedOperationError naming the operation, the machine and the capability', async () => {
    const error = await rejection(injectFault(bare, 'crash'));
    expect(isTestbedError(error, 'TESTBED_UNSUPPORTED')).toBe(true);
    expect(String(error)).toContain('crash() on m-1');
    expect(String(error)).toContain('PowerControl');
    const link = await rejection(injectLinkFault(network, 'disconnect', bare));
    expect(isTestbedError(link, 'TESTBED_UNSUPPORTED')).toBe(true);
    expect(String(link)).toContain('NetworkFaults');
  });

  it('calls the machine’s own method with the options', async () => {
    const seen: unknown[] = [];
    const machine = { ...bare, pause: async (o?: FaultOptions) => void seen.push(o) } as Machine;
    await injectFault(machine, 'pause', { timeoutMs: 5 });
    expect(seen).toEqual([{ timeoutMs: 5 }]);
  });
});

describe('boundedFault', () => {
  const bound = { operation: 'pause() on m-1', defaultTimeoutMs: 50, fix: 'Raise timeoutMs.' };

  it('times out with the fix, even when the work ignores its signal', async () => {
    const error = await rejection(boundedFault(bound, {}, () => new Promise(() => undefined)));
    expect(isTestbedError(error, 'TESTBED_TIMEOUT')).toBe(true);
    expect(String(error)).toContain('pause() on m-1 did not finish within 50 ms');
    expect(String(error)).toContain('Raise timeoutMs.');
  });

  it('rejects an abort with AbortedError carrying the reason', async () => {
    const controller = new AbortController();
    const pending = rejection(
      boundedFault(
        bound,
        { signal: controller.signal, timeoutMs: 5_000 },
        () => new Promise(() => undefined),
      ),
    );
    controller.abort(new Error('test gave up'));
    const error = await pending;
    expect(isTestbedError(error, 'TESTBED_ABORTED')).toBe(true);
    expect(String(error)).toContain('test gave up');
  });

  it('refuses a timeoutMs that is not a positive whole number, as invalid options', async () => {
    const error = await rejection(boundedFault(bound, { timeoutMs: -1 }, async () => undefined));
    expect(isTestbedError(error, 'TESTBED_INVALID_OPTIONS')).toBe(true);
    expect(String(error)).toMatch(/timeoutMs: must be at least 1 ms .*\(got -1\)/);
  });
});

describe('nicOnNetwork', () => {
  it('finds the MAC of the NIC on the named network in `virsh domiflist`', () => {
    const listing = [
      ' Interface   Type      Source          Model    MAC',
      '-------------------------------------------------------------',
      ' -           user      -               virtio   52:54:00:12:34:56',
      ' vnet3       network   testbed-a-net   virtio   52:54:00:a2:64:90',
      ' vnet4       network   testbed-b-net   virtio   52:54:00:a2:64:91',
    ].join('\n');
    expect(nicOnNetwork(listing, 'testbed-b-net')).toBe('52:54:00:a2:64:91');
    expect(nicOnNetwork(listing, 'testbed-c-net')).toBeUndefined();
  });
});
