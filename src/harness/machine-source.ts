import { parseNeeds, type VmCapability } from '../core/capabilities.js';
import { loadConfig } from '../core/config.js';
import {
  ConfigError,
  isTestbedError,
  type MixedNetworkError,
  type NoMatchingProviderError,
  ProvisionError,
  UnmetMembersError,
  UnsupportedOperationError,
} from '../core/errors.js';
import { filePlacementStore, placementDir } from '../core/file-placement-store.js';
import { demandOf, PlacementLedger } from '../core/placement-ledger.js';
import type {
  Machine,
  MachineNetwork,
  MachineSnapshot,
  MachineSpec,
  NetworkOptions,
} from '../core/provider.js';
import type { ProviderRegistry } from '../core/registry.js';
import { createRunContext, isOwnerAlive } from '../core/run-context.js';
import { applyFileSpecs } from '../files/apply-file-specs.js';
import { DestroyQueue } from './destroy-queue.js';
import { destroyQuietly, type Report } from './destroy-quietly.js';
import type { MachineStart } from './machine-start.js';
import { provisionSpec } from './provision-spec.js';
import { ProvisionerPool } from './provisioner-pool.js';
import { createRegistry, hasRegistryFactory } from './registry-factory.js';
import { releaseOnDestroy } from './release-on-destroy.js';
import type { RunMachineEntry, RunSnapshot } from './run-snapshot.js';
import { type Selected, selectProvider } from './select-provider.js';
import { ownTemplates, sharedTemplates, type TemplateLease } from './template-lease.js';
import { templateSpec } from './template-spec.js';
import { toCandidates } from './to-candidates.js';
import { provisionTopology, type Topology } from './topology.js';
import { checkMixedNetworks, checkTopology, type TopologyDeclaration } from './topology-plan.js';
import { untilAborted } from './until-aborted.js';

/** A run-scoped machine as a test sees it: a handle, or why there is none. */
export type RunMachineLookup =
  | { available: true; machine: Machine }
  | { available: false; reason: string };

/** The provider of each member of a topology, or why the topology cannot be provisioned here. */
export type TopologySelection =
  | { providerOf: Record<string, string> }
  | { error: UnmetMembersError | MixedNetworkError };

/** Options of `MachineSource.provisionForTest`. */
export interface TestMachineOptions {
  /** Aborts getting the machine (the test's signal and budget); a shared template is not cancelled. */
  signal?: AbortSignal | undefined;
  /** Start from a warm template if the provider offers `WarmSnapshot`. Default: the run's `warm`. */
  warm?: boolean | undefined;
}

/** A test's machine and how it started. */
export interface TestMachine {
  /** The machine, ready: files in place and `waitFor` met. */
  machine: Machine;
  /** How it started, for the test's report. */
  start: Pick<MachineStart, 'start' | 'template' | 'templateCreated'>;
}

/**
 * Where a test process gets machines: selection from the run's discovery results, provisioning
 * stamped with the run (test machines from warm templates where the provider can), background
 * destruction of test machines, and handles to the run-scoped machines (attached once, released
 * at the end).
 */
export class MachineSource {
  readonly #pool: ProvisionerPool;
  readonly #attached = new Map<string, Promise<Machine>>();
  readonly #destroying = new DestroyQueue();
  readonly #noted = new Set<string>();

  /**
   * `templates`: where warm templates are kept; default, this source's own. `placement`: what was
   * placed where and which providers are down; default, this process's alone.
   */
  constructor(
    readonly registry: ProviderRegistry,
    readonly snapshot: RunSnapshot,
    readonly templates: TemplateLease = ownTemplates(),
    readonly placement: PlacementLedger = new PlacementLedger(),
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
    const reg = registry ?? (await createRegistry({ preference, hosts: snapshot?.hosts }));
    // Placements are counted in the run's files, so parallel workers see each other's machines.
    const placement = (run: RunSnapshot) =>
      new PlacementLedger(filePlacementStore(placementDir(loadConfig().stateDir, run.run.runId)));
    if (snapshot) return new MachineSource(reg, snapshot, sharedTemplates(), placement(snapshot));
    const statuses = await reg.discover({ health: true });
    const run: RunSnapshot = {
      run: createRunContext(),
      candidates: toCandidates(statuses),
      preference,
      onUnmet: 'skip',
      keepOnFailure: false,
      warm: loadConfig().warm,
      timeoutMs: undefined,
      registry: undefined,
      machines: {},
    };
    return new MachineSource(reg, run, sharedTemplates(), placement(run));
  }

  /** Parses needs (throws `InvalidCapabilityError` listing valid names) and picks a provider. */
  select(needs: readonly unknown[]): Selected {
    const parsed: VmCapability[] = parseNeeds(needs);
    return selectProvider(
      this.snapshot.candidates,
      parsed,
      this.snapshot.preference,
      this.placement.state(),
    );
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
    // Counted from the start, not once it is up: workers choosing meanwhile see it.
    const release = this.placement.place(providerId, demandOf(spec));
    const machine = await this.#pool
      .get(providerId)
      .then((provisioner) =>
        provisioner.provision(provisionSpec(spec, this.snapshot.timeoutMs, signal)),
      )
      .catch((error: unknown) => {
        release();
        this.#noteDown(providerId, error);
        throw error;
      });
    try {
      this.#assertOwnerAlive();
    } catch (error) {
      await machine.destroy().catch(() => {});
      release();
      throw error;
    }
    return releaseOnDestroy(machine, release);
  }

  /** A provider that failed as unreachable gets no more machines from this process. */
  #noteDown(providerId: string, error: unknown): void {
    if (
      isTestbedError(error, 'TESTBED_PROVIDER_UNAVAILABLE') ||
      isTestbedError(error, 'TESTBED_HOST_UNREACHABLE')
    ) {
      this.placement.markDown(providerId, error.message.split('\n')[0] ?? error.message);
    }
  }

  /**
   * A test's own machine: restored from the warm template of its spec when warm starts are on and
   * the provider offers `WarmSnapshot` (the first test needing a template makes it; the others
   * wait for that one), else provisioned cold. Either way `files` and `waitFor` hold on return.
   */
  async provisionForTest(
    providerId: string,
    spec: MachineSpec = {},
    options: TestMachineOptions = {},
  ): Promise<TestMachine> {
    // A restore joins plain networks only: static addresses and hosts lines are set at boot.
    const plain = (spec.networks ?? []).every((n) => !('network' in n)) && !spec.hosts;
    const warm =
      (options.warm ?? this.snapshot.warm) && plain && this.#offersWarmSnapshot(providerId);
    if (!warm) {
      return {
        machine: await this.provision(providerId, spec, options.signal),
        start: { start: 'cold' },
      };
    }
    this.#assertOwnerAlive();
    const { signal } = options;
    const template = templateSpec(spec, [this.registry.get(providerId), this.snapshot.run.runId]);
    const label = `${providerId} ${typeof spec.image === 'string' ? spec.image : 'default image'}`;
    // Counted before waiting for the template: tests starting meanwhile must see this machine.
    const release = this.placement.place(providerId, demandOf(spec));
    const { snapshot, created } = this.templates.templates.get(template.key, label, () =>
      this.#makeTemplate(providerId, template.spec),
    );
    const saved = await untilAborted(
      snapshot,
      signal,
      `Waiting for the warm template ${label}`,
    ).catch((error: unknown) => {
      release();
      throw error;
    });
    const started = Date.now();
    const bound = spec.timeoutMs ?? this.snapshot.timeoutMs;
    const restored = await saved
      .restore({
        ...(spec.name !== undefined ? { name: spec.name } : {}),
        ...(signal ? { signal } : {}),
        ...(bound !== undefined ? { timeoutMs: bound } : {}),
        ...(spec.networks ? { networks: spec.networks as readonly MachineNetwork[] } : {}),
        ...(spec.hostname !== undefined ? { hostname: spec.hostname } : {}),
      })
      .catch((error: unknown) => {
        release();
        throw error;
      });
    const machine = releaseOnDestroy(restored, release);
    try {
      this.#assertOwnerAlive();
      await applyFileSpecs(machine, spec.files ?? [], signal ?? new AbortController().signal);
      const waitFor = spec.waitFor;
      if (waitFor && (!Array.isArray(waitFor) || waitFor.length > 0)) {
        const left = bound === undefined ? undefined : Math.max(1, bound - (Date.now() - started));
        await machine.waitUntil(waitFor, {
          ...(signal ? { signal } : {}),
          ...(left !== undefined ? { timeoutMs: left } : {}),
        });
      }
    } catch (error) {
      await machine.destroy().catch(() => {});
      throw error;
    }
    const start = {
      start: saved.warm ? 'warm' : 'cold',
      template: label,
      // Made by this request: not found in the store, nor made by another process meanwhile.
      templateCreated: created && saved.origin !== 'store',
    } as const;
    return { machine, start };
  }

  /** Creates a network on `providerId` for a topology (`NetworkOverlay`). */
  async createNetwork(providerId: string, options: NetworkOptions): Promise<MachineNetwork> {
    this.#assertOwnerAlive();
    const provisioner = await this.#pool.get(providerId);
    if (!provisioner.createNetwork) {
      throw new UnsupportedOperationError('networks (NetworkOverlay)', providerId, {
        fix: "Add 'NetworkOverlay' to the needs of the members on this network.",
      });
    }
    return provisioner.createNetwork(options);
  }

  /**
   * Picks a provider for each member of a topology: the member's own needs, plus `NetworkOverlay`
   * for members of a network. Unmet needs name every unmet member; a network over providers that
   * cannot share a segment is an error too. Nothing is created.
   */
  selectTopology(declaration: TopologyDeclaration): TopologySelection {
    checkTopology(declaration);
    const networked = new Set(Object.values(declaration.networks ?? {}).flat());
    const providerOf: Record<string, string> = {};
    const unmet: Record<string, NoMatchingProviderError> = {};
    for (const [member, { needs }] of Object.entries(declaration.machines)) {
      const all = networked.has(member) ? [...needs, 'NetworkOverlay'] : needs;
      const selected = this.select(all);
      if ('error' in selected) unmet[member] = selected.error;
      else providerOf[member] = selected.providerId;
    }
    if (Object.keys(unmet).length > 0) return { error: new UnmetMembersError(unmet) };
    const mixed = checkMixedNetworks(
      declaration.networks ?? {},
      providerOf,
      (id) => this.snapshot.candidates.find((c) => c.id === id)?.capabilities ?? [],
    );
    return mixed ? { error: mixed } : { providerOf };
  }

  /** Provisions a topology on the providers `selectTopology` chose (see `provisionTopology`). */
  provisionTopology(
    declaration: TopologyDeclaration,
    providerOf: Readonly<Record<string, string>>,
    signal?: AbortSignal,
  ): Promise<Topology> {
    return provisionTopology(
      declaration,
      providerOf,
      {
        provision: (providerId, spec, memberSignal) =>
          this.provision(providerId, spec, memberSignal),
        createNetwork: (providerId, options) => this.createNetwork(providerId, options),
      },
      signal ? { signal } : {},
    );
  }

  /** Destroys a test's machine in the background; `release()` waits for it and reports a failure. */
  destroyLater(machine: Pick<Machine, 'name' | 'destroy'>): void {
    this.#destroying.add(machine);
  }

  #offersWarmSnapshot(providerId: string): boolean {
    const candidate = this.snapshot.candidates.find((c) => c.id === providerId);
    return candidate?.capabilities.some((c) => c.kind === 'WarmSnapshot') ?? false;
  }

  /**
   * The warm template of `spec`: from the provider's template store where it keeps one (made
   * there once for every process and run), else a template machine of this process's own, booted,
   * saved and removed. Not bound to any test's signal, since every test of the key waits for it.
   */
  async #makeTemplate(providerId: string, spec: MachineSpec): Promise<MachineSnapshot> {
    const provisioner = await this.#pool.get(providerId);
    if (provisioner.warmTemplate) {
      this.#assertOwnerAlive();
      const release = this.placement.place(providerId, demandOf(spec));
      try {
        return await provisioner.warmTemplate(spec, { onNote: (m) => this.#note(m) });
      } catch (error) {
        this.#noteDown(providerId, error);
        throw error;
      } finally {
        release();
      }
    }
    const machine = await this.provision(providerId, { ...spec, name: 'template' });
    try {
      if (!machine.snapshot) {
        throw new UnsupportedOperationError('a warm template (snapshot with memory)', providerId, {
          fix: "The provider says it offers WarmSnapshot but its machine has no snapshot(): set warm: false (or TESTBED_WARM=0) and report it to the provider's author.",
        });
      }
      return await machine.snapshot({ memory: true });
    } finally {
      await destroyQuietly(machine);
    }
  }

  /** Says a fallback once per process (a stored template remade): on stderr, as Vitest shows a worker's. */
  #note(message: string): void {
    if (this.#noted.has(message)) return;
    this.#noted.add(message);
    console.warn(message);
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

  /**
   * At the end of the process's tests: waits for the machines being destroyed in the background
   * (reporting failures), releases the handles to run-scoped machines (their owner destroys the
   * machines themselves), then gives back the warm templates (destroyed after the last restore).
   */
  async release(report: Report = (m) => console.error(m)): Promise<void> {
    const failures = await this.#destroying.drain();
    for (const failure of failures) report(failure);
    const handles = [...this.#attached.values()].reverse();
    this.#attached.clear();
    for (const handle of handles) {
      const machine = await handle.catch(() => undefined);
      if (machine) await destroyQuietly(machine);
    }
    await this.templates.release(report);
  }
}
