import { pathToFileURL } from 'node:url';
import type { Machine, MachineSpec } from '../core/provider.js';
import { describeError } from '../harness/describe-error.js';
import { destroyQuietly } from '../harness/destroy-quietly.js';
import { collectDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';
import { MachineSource } from '../harness/machine-source.js';
import type { Topology } from '../harness/topology.js';
import type { TopologyDeclaration } from '../harness/topology-plan.js';
import { fileState } from './file-state.js';
import { loadNodeEnvironment } from './load-node-environment.js';
import { parseNeedsPragma } from './parse-needs-pragma.js';
import { readRunFile } from './run-file.js';

/** The parts of a Jest environment context this environment reads. */
interface EnvironmentContext {
  docblockPragmas: Record<string, string | string[]>;
  testPath: string;
}

/** The parts of jest-environment-node's class this environment uses. */
interface NodeEnvironmentLike {
  global: Record<PropertyKey, unknown>;
  setup(): Promise<void>;
  teardown(): Promise<void>;
}
type NodeEnvironmentClass = new (
  config: unknown,
  context: EnvironmentContext,
) => NodeEnvironmentLike;

/** A Jest circus event, as far as this environment reads it. */
interface CircusEvent {
  name: string;
  test?: { mode?: string; errors: unknown[]; name: string };
}

// jest-environment-node comes with the user's Jest (a peer), so it is loaded, not bundled.
const TestEnvironment = (await loadNodeEnvironment())
  .TestEnvironment as unknown as NodeEnvironmentClass;

/** Test and hook timeout where the user set none, as the Vitest plugin's. */
const DEFAULT_TEST_TIMEOUT_MS = 180_000;

/** What tests see as the global `testbed` in files run by this environment. */
export interface TestbedGlobal {
  /** The machine meeting the file's `@testbed-needs`, when the pragma is there. */
  machine: Machine | undefined;
  /** A run-scoped machine from the global setup, by name. */
  runMachine(name: string): Promise<Machine>;
  /** Why `needs` are unmet (the message names what is missing and how to get it), or undefined. */
  unmet(needs: readonly string[]): string | undefined;
  /** Provisions a machine meeting `needs` in the environment's process (used by `useMachine`). */
  provision(needs: readonly string[], spec?: MachineSpec): Promise<Machine>;
  /** Destroys a machine from `provision` (keeping artifacts after a failure with `keepOnFailure`). */
  destroy(machine: Machine): Promise<void>;
  /** Why some members of a topology cannot be provisioned here, naming each, or undefined; throws for an invalid one. */
  unmetTopology(declaration: TopologyDeclaration): string | undefined;
  /** Provisions a topology in the environment's process (used by `useMachines`). */
  provisionTopology(declaration: TopologyDeclaration): Promise<Topology>;
  /** Destroys a topology from `provisionTopology`. */
  destroyTopology(topology: Topology): Promise<void>;
}

/**
 * Jest test environment (Node) that reads `@testbed-needs A,B` from a file's docblock,
 * provisions a machine meeting them before the file's tests (global `testbed.machine`) and
 * destroys it after. Unmet needs skip every test of the file with the reason printed (or fail the
 * file with `onUnmet: 'fail'`); a failed test's error gets the machine's console tail appended.
 */
export default class TestbedEnvironment extends TestEnvironment {
  readonly #needs: string[];
  readonly #testPath: string;
  #source: MachineSource | undefined;
  #machine: Machine | undefined;
  // Machines provisioned for `useMachine`, destroyed here too in case its afterAll never ran.
  readonly #created: Machine[] = [];
  // Topologies provisioned for `useMachines`, likewise.
  readonly #topologies: Topology[] = [];
  #announced = false;

  constructor(config: unknown, context: EnvironmentContext) {
    super(config, context);
    this.#needs = parseNeedsPragma(context.docblockPragmas['testbed-needs']);
    this.#testPath = context.testPath;
    // As the Vitest plugin does: Jest's 5 s default cannot boot a VM, so where the user set no
    // testTimeout, jest-circus takes this one at run start (the slot `jest.setTimeout` writes).
    const { globalConfig } = config as { globalConfig?: { testTimeout?: number } };
    if (globalConfig?.testTimeout === undefined) {
      this.global[Symbol.for('TEST_TIMEOUT_SYMBOL')] = DEFAULT_TEST_TIMEOUT_MS;
    }
  }

  override async setup(): Promise<void> {
    await super.setup();
    const state = fileState(this.global);
    const snapshot = readRunFile();
    if (snapshot?.registry) await import(pathToFileURL(snapshot.registry).href);
    const source = await MachineSource.create(snapshot);
    this.#source = source;
    state.keep = source.snapshot.keepOnFailure;
    const runMachine = async (name: string) => {
      const found = await source.runMachine(name);
      if (!found.available) throw new Error(found.reason);
      state.machines.push(found.machine);
      return found.machine;
    };
    const provision = async (needs: readonly string[], spec?: MachineSpec) => {
      const selected = source.select(needs);
      if ('error' in selected) throw selected.error;
      const machine = await source.provision(selected.providerId, spec);
      this.#created.push(machine);
      state.machines.push(machine);
      return machine;
    };
    const unmet = (needs: readonly string[]) => {
      const selected = source.select(needs);
      return 'error' in selected ? selected.error.message : undefined;
    };
    const destroy = async (machine: Machine) => {
      const index = this.#created.indexOf(machine);
      if (index === -1) return;
      this.#created.splice(index, 1);
      await destroyQuietly(machine, { keepArtifacts: state.failed && state.keep });
    };
    const unmetTopology = (declaration: TopologyDeclaration) => {
      const selected = source.selectTopology(declaration);
      if (!('error' in selected)) return undefined;
      if (selected.error.code !== 'TESTBED_NO_MATCHING_PROVIDER') throw selected.error;
      return selected.error.message;
    };
    const provisionTopology = async (declaration: TopologyDeclaration) => {
      const selected = source.selectTopology(declaration);
      if ('error' in selected) throw selected.error;
      const topology = await source.provisionTopology(declaration, selected.providerOf);
      this.#topologies.push(topology);
      state.machines.push(...Object.values(topology.machines));
      return topology;
    };
    const destroyTopology = async (topology: Topology) => {
      const index = this.#topologies.indexOf(topology);
      if (index === -1) return;
      this.#topologies.splice(index, 1);
      await topology.destroy({ keepArtifacts: state.failed && state.keep });
    };
    this.global.testbed = {
      machine: undefined,
      runMachine,
      unmet,
      provision,
      destroy,
      unmetTopology,
      provisionTopology,
      destroyTopology,
    } satisfies TestbedGlobal;
    if (this.#needs.length === 0) return;
    const selected = source.select(this.#needs);
    if ('error' in selected) {
      if (source.snapshot.onUnmet === 'fail') throw selected.error;
      state.skipReason = selected.error.message;
      return;
    }
    this.#machine = await source.provision(selected.providerId);
    state.machines.push(this.#machine);
    (this.global.testbed as TestbedGlobal).machine = this.#machine;
  }

  async handleTestEvent(event: CircusEvent): Promise<void> {
    const state = fileState(this.global);
    if (event.name === 'test_start' && state.skipReason && event.test) {
      event.test.mode = 'skip';
      if (!this.#announced) {
        this.#announced = true;
        process.stderr.write(
          `testbed: skipping the tests of ${this.#testPath}: ${state.skipReason}\n`,
        );
      }
    }
    if (event.name !== 'test_done' || !event.test || event.test.errors.length === 0) return;
    state.failed = true;
    const keep = this.#source?.snapshot.keepOnFailure ?? false;
    try {
      const diagnostics = await Promise.all(
        state.machines.map((m) =>
          collectDiagnostics(m, {
            keep:
              keep &&
              (m === this.#machine ||
                this.#created.includes(m) ||
                this.#topologies.some((t) => Object.values(t.machines).includes(m))),
          }),
        ),
      );
      if (diagnostics.length > 0) {
        const report = new Error(
          `testbed: machines of this test\n${formatDiagnostics(diagnostics)}`,
        );
        // The report is data, not a failure site: no stack under it.
        report.stack = report.message;
        event.test.errors.push(report);
      }
    } catch (error) {
      console.error(`testbed: could not collect diagnostics: ${describeError(error)}`);
    }
  }

  override async teardown(): Promise<void> {
    const state = fileState(this.global);
    const keep = state.failed && (this.#source?.snapshot.keepOnFailure ?? false);
    for (const topology of this.#topologies.reverse())
      await topology.destroy({ keepArtifacts: keep });
    const owned = this.#machine ? [this.#machine, ...this.#created] : this.#created;
    for (const machine of owned.reverse()) await destroyQuietly(machine, { keepArtifacts: keep });
    await this.#source?.release();
    await super.teardown();
  }
}
