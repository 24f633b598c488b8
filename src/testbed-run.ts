import type { CapabilityInput } from './core/capabilities.js';
import type { RemovalReport, VmBackendProvider, VmProvisioner } from './core/provider.js';
import type { ProviderRegistry } from './core/registry.js';
import { createRunContext, type RunContext } from './core/run-context.js';
import { startWatchdog, type Watchdog } from './reaper/start-watchdog.js';
import { VmBackendRegistry } from './registry.js';

/** Options of `TestbedRun.start`. */
export interface TestbedRunOptions {
  /** Providers to use. Default: `VmBackendRegistry.withDefaults()`. */
  registry?: ProviderRegistry;
  /** Start a watchdog that removes the run's machines if this process dies. Default true. */
  watchdog?: boolean;
}

/**
 * A run for the core API: everything its provisioners create is stamped with it, and `end()`
 * (or `await using`) removes all of it — machines, overlays, networks, the run directory — on
 * every provider it used. A watchdog removes the same if the process dies first.
 */
export class TestbedRun implements AsyncDisposable {
  readonly #provisioners = new Map<VmBackendProvider, Promise<VmProvisioner>>();
  #ending: Promise<RemovalReport[]> | undefined;

  private constructor(
    /** The run's identity, stamped on everything it creates. */
    readonly context: RunContext,
    /** The providers it provisions from. */
    readonly registry: ProviderRegistry,
    private readonly watchdog: Watchdog | undefined,
  ) {}

  /** Starts a run (and its watchdog). */
  static async start(options: TestbedRunOptions = {}): Promise<TestbedRun> {
    const registry = options.registry ?? VmBackendRegistry.withDefaults();
    const context = createRunContext();
    const watchdog = options.watchdog === false ? undefined : await startWatchdog(context);
    return new TestbedRun(context, registry, watchdog);
  }

  /** A provisioner bound to this run: of `provider`, or of the best provider for `needs`. */
  async provisioner(
    target: VmBackendProvider | readonly CapabilityInput[],
  ): Promise<VmProvisioner> {
    const provider = Array.isArray(target)
      ? await this.registry.findBest(target as readonly CapabilityInput[])
      : (target as VmBackendProvider);
    let provisioner = this.#provisioners.get(provider);
    if (!provisioner) {
      provisioner = provider.createProvisioner({ run: this.context });
      this.#provisioners.set(provider, provisioner);
    }
    return provisioner;
  }

  /** Removes everything the run created, on every provider it used, then stops the watchdog; idempotent. */
  end(): Promise<RemovalReport[]> {
    this.#ending ??= (async () => {
      const reports: RemovalReport[] = [];
      for (const provider of this.#provisioners.keys()) {
        const report = await provider.removeRun?.(this.context.runId);
        if (report) reports.push(report);
      }
      await this.watchdog?.stop();
      return reports;
    })();
    return this.#ending;
  }

  /** Same as `end()`, for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.end();
  }
}
