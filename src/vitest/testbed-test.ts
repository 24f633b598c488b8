import { inject, type TestAPI, test as vitestTest } from 'vitest';
import { type CapabilityInput, parseNeeds } from '../core/capabilities.js';
import { isTestbedError } from '../core/errors.js';
import type { Machine, MachineSpec } from '../core/provider.js';
import type { ProviderRegistry } from '../core/registry.js';
import { describeError } from '../harness/describe-error.js';
import { destroyQuietly } from '../harness/destroy-quietly.js';
import { collectDiagnostics } from '../harness/failure-diagnostics.js';
import { MachineSource } from '../harness/machine-source.js';
import type { MachineStart } from '../harness/machine-start.js';
import type { MachineWith } from '../harness/machine-with.js';
import { provisionBudget } from '../harness/provision-budget.js';
import type { OnUnmet } from '../harness/testbed-options.js';
import type { TopologyMember } from '../harness/topology-plan.js';
import './provided-context.js';
import { holdStore } from './hold-store.js';
import type { ScopeStore } from './scope-store.js';
import { checkTestOptions, type SCOPES } from './test-options-schema.js';
import { type TopologyFixtures, type TopologyTestOptions, topologyTest } from './topology-test.js';

/** How long a machine lives: one test, one file, or one worker process. */
export type MachineScope = (typeof SCOPES)[number];

/** Options of `testbedTest`. */
export interface TestbedTestOptions<Needs extends readonly CapabilityInput[]> {
  /** Capabilities the `machine` fixture must offer; checked when `testbedTest` is called. */
  needs: Needs;
  /** Lifetime of the machine. Default `test`. */
  scope?: MachineScope;
  /** Provisioning options (image, memory, hostname, ...). */
  spec?: MachineSpec;
  /** Overrides the plugin's `onUnmet` for these tests. */
  onUnmet?: OnUnmet;
  /** Overrides the plugin's `keepOnFailure` for these tests. */
  keepOnFailure?: boolean;
  /**
   * Test-scoped machines start from a warm template (the spec's machine booted once per worker,
   * its memory saved, restored for each test in about a second) where the provider offers
   * `WarmSnapshot`; `false` boots each one cold. Default: the plugin's `warm`, TESTBED_WARM, true.
   */
  warm?: boolean;
  /** Providers to use instead of the run's registry (e.g. your own provider instances). */
  registry?: ProviderRegistry;
}

/**
 * The run-scoped machines of `testbed({ machines })` with their needs, for typing `runMachine()`;
 * declare yours: `declare module 'testbed/vitest' { interface RunMachines { db: ['VmType(Container)', 'Exec'] } }`.
 */
// biome-ignore lint/suspicious/noEmptyInterface: filled in by the user's declaration merging
export interface RunMachines {}

/** What `runMachine(name)` resolves to: typed by the declared needs, a plain `Machine` otherwise. */
export type RunMachineOf<Name extends string> = Name extends keyof RunMachines
  ? RunMachines[Name] extends readonly CapabilityInput[]
    ? MachineWith<RunMachines[Name]>
    : Machine
  : Machine;

/** Fixtures `testbedTest` adds to the test context. */
export interface TestbedFixtures<Needs extends readonly CapabilityInput[]> {
  /** A machine offering every need, created for the scope and destroyed after it. */
  machine: MachineWith<Needs>;
  /** A run-scoped machine declared in `testbed({ machines })`, by name; skips when unmet. */
  runMachine: <Name extends string>(name: Name) => Promise<RunMachineOf<Name>>;
}

type Slot = { machine: Machine; failed: boolean };
type Task = {
  timeout?: number;
  result?: { state?: string } | undefined;
  meta: { testbed?: unknown[]; testbedUnmet?: string; testbedMachine?: MachineStart };
};

/** Skips the test for unmet needs, recording why in `task.meta` for testbed's reporter and JSON. */
function skipUnmet(task: Task, skip: (note: string) => never, reason: string): never {
  task.meta.testbedUnmet = reason;
  return skip(reason);
}

const report = (message: string) => console.error(message);

async function recordFailure(task: Task, machine: Machine, keep: boolean): Promise<void> {
  try {
    const diagnostics = await collectDiagnostics(machine, { keep });
    task.meta.testbed = [...(task.meta.testbed ?? []), diagnostics];
  } catch (error) {
    report(`testbed: could not record diagnostics of ${machine.name}: ${describeError(error)}`);
  }
}

/**
 * A Vitest `test` whose context has a `machine` meeting `needs` and `runMachine(name)`. Unknown
 * capability names throw here, at collection, listing the valid ones. When no provider meets the
 * needs, each test is skipped with the reason and the fix (or fails, with `onUnmet: 'fail'`);
 * nothing is created for it.
 */
export function testbedTest<const Needs extends readonly CapabilityInput[]>(
  options: TestbedTestOptions<Needs>,
): TestAPI<TestbedFixtures<Needs>>;
/**
 * A Vitest `test` whose context has `machines` (each member typed by its own needs) and
 * `networks`: the members are provisioned in parallel, each on its networks with an address and
 * the others' names in its `/etc/hosts`, and destroyed together (see `TopologyTestOptions`).
 */
export function testbedTest<
  const Machines extends Readonly<Record<string, TopologyMember>>,
  const Networks extends Readonly<Record<string, readonly (keyof Machines & string)[]>>,
>(options: TopologyTestOptions<Machines, Networks>): TestAPI<TopologyFixtures<Machines, Networks>>;
export function testbedTest(options: object): unknown {
  if ('machines' in options) return topologyTest(options as TopologyTestOptions<never, never>);
  return machineTest(options as TestbedTestOptions<readonly CapabilityInput[]>);
}

function machineTest<const Needs extends readonly CapabilityInput[]>(
  options: TestbedTestOptions<Needs>,
): TestAPI<TestbedFixtures<Needs>> {
  parseNeeds(options.needs);
  checkTestOptions(options);
  const { needs, spec = {}, scope = 'test' } = options;
  // Keys of this call's values in the stores of its file and worker.
  const sourceKey = Symbol('testbed source');
  const slotKey = Symbol('testbed machine');
  // One source per worker, so discovery (without the plugin) and attached handles are shared.
  const sourceIn = (worker: ScopeStore) =>
    worker.get(
      sourceKey,
      () => MachineSource.create(inject('testbed'), options.registry),
      (s) => s.release(),
    );
  const onUnmet = (s: MachineSource) => options.onUnmet ?? s.snapshot.onUnmet;
  const keep = (s: MachineSource) => options.keepOnFailure ?? s.snapshot.keepOnFailure;

  const provisionSlot = async (
    s: MachineSource,
    providerId: string,
    signal?: AbortSignal,
  ): Promise<Slot> => ({ machine: await s.provision(providerId, spec, signal), failed: false });
  const releaseSlot = (s: MachineSource, slot: Slot) =>
    destroyQuietly(slot.machine, { keepArtifacts: slot.failed && keep(s), report }).then(() => {});
  // A test-scoped machine: from a warm template where possible, its start recorded in task.meta.
  const provisionTestSlot = async (
    s: MachineSource,
    providerId: string,
    task: Task,
    signal: AbortSignal,
  ): Promise<Slot> => {
    const asked = performance.now();
    const provision = (id: string) => s.provisionForTest(id, spec, { signal, warm: options.warm });
    const { machine, start } = await provision(providerId).catch((error: unknown) => {
      // A host found unreachable is now marked down: a new machine goes to the next best one.
      if (!isTestbedError(error, 'TESTBED_HOST_UNREACHABLE')) throw error;
      const next = s.select(needs);
      if (!('providerId' in next) || next.providerId === providerId) throw error;
      return provision(next.providerId);
    });
    task.meta.testbedMachine = {
      provider: machine.providerId,
      machine: machine.name,
      ...start,
      readyMs: Math.round(performance.now() - asked),
    };
    return { machine, failed: false };
  };
  // The test does not wait for its machine to go (the run's watchdog covers a crash meanwhile),
  // unless the machine is kept for inspection: then it must be stopped before the test reports.
  const releaseTestSlot = async (s: MachineSource, slot: Slot, task: Task, left: number) => {
    if (slot.failed && keep(s)) await releaseSlot(s, slot);
    else s.destroyLater(slot.machine);
    const record = task.meta.testbedMachine;
    if (record) record.teardownWaitMs = Math.round(performance.now() - left);
  };

  type Scoped = { testbedWorker: ScopeStore; testbedFile: ScopeStore };
  const fixtures = {
    testbedWorker: [holdStore, { scope: 'worker' }],
    testbedFile: [holdStore, { scope: 'file' }],
    testbedNeeds: [
      async (
        {
          testbedWorker,
          task,
          skip,
        }: { testbedWorker: ScopeStore; task: Task; skip: (note: string) => never },
        use: (providerId: string) => Promise<void>,
      ) => {
        const s = await sourceIn(testbedWorker);
        const selected = s.select(needs);
        if ('error' in selected) {
          if (onUnmet(s) === 'fail') throw selected.error;
          return skipUnmet(task, skip, selected.error.message);
        }
        await use(selected.providerId);
      },
      { auto: true },
    ],
    machine: async (
      {
        testbedNeeds,
        testbedWorker,
        testbedFile,
        task,
        signal,
      }: Scoped & { testbedNeeds: string; task: Task; signal: AbortSignal },
      use: (machine: Machine) => Promise<void>,
    ) => {
      const s = await sourceIn(testbedWorker);
      const store = scope === 'file' ? testbedFile : testbedWorker;
      const budget = provisionBudget(task.timeout, 'Vitest');
      // A shared machine outlives this test, so this test's signal must not abort its creation.
      // Chosen again now, with no wait before the provision counts it: tests starting at once
      // all selected before any of them placed a machine, and would all pick the same host.
      const now = scope === 'test' ? s.select(needs) : undefined;
      const providerId = now && 'providerId' in now ? now.providerId : testbedNeeds;
      const slot =
        scope === 'test'
          ? await provisionTestSlot(
              s,
              providerId,
              task,
              budget ? AbortSignal.any([signal, budget]) : signal,
            )
          : await store.get(
              slotKey,
              () => provisionSlot(s, testbedNeeds, budget),
              (shared) => releaseSlot(s, shared),
            );
      await use(slot.machine);
      const left = performance.now();
      if (task.result?.state === 'fail') {
        slot.failed = true;
        await recordFailure(task, slot.machine, keep(s));
      }
      if (scope === 'test') await releaseTestSlot(s, slot, task, left);
    },
    runMachine: async (
      {
        testbedWorker,
        task,
        skip,
      }: { testbedWorker: ScopeStore; task: Task; skip: (note: string) => never },
      use: (lookup: (name: string) => Promise<Machine>) => Promise<void>,
    ) => {
      const s = await sourceIn(testbedWorker);
      const used: Machine[] = [];
      await use(async (name) => {
        const found = await s.runMachine(name);
        if (!found.available) {
          if (onUnmet(s) === 'fail') throw new Error(found.reason);
          return skipUnmet(task, skip, found.reason);
        }
        used.push(found.machine);
        return found.machine;
      });
      if (task.result?.state === 'fail') {
        for (const machine of used) await recordFailure(task, machine, false);
      }
    },
  };
  return vitestTest.extend(fixtures as never) as unknown as TestAPI<TestbedFixtures<Needs>>;
}
