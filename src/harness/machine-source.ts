import { parseNeeds, type VmCapability } from '../core/capabilities.js';
import { ConfigError, ProvisionError } from '../core/errors.js';
import type { Machine, MachineSpec } from '../core/provider.js';
import type { ProviderRegistry } from '../core/registry.js';
import { createRunContext, isOwnerAlive } from '../core/run-context.js';
import { destroyQuietly } from './destroy-quietly.js';
import { provisionSpec } from './provision-spec.js';
import { ProvisionerPool } from './provisioner-pool.js';
import { createRegistry, hasRegistryFactory } from './registry-factory.js';
import type { RunMachineEntry, RunSnapshot } from './run-snapshot.js';
import { type Selected, selectProvider } from './select-provider.js';
import { toCandidates } from './to-candidates.js';

/** A run-scoped machine as a test sees it: a handle, or why there is none. */
export type RunMachineLookup =
  | { available: true; machine: Machine }
  | { available: false; reason: string };

/**
 * Where a test process gets machines: selection from the run's discovery results, provisioning
 * stamped with the run, and handles to the run-scoped machines (attached once, released at the end).
 */
export class MachineSource {
  readonly #pool: ProvisionerPool;
  readonly #attached = new Map<string, Promise<Machine>>();

  constructor(
    readonly registry: ProviderRegistry,
    readonly snapshot: RunSnapshot,
  ) {
    this.#pool = new ProvisionerPool(registry, snapshot.run);
  }

  /**
   * The source for this test process. With a snapshot from the run's setup nothing is discovered
   * again; without one (no plugin / global setup) discovery runs here, once.
   */
  static async create(
    snapshot: RunSnapshot | undefined,
    registry?: ProviderRegistry,
  ): Promise<MachineSource> {
    if (snapshot?.registry && !registry && !hasRegistryFactory()) {
      throw new ConfigError(
        [
          {
            path: 'registry',
            message: `${snapshot.registry} did not call defineTestbedRegistry()`,
          },
        ],
        {
          subject: 'testbed options',
          fix: 'Make the module default-export defineTestbedRegistry(() => registry).',
        },
      );
    }
    const preference = snapshot?.preference;
    const reg = registry ?? (await createRegistry({ preference }));
    if (snapshot) return new MachineSource(reg, snapshot);
    const statuses = await reg.discover({ health: true });
    return new MachineSource(reg, {
      run: createRunContext(),
      candidates: toCandidates(statuses),
      preference,
      onUnmet: 'skip',
      keepOnFailure: false,
      timeoutMs: undefined,
      registry: undefined,
      machines: {},
    });
  }

  /** Parses needs (throws `InvalidCapabilityError` listing valid names) and picks a provider. */
  select(needs: readonly unknown[]): Selected {
    const parsed: VmCapability[] = parseNeeds(needs);
    return selectProvider(this.snapshot.candidates, parsed, this.snapshot.preference);
  }

  /** Provisions a machine on `providerId`, bounded by the run's `timeoutMs` unless the spec says otherwise. */
  async provision(
    providerId: string,
    spec: MachineSpec = {},
    signal?: AbortSignal,
  ): Promise<Machine> {
    // A test process can outlive its run's owner (Vitest's workers finish their test after the
    // main process is killed) and the owner's watchdog: nothing may be created after that.
    this.#assertOwnerAlive();
    const provisioner = await this.#pool.get(providerId);
    const machine = await provisioner.provision(
      provisionSpec(spec, this.snapshot.timeoutMs, signal),
    );
    try {
      this.#assertOwnerAlive();
    } catch (error) {
      await machine.destroy().catch(() => {});
      throw error;
    }
    return machine;
  }

  #assertOwnerAlive(): void {
    const { owner, runId } = this.snapshot.run;
    if (isOwnerAlive(owner)) return;
    throw new ProvisionError(
      `Run ${runId} has ended: its owner (pid ${owner.pid}) is gone, so this process provisions nothing more.`,
      { fix: 'Nothing to do: the run was interrupted; `npx testbed gc` removes anything it left.' },
    );
  }

  /** Names of the run-scoped machines. */
  runMachineNames(): string[] {
    return Object.keys(this.snapshot.machines);
  }

  /** The run-scoped machine `name`; throws for a name that was never declared. */
  async runMachine(name: string): Promise<RunMachineLookup> {
    const entry: RunMachineEntry | undefined = this.snapshot.machines[name];
    if (!entry) {
      const known = this.runMachineNames();
      throw new ConfigError(
        [{ path: `machines.${name}`, message: 'no run machine has this name' }],
        {
          subject: 'run machine lookup',
          fix: known.length
            ? `Use one of ${known.join(', ')}, or declare it in testbed({ machines }).`
            : 'Declare it in testbed({ machines: { name: { needs: [...] } } }).',
        },
      );
    }
    if (!entry.available) return { available: false, reason: entry.reason };
    let handle = this.#attached.get(name);
    if (!handle) {
      const descriptor = entry.descriptor;
      handle = this.#pool.get(descriptor.providerId).then((p) => p.attach(descriptor));
      handle.catch(() => this.#attached.delete(name));
      this.#attached.set(name, handle);
    }
    return { available: true, machine: await handle };
  }

  /** Releases the handles to run-scoped machines (their owner destroys the machines themselves). */
  async release(): Promise<void> {
    const handles = [...this.#attached.values()].reverse();
    this.#attached.clear();
    for (const handle of handles) {
      const machine = await handle.catch(() => undefined);
      if (machine) await destroyQuietly(machine);
    }
  }
}
