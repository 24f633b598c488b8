import { type CapabilityString, parseNeeds } from '../core/capabilities.js';
import { checkPreference } from '../core/check-preference.js';
import { loadConfig } from '../core/config.js';
import { UnsupportedOperationError } from '../core/errors.js';
import {
  filePlacementStore,
  placementDir,
  removePlacements,
} from '../core/file-placement-store.js';
import { demandOf, PlacementLedger } from '../core/placement-ledger.js';
import type { Machine } from '../core/provider.js';
import type { ProviderRegistry, ProviderStatus } from '../core/registry.js';
import { createRunContext, type RunContext } from '../core/run-context.js';
import { describeError } from './describe-error.js';
import { destroyQuietly, type Report } from './destroy-quietly.js';
import { formatDiscoverySummary } from './discovery-summary.js';
import { provisionSpec } from './provision-spec.js';
import { ProvisionerPool } from './provisioner-pool.js';
import { type RunGuard, reaperGuard } from './run-guard.js';
import type { RunMachineEntry, RunSnapshot } from './run-snapshot.js';
import { selectProvider } from './select-provider.js';
import type { ResolvedTestbedOptions } from './testbed-options.js';
import { toCandidates } from './to-candidates.js';
import { provisionTopology } from './topology.js';
import { checkMixedNetworks } from './topology-plan.js';

/** Inputs of `startRun`. */
export interface StartRunOptions {
  /** Validated options. */
  options: ResolvedTestbedOptions;
  /** Registry to discover and provision with. */
  registry: ProviderRegistry;
  /** Module path of the registry factory, handed on to test processes. */
  registryModule?: string | undefined;
  /** The run; default: a new one owned by this process. */
  run?: RunContext;
  /** Where the discovery summary and cleanup problems go. Default: console. */
  log?: Report;
  /** Environment for TESTBED_PROVIDERS and TESTBED_WARM. */
  env?: NodeJS.ProcessEnv;
  /** Aborts discovery and provisioning. */
  signal?: AbortSignal;
  /** Leak protection: sweep of dead runs and a watchdog. Default: the reaper's. */
  guard?: RunGuard;
}

/** A started run: the snapshot for test processes, and how to end it. */
export interface StartedRun {
  /** Plain data for test processes (`provide`, or the Jest run file). */
  snapshot: RunSnapshot;
  /** Run-scoped machines by name, owned by this process. */
  machines: ReadonlyMap<string, Machine>;
  /**
   * Destroys the run-scoped machines in reverse order, then stops the watchdog; after trying all,
   * throws if any failed (the watchdog then stays and removes them once this process exits).
   */
  stop(options?: { keepArtifacts?: boolean }): Promise<void>;
}

async function destroyAll(
  machines: readonly Pick<Machine, 'name' | 'destroy'>[],
  report: Report,
  keepArtifacts: boolean,
): Promise<Error[]> {
  const errors: Error[] = [];
  for (const machine of [...machines].reverse()) {
    const error = await destroyQuietly(machine, { keepArtifacts, report });
    if (error) errors.push(error);
  }
  return errors;
}

/** Removes every resource of `run` on each available provider; failures are reported and returned. */
async function removeRunEverywhere(
  registry: ProviderRegistry,
  statuses: readonly ProviderStatus[],
  run: RunContext,
  report: Report,
): Promise<Error[]> {
  const available = statuses.filter((s) => s.available).map((s) => s.provider.id);
  const results = await Promise.all(
    available.map(async (id) => {
      try {
        const removal = await registry.get(id)?.removeRun?.(run.runId);
        return (removal?.failed ?? []).map(
          (f) => new Error(`${id}: ${f.resource.name}: ${f.error}`),
        );
      } catch (error) {
        return [new Error(`${id}: ${describeError(error)}`)];
      }
    }),
  );
  const errors = results.flat();
  for (const error of errors)
    report(`testbed: could not remove what run ${run.runId} left: ${error.message}`);
  return errors;
}

/**
 * Discovers providers once, prints a summary, and provisions the run-scoped machines in
 * declaration order. An unmet machine is recorded with its reason (`onUnmet: 'skip'`) or fails
 * the run (`'fail'`); a provisioning failure destroys what was created and throws.
 */
export async function startRun(input: StartRunOptions): Promise<StartedRun> {
  const { options, registry, signal } = input;
  const log = input.log ?? ((line: string) => console.log(line));
  const run = input.run ?? createRunContext();
  const config = loadConfig(input.env ?? process.env);
  const preference = options.providers ?? config.providers;
  checkPreference(
    preference,
    registry.providers().map((p) => p.id),
    options.providers ? 'providers' : 'TESTBED_PROVIDERS',
  );
  const guard = input.guard ?? reaperGuard;
  const started = performance.now();
  const statuses = await registry.discover({ health: true, ...(signal ? { signal } : {}) });
  log(formatDiscoverySummary(statuses, Math.round(performance.now() - started)));
  const swept = await guard.sweep(registry, run).catch((error: unknown) => {
    return `testbed: sweeping dead runs failed: ${describeError(error)}`;
  });
  if (swept) log(swept);
  // Started before the first resource: test processes provision under this run too.
  const watchdog = await guard.watch(run, options.hosts);
  log(`testbed: run ${run.runId}${watchdog.logPath ? ` (watchdog log: ${watchdog.logPath})` : ''}`);
  const candidates = toCandidates(statuses);
  const pool = new ProvisionerPool(registry, run);
  // Shared with the test processes, which count their machines there too. Run-scoped machines
  // live as long as the run: what they take is given back only when the run's records go.
  const placement = new PlacementLedger(
    filePlacementStore(placementDir(config.stateDir, run.runId)),
  );
  // Standbys of what this project used last: restored while the run's machines boot and its
  // tests are collected, so even first tests lease running machines. This host's engines only.
  const standbyIds =
    (options.warm ?? config.warm)
      ? candidates
          .filter((c) => c.capabilities.some((k) => k.kind === 'WarmSnapshot'))
          .map((c) => c.id)
          .filter((id) => registry.get(id)?.host === undefined)
      : [];
  const prewarming = Promise.allSettled(
    standbyIds.map(async (id) => (await pool.get(id)).prewarm?.()),
  );
  const releaseStandbys = async () => {
    await prewarming;
    await Promise.allSettled(
      standbyIds.map(async (id) => (await pool.get(id)).releaseStandbys?.()),
    );
  };
  const created: Pick<Machine, 'name' | 'destroy'>[] = [];
  const machines = new Map<string, Machine>();
  const entries: Record<string, RunMachineEntry> = {};
  const networked = new Set(Object.values(options.networks).flat());
  const providerOf: Record<string, string> = {};
  const record = (name: string, needs: CapabilityString[], machine: Machine) => {
    machines.set(name, machine);
    entries[name] = { available: true, needs, descriptor: machine.describe() };
    log(`testbed: run machine '${name}' is ${machine.name} (${machine.providerId})`);
  };
  try {
    for (const declared of options.machines) {
      const needs = networked.has(declared.name)
        ? [...declared.needs, 'NetworkOverlay' as const]
        : declared.needs;
      const selected = selectProvider(candidates, parseNeeds(needs), preference, placement.state());
      if ('error' in selected) {
        if (options.onUnmet === 'fail') throw selected.error;
        entries[declared.name] = {
          available: false,
          needs: declared.needs,
          reason: selected.error.message,
        };
        log(`testbed: run machine '${declared.name}' is unavailable; tests using it are skipped.`);
        continue;
      }
      // Members of networks are provisioned together below, once every one is selected.
      if (networked.has(declared.name)) {
        providerOf[declared.name] = selected.providerId;
        continue;
      }
      const provisioner = await pool.get(selected.providerId);
      const spec = provisionSpec(declared.spec, options.timeoutMs, signal);
      placement.place(selected.providerId, demandOf(declared.spec));
      const machine = await provisioner.provision(spec);
      created.push(machine);
      record(declared.name, declared.needs, machine);
    }
    if (Object.keys(providerOf).length > 0) {
      const members = options.machines.filter((m) => m.name in providerOf);
      const declaration = {
        machines: Object.fromEntries(
          members.map((m) => [m.name, { needs: m.needs, spec: m.spec }]),
        ),
        // An unavailable member leaves its networks; the others still reach each other.
        networks: Object.fromEntries(
          Object.entries(options.networks).flatMap(([name, list]) => {
            const available = list.filter((m) => m in providerOf);
            return available.length > 0 ? [[name, available]] : [];
          }),
        ),
      };
      const mixed = checkMixedNetworks(
        declaration.networks,
        providerOf,
        (id) => candidates.find((c) => c.id === id)?.capabilities ?? [],
      );
      if (mixed) throw mixed;
      const topology = await provisionTopology(
        declaration,
        providerOf,
        {
          provision: async (id, spec, memberSignal) => {
            placement.place(id, demandOf(spec));
            return (await pool.get(id)).provision(
              provisionSpec(spec, options.timeoutMs, memberSignal),
            );
          },
          createNetwork: async (id, networkOptions) => {
            const provisioner = await pool.get(id);
            if (!provisioner.createNetwork) {
              throw new UnsupportedOperationError('networks (NetworkOverlay)', id);
            }
            return provisioner.createNetwork(networkOptions);
          },
        },
        { ...(signal ? { signal } : {}), report: log },
      );
      created.push(topology);
      for (const member of members) {
        const machine = topology.machines[member.name];
        if (machine) record(member.name, member.needs, machine);
      }
    }
  } catch (error) {
    removePlacements(config.stateDir, run.runId);
    await releaseStandbys();
    const cleanup = await destroyAll(created, log, false);
    if (cleanup.length === 0) await watchdog.stop();
    if (cleanup.length > 0) {
      throw new AggregateError(
        [error, ...cleanup],
        `testbed: run setup failed: ${describeError(error)}`,
      );
    }
    throw error;
  }
  return {
    snapshot: {
      run,
      candidates,
      preference,
      onUnmet: options.onUnmet,
      keepOnFailure: options.keepOnFailure,
      warm: options.warm ?? config.warm,
      timeoutMs: options.timeoutMs,
      registry: input.registryModule,
      // In declaration order, though networked members were provisioned after the others.
      machines: Object.fromEntries(
        options.machines.flatMap((m) => {
          const entry = entries[m.name];
          return entry ? [[m.name, entry] as const] : [];
        }),
      ),
      hosts: options.hosts,
    },
    machines,
    async stop(stopOptions = {}) {
      const keep = stopOptions.keepArtifacts ?? false;
      // Paused machines nobody leased: never worth keeping, even when failures are kept.
      await releaseStandbys();
      const errors = await destroyAll(created, log, keep);
      removePlacements(config.stateDir, run.runId);
      // Whatever test processes left (a crashed worker's machine, the run directory) goes too,
      // unless failed machines' artifacts are being kept for inspection.
      if (errors.length === 0 && !keep && !options.keepOnFailure) {
        errors.push(...(await removeRunEverywhere(registry, statuses, run, log)));
      }
      // With leftovers the watchdog stays: it removes them once this process exits.
      if (errors.length === 0) await watchdog.stop();
      if (errors.length > 0) {
        throw new AggregateError(
          errors,
          `testbed: ${errors.length} run machine(s) could not be destroyed`,
        );
      }
    },
  };
}
