import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, expectTypeOf } from 'vitest';
import type { MachineWith } from '../../src/harness/machine-with.js';
import {
  type CapabilityString,
  InvalidCapabilityError,
  type Machine,
  type MachineConsole,
  ProviderRegistry,
  type SshConnectionInfo,
} from '../../src/index.js';
import {
  type RunMachineOf,
  type TestbedFixtures,
  testbedTest,
} from '../../src/vitest/testbed-test.js';

declare module '../../src/vitest/testbed-test.js' {
  interface RunMachines {
    'typed-probe': ['Exec', 'FileTransfer'];
  }
}

import { FakeProvider } from '../fixtures/fake-provider.js';

const stateDir = mkdtempSync(join(tmpdir(), 'testbed-fixture-'));
const provider = new FakeProvider({ stateDir });
const registry = new ProviderRegistry().register(provider);
afterAll(() => rmSync(stateDir, { recursive: true, force: true }));

const it = testbedTest({ needs: ['SerialConsole', 'CloneVm'], registry });
const perFile = testbedTest({ needs: ['Exec'], scope: 'file', registry });

describe('testbedTest', () => {
  it('provides a machine meeting the needs, typed by them', async ({ machine }) => {
    expectTypeOf(machine.console).toEqualTypeOf<MachineConsole>();
    expectTypeOf(machine.clone).toBeFunction();
    expect(await machine.console.waitFor(/testbed-ready (\S+)/)).toBeTruthy();
    const clone = await machine.clone();
    await clone.destroy();
    expect(provider.machines()).toEqual([machine.name]);
  });

  it('gives each test-scoped test its own machine, destroyed after the test', ({ machine }) => {
    expect(provider.machines()).toEqual([machine.name]);
  });

  perFile('shares a file-scoped machine between tests (1)', async ({ machine }) => {
    expectTypeOf(machine.exec).toBeFunction();
    expect((await machine.exec(['echo', 'hi'])).stdout).toBe('echo hi\n');
  });

  perFile('shares a file-scoped machine between tests (2)', ({ machine }) => {
    expect(
      provider.events.filter((e) => e.includes('-m-') && e.startsWith('provision')),
    ).toHaveLength(3);
    expect(provider.machines()).toEqual([machine.name]);
  });

  it('does not type members the needs do not guarantee', () => {
    expectTypeOf<MachineWith<['SshAccess']>['ssh']>().toEqualTypeOf<SshConnectionInfo>();
    expectTypeOf<MachineWith<['Exec']>['ssh']>().toEqualTypeOf<SshConnectionInfo | undefined>();
    expectTypeOf<MachineWith<CapabilityString[]>['console']>().toEqualTypeOf<
      MachineConsole | undefined
    >();
  });

  it('rejects an unknown capability when called, listing the valid names', () => {
    // @ts-expect-error: not a capability name
    expect(() => testbedTest({ needs: ['SerialConsol'] })).toThrow(InvalidCapabilityError);
    // @ts-expect-error: not a capability name
    expect(() => testbedTest({ needs: ['SerialConsol'] })).toThrow(
      /Did you mean 'SerialConsole'\?.*\n.*Use one of ProvisionVm, CloneVm/s,
    );
  });

  it("rejects a scope Vitest's fixtures do not have, at the call", () => {
    // @ts-expect-error: not a scope
    expect(() => testbedTest({ needs: ['Exec'], scope: 'suite' })).toThrow(
      /scope: must be one of test, file, worker \(got "suite"\)/,
    );
  });

  it('types object-form needs as their string forms', () => {
    const objectNeeds = testbedTest({
      needs: [{ kind: 'SshAccess' }, { kind: 'VmType', type: 'FullVirt' }],
      registry,
    });
    expect(typeof objectNeeds).toBe('function');
    type M = MachineWith<[{ kind: 'SshAccess' }, { kind: 'Exec' }]>;
    expectTypeOf<M['ssh']>().toEqualTypeOf<SshConnectionInfo>();
    expectTypeOf<M['exec']>().toBeFunction();
  });

  it('types runMachine() by the needs declared in RunMachines, and a plain Machine otherwise', () => {
    expectTypeOf<RunMachineOf<'typed-probe'>['copyTo']>().toBeFunction();
    expectTypeOf<RunMachineOf<'typed-probe'>['exec']>().toBeFunction();
    expectTypeOf<RunMachineOf<'undeclared'>>().toEqualTypeOf<Machine>();
    expectTypeOf<ReturnType<TestbedFixtures<['Exec']>['runMachine']>>().toMatchTypeOf<
      Promise<Machine>
    >();
  });

  it('keeps the capability typing through clone() and snapshot().restore()', () => {
    type Source = MachineWith<['Exec', 'CloneVm', 'Snapshot']>;
    type Clone = Awaited<ReturnType<Source['clone']>>;
    type Restored = Awaited<ReturnType<Awaited<ReturnType<Source['snapshot']>>['restore']>>;
    expectTypeOf<Clone['exec']>().toBeFunction();
    expectTypeOf<Restored['exec']>().toBeFunction();
    expectTypeOf<Awaited<ReturnType<Clone['clone']>>['exec']>().toBeFunction();
    type Warm = MachineWith<['Exec', 'WarmSnapshot']>;
    type WarmRestored = Awaited<ReturnType<Awaited<ReturnType<Warm['snapshot']>>['restore']>>;
    expectTypeOf<WarmRestored['exec']>().toBeFunction();
  });

  it('types the deploy members FileTransfer and PortForward guarantee', () => {
    expectTypeOf<MachineWith<['FileTransfer']>['readFile']>().toBeFunction();
    expectTypeOf<MachineWith<['PortForward']>['url']>().toBeFunction();
    expectTypeOf<MachineWith<['Exec']>['copyTo']>().toEqualTypeOf<Machine['copyTo']>();
  });
});
