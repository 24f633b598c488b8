import { type CapabilityInput, formatCapability, parseNeeds } from '../core/capabilities.js';
import type { Machine, MachineSpec } from '../core/provider.js';
import type { MachineWith } from '../harness/machine-with.js';
import type { OnUnmet } from '../harness/testbed-options.js';
import { fileState } from './file-state.js';
import { readRunFile } from './run-file.js';
import type { TestbedGlobal } from './testbed-environment.js';

/** Options of `useMachine`. */
export interface UseMachineOptions<Needs extends readonly CapabilityInput[]> {
  /** Capabilities the machine must offer; unknown names throw when `useMachine` is called. */
  needs: Needs;
  /** Provisioning options. */
  spec?: MachineSpec;
  /** Overrides the run's `onUnmet`. */
  onUnmet?: OnUnmet;
}

/** The machine of a test file, available from `beforeAll` on. */
export interface MachineHandle<Needs extends readonly CapabilityInput[]> {
  /** The machine; throws before `beforeAll` ran or when the needs are unmet. */
  readonly machine: MachineWith<Needs>;
}

type Hook = (fn: () => Promise<void>, timeout?: number) => void;
const jest = globalThis as unknown as { beforeAll: Hook; afterAll: Hook; testbed?: TestbedGlobal };

/**
 * Declares a machine for the current test file: provisioned in `beforeAll`, destroyed in
 * `afterAll`. Needs the testbed test environment (which provisions in its own process and can
 * skip): unmet needs skip the file's tests with the reason, or fail them with `onUnmet: 'fail'`.
 */
export function useMachine<const Needs extends readonly CapabilityInput[]>(
  options: UseMachineOptions<Needs>,
  timeoutMs = 300_000,
): MachineHandle<Needs> {
  const needs = parseNeeds(options.needs).map(formatCapability);
  const testbed = jest.testbed;
  if (!testbed) {
    throw new Error(
      "useMachine needs testbed's Jest environment: set testEnvironment to 'testbed/jest/environment'.",
    );
  }
  const state = fileState();
  const unmet = testbed.unmet(needs);
  const onUnmet = options.onUnmet ?? readRunFile()?.onUnmet ?? 'skip';
  if (unmet && onUnmet === 'skip') state.skipReason = unmet;
  let machine: Machine | undefined;
  jest.beforeAll(async () => {
    if (unmet) {
      if (onUnmet === 'skip') return;
      throw new Error(unmet);
    }
    machine = await testbed.provision(needs, options.spec);
  }, timeoutMs);
  jest.afterAll(async () => {
    if (machine) await testbed.destroy(machine);
  }, timeoutMs);
  return {
    get machine() {
      if (!machine) throw new Error(unmet ?? 'useMachine: the machine exists from beforeAll on.');
      return machine as MachineWith<Needs>;
    },
  };
}
