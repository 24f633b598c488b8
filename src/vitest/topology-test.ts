import { inject, type TestAPI, test as vitestTest } from 'vitest';
import { parseNeeds } from '../core/capabilities.js';
import type { ProviderRegistry } from '../core/registry.js';
import { describeError } from '../harness/describe-error.js';
import { collectDiagnostics } from '../harness/failure-diagnostics.js';
import { MachineSource } from '../harness/machine-source.js';
import type { MachineWith } from '../harness/machine-with.js';
import { provisionBudget } from '../harness/provision-budget.js';
import type { OnUnmet } from '../harness/testbed-options.js';
import type { Topology, TopologyNetwork } from '../harness/topology.js';
import type { TopologyMember } from '../harness/topology-plan.js';
import './provided-context.js';
import { holdStore } from './hold-store.js';
import type { ScopeStore } from './scope-store.js';
import { checkTestOptions, type SCOPES } from './test-options-schema.js';

/** Options of `testbedTest` for several machines declared together. */
export interface TopologyTestOptions<
  Machines extends Readonly<Record<string, TopologyMember>>,
  Networks extends Readonly<Record<string, readonly (keyof Machines & string)[]>>,
> {
  /** The machines by name: each name is its hostname and how the others reach it. */
  machines: Machines;
  /** Isolated networks: each lists the members on it, which reach each other there by name. */
  networks?: Networks;
  /** Lifetime of the machines and networks. Default `test`. */
  scope?: (typeof SCOPES)[number];
  /** Overrides the plugin's `onUnmet` for these tests. */
  onUnmet?: OnUnmet;
  /** Overrides the plugin's `keepOnFailure` for these tests. */
  keepOnFailure?: boolean;
  /** Providers to use instead of the run's registry. */
  registry?: ProviderRegistry;
}

/** Fixtures a topology `testbedTest` adds: each member typed by its own needs, and the networks. */
export interface TopologyFixtures<
  Machines extends Readonly<Record<string, TopologyMember>>,
  Networks extends Readonly<Record<string, readonly string[]>>,
> {
  /** The members, provisioned in parallel, on their networks. */
  machines: { readonly [Name in keyof Machines]: MachineWith<Machines[Name]['needs']> };
  /** The networks, for link faults: `networks.lan.disconnect(machines.db)`. */
  networks: { readonly [Name in keyof Networks]: TopologyNetwork };
}

type Task = {
  timeout?: number;
  result?: { state?: string } | undefined;
  meta: { testbed?: unknown[]; testbedUnmet?: string };
};
type Held = { topology: Topology; failed: boolean };

const report = (message: string) => console.error(message);

/**
 * The topology form of `testbedTest`: every member's needs are parsed at the call (unknown names
 * throw), and the declaration is checked when the first test asks for it; unmet needs of any
 * member skip (or fail) the test naming the member; the members are provisioned in parallel and
 * destroyed together, last declared first, then their networks.
 */
export function topologyTest<
  const Machines extends Readonly<Record<string, TopologyMember>>,
  const Networks extends Readonly<Record<string, readonly (keyof Machines & string)[]>>,
>(options: TopologyTestOptions<Machines, Networks>): TestAPI<TopologyFixtures<Machines, Networks>> {
  for (const member of Object.values(options.machines)) parseNeeds(member.needs);
  const { machines: _machines, networks: _networks, ...rest } = options;
  checkTestOptions(rest);
  const scope = options.scope ?? 'test';
  const declaration = { machines: options.machines, networks: options.networks ?? {} };
  const sourceKey = Symbol('testbed source');
  const topologyKey = Symbol('testbed topology');
  const sourceIn = (worker: ScopeStore) =>
    worker.get(
      sourceKey,
      () => MachineSource.create(inject('testbed'), options.registry),
      (s) => s.release(),
    );
  const keep = (s: MachineSource) => options.keepOnFailure ?? s.snapshot.keepOnFailure;
  const release = (s: MachineSource, held: Held) =>
    held.topology.destroy({ keepArtifacts: held.failed && keep(s) });

  const fixtures = {
    testbedWorker: [holdStore, { scope: 'worker' }],
    testbedFile: [holdStore, { scope: 'file' }],
    testbedTopology: async (
      {
        testbedWorker,
        testbedFile,
        task,
        skip,
        signal,
      }: {
        testbedWorker: ScopeStore;
        testbedFile: ScopeStore;
        task: Task;
        skip: (note: string) => never;
        signal: AbortSignal;
      },
      use: (topology: Topology) => Promise<void>,
    ) => {
      const s = await sourceIn(testbedWorker);
      const selected = s.selectTopology(declaration);
      if ('error' in selected) {
        const unmet = selected.error.code === 'TESTBED_NO_MATCHING_PROVIDER';
        if (!unmet || (options.onUnmet ?? s.snapshot.onUnmet) === 'fail') throw selected.error;
        task.meta.testbedUnmet = selected.error.message;
        return skip(selected.error.message);
      }
      const budget = provisionBudget(task.timeout, 'Vitest');
      const store = scope === 'file' ? testbedFile : testbedWorker;
      const held: Held =
        scope === 'test'
          ? {
              topology: await s.provisionTopology(
                declaration,
                selected.providerOf,
                budget ? AbortSignal.any([signal, budget]) : signal,
              ),
              failed: false,
            }
          : await store.get(
              topologyKey,
              async () => ({
                topology: await s.provisionTopology(declaration, selected.providerOf, budget),
                failed: false,
              }),
              (shared) => release(s, shared),
            );
      await use(held.topology);
      if (task.result?.state === 'fail') {
        held.failed = true;
        for (const machine of Object.values(held.topology.machines)) {
          try {
            const diagnostics = await collectDiagnostics(machine, { keep: keep(s) });
            task.meta.testbed = [...(task.meta.testbed ?? []), diagnostics];
          } catch (error) {
            report(
              `testbed: could not record diagnostics of ${machine.name}: ${describeError(error)}`,
            );
          }
        }
      }
      if (scope !== 'test') return;
      if (held.failed && keep(s)) await release(s, held);
      else s.destroyLater(held.topology);
    },
    machines: async (
      { testbedTopology }: { testbedTopology: Topology },
      use: (machines: Topology['machines']) => Promise<void>,
    ) => use(testbedTopology.machines),
    networks: async (
      { testbedTopology }: { testbedTopology: Topology },
      use: (networks: Topology['networks']) => Promise<void>,
    ) => use(testbedTopology.networks),
  };
  return vitestTest.extend(fixtures as never) as unknown as TestAPI<
    TopologyFixtures<Machines, Networks>
  >;
}
