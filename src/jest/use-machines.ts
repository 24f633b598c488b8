import { parseNeeds } from '../core/capabilities.js';
import type { MachineWith } from '../harness/machine-with.js';
import type { OnUnmet } from '../harness/testbed-options.js';
import type { Topology, TopologyNetwork } from '../harness/topology.js';
import type { TopologyMember } from '../harness/topology-plan.js';
import { fileState } from './file-state.js';
import { readRunFile } from './run-file.js';
import type { TestbedGlobal } from './testbed-environment.js';

/** Options of `useMachines`: the machines by name and the networks listing them. */
export interface UseMachinesOptions<
  Machines extends Readonly<Record<string, TopologyMember>>,
  Networks extends Readonly<Record<string, readonly (keyof Machines & string)[]>>,
> {
  /** The machines; each name is its hostname and how the others reach it. */
  machines: Machines;
  /** Isolated networks: each lists the members that reach each other on it by name. */
  networks?: Networks;
  /** Overrides the run's `onUnmet`. */
  onUnmet?: OnUnmet;
}

/** The machines and networks of a test file, available from `beforeAll` on. */
export interface MachinesHandle<
  Machines extends Readonly<Record<string, TopologyMember>>,
  Networks extends Readonly<Record<string, readonly string[]>>,
> {
  /** The members, each typed by its needs; throws before `beforeAll` ran or when unmet. */
  readonly machines: { readonly [Name in keyof Machines]: MachineWith<Machines[Name]['needs']> };
  /** The networks, for link faults. */
  readonly networks: { readonly [Name in keyof Networks]: TopologyNetwork };
}

type Hook = (fn: () => Promise<void>, timeout?: number) => void;
const jest = globalThis as unknown as { beforeAll: Hook; afterAll: Hook; testbed?: TestbedGlobal };

/**
 * Declares several machines for the current test file, as `useMachine` one: provisioned in
 * parallel in `beforeAll` on their networks (each reaching the others by name), destroyed together
 * in `afterAll`. Unmet needs of any member skip the file's tests naming it (or fail them).
 */
export function useMachines<
  const Machines extends Readonly<Record<string, TopologyMember>>,
  const Networks extends Readonly<Record<string, readonly (keyof Machines & string)[]>>,
>(
  options: UseMachinesOptions<Machines, Networks>,
  timeoutMs = 300_000,
): MachinesHandle<Machines, Networks> {
  for (const member of Object.values(options.machines)) parseNeeds(member.needs);
  const testbed = jest.testbed;
  if (!testbed) {
    throw new Error(
      "useMachines needs testbed's Jest environment: set testEnvironment to 'testbed/jest/environment'.",
    );
  }
  const declaration = { machines: options.machines, networks: options.networks ?? {} };
  const state = fileState();
  const unmet = testbed.unmetTopology(declaration);
  const onUnmet = options.onUnmet ?? readRunFile()?.onUnmet ?? 'skip';
  if (unmet && onUnmet === 'skip') state.skipReason = unmet;
  let topology: Topology | undefined;
  jest.beforeAll(async () => {
    if (unmet) {
      if (onUnmet === 'skip') return;
      throw new Error(unmet);
    }
    topology = await testbed.provisionTopology(declaration);
  }, timeoutMs);
  jest.afterAll(async () => {
    if (topology) await testbed.destroyTopology(topology);
  }, timeoutMs);
  const current = () => {
    if (!topology) throw new Error(unmet ?? 'useMachines: the machines exist from beforeAll on.');
    return topology;
  };
  return {
    get machines() {
      return current().machines as MachinesHandle<Machines, Networks>['machines'];
    },
    get networks() {
      return current().networks as MachinesHandle<Machines, Networks>['networks'];
    },
  };
}
