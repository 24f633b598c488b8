import {
  type CapabilityInput,
  formatCapability,
  parseNeeds,
  type VmCapability,
  type VmType,
} from './capabilities.js';
import { checkPreference } from './check-preference.js';
import { DuplicateProviderError, NoMatchingProviderError } from './errors.js';
import { firstLine } from './first-line.js';
import type { ProviderCapacity, ProviderHealth, VmBackendProvider } from './provider.js';
import { type RankingCandidate, rankProviders } from './ranking.js';
import { withTimeout } from './with-timeout.js';

/** Options for a registry. */
export interface RegistryOptions {
  /** Upper bound for each provider's availability and health check, in ms. Default 5000. */
  timeoutMs?: number;
  /** Provider ids to use, best first; others are passed over. Default: all, in registration order. */
  preference?: readonly string[] | undefined;
}

/** What discovery found out about one provider. */
export interface ProviderStatus {
  /** The provider. */
  provider: VmBackendProvider;
  /** Its capabilities, parsed. */
  capabilities: VmCapability[];
  /** Result of `isAvailable()`, false when it threw or timed out. */
  available: boolean;
  /** Why it is unavailable or unhealthy. */
  reason?: string | undefined;
  /** Result of `checkHealth()` when it ran and resolved. */
  health?: ProviderHealth | undefined;
  /** Result of `capacity()` for a healthy provider that offers it, when it resolved in time. */
  capacity?: ProviderCapacity | undefined;
  /** Time the checks took, in ms. */
  durationMs: number;
}

/** The result of `findBest` with the reasoning behind it. */
export interface Selection {
  /** Needs as given, formatted. */
  needs: string[];
  /** The chosen provider, if any qualified. */
  best: VmBackendProvider | undefined;
  /** Qualified provider ids, best first. */
  ranked: string[];
  /** The error `findBest` throws when nothing qualified. */
  error: NoMatchingProviderError | undefined;
  /** Discovery results the decision was made on. */
  statuses: ProviderStatus[];
}

/** Holds providers and finds the ones that fit; every check runs in parallel and is bounded. */
export class ProviderRegistry {
  readonly #providers = new Map<string, VmBackendProvider>();
  readonly #timeoutMs: number;
  readonly #preference: readonly string[] | undefined;

  constructor(options: RegistryOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#preference = options.preference;
  }

  /** Adds a provider; a second provider with the same id throws `DuplicateProviderError`. */
  register(provider: VmBackendProvider): this {
    if (this.#providers.has(provider.id)) throw new DuplicateProviderError(provider.id);
    this.#providers.set(provider.id, provider);
    return this;
  }

  /** Registered providers, in registration order. */
  providers(): VmBackendProvider[] {
    return [...this.#providers.values()];
  }

  /** The registered provider with this id. */
  get(id: string): VmBackendProvider | undefined {
    return this.#providers.get(id);
  }

  /** Checks every provider in parallel: availability, then (with `health`) health of the available ones. */
  async discover(
    options: { health?: boolean; signal?: AbortSignal } = {},
  ): Promise<ProviderStatus[]> {
    return Promise.all(
      this.providers().map((p) => this.#status(p, options.health ?? false, options.signal)),
    );
  }

  async #status(
    provider: VmBackendProvider,
    health: boolean,
    signal: AbortSignal | undefined,
  ): Promise<ProviderStatus> {
    const started = performance.now();
    // Asked before any check: the first connection is what can make the answer change.
    const timeoutMs = Math.max(
      this.#timeoutMs,
      provider.checkTimeoutMs?.(this.#timeoutMs) ?? this.#timeoutMs,
    );
    const status: ProviderStatus = {
      provider,
      capabilities: provider.capabilities(),
      available: false,
      durationMs: 0,
    };
    try {
      await withTimeout(
        `${provider.id}: isAvailable()`,
        timeoutMs,
        async (s) => {
          status.available = await provider.isAvailable(s);
          if (!status.available) {
            const why = await provider.unavailableReason?.().catch(() => undefined);
            status.reason = why ?? 'not found on this host';
          }
        },
        signal,
      );
    } catch (error) {
      status.reason = firstLine(error);
    }
    if (status.available && health) {
      try {
        status.health = await withTimeout(
          `${provider.id}: checkHealth()`,
          timeoutMs,
          (s) => provider.checkHealth(s),
          signal,
        );
        if (!status.health.healthy)
          status.reason = status.health.warnings.join('; ') || 'unhealthy';
      } catch (error) {
        status.reason = `health check failed: ${firstLine(error)}`;
      }
    }
    // Capacity only ranks among equals: without an answer the provider is still usable.
    if (status.health?.healthy && provider.capacity) {
      const capacity = provider.capacity.bind(provider);
      status.capacity = await withTimeout(
        `${provider.id}: capacity()`,
        timeoutMs,
        (s) => capacity(s),
        signal,
      ).catch(() => undefined);
    }
    status.durationMs = Math.round(performance.now() - started);
    return status;
  }

  /** Providers whose availability check says yes, in registration order. */
  async findAvailable(signal?: AbortSignal): Promise<VmBackendProvider[]> {
    const statuses = await this.discover(signal ? { signal } : {});
    return statuses.filter((s) => s.available).map((s) => s.provider);
  }

  /** Available providers that offer `capability`. */
  async findByCapability(capability: CapabilityInput): Promise<VmBackendProvider[]> {
    const [need] = parseNeeds([capability]);
    const wanted = formatCapability(need as VmCapability);
    const available = await this.findAvailable();
    return available.filter((p) => p.capabilities().some((c) => formatCapability(c) === wanted));
  }

  /** Available providers that manage machines of `type`. */
  async findByVmType(type: VmType): Promise<VmBackendProvider[]> {
    return (await this.findAvailable()).filter((p) => p.vmType() === type);
  }

  /** Health of every available provider, checked in parallel: id -> health, or the error. */
  async healthCheck(signal?: AbortSignal): Promise<Map<string, ProviderHealth | Error>> {
    const statuses = await this.discover({ health: true, ...(signal ? { signal } : {}) });
    const result = new Map<string, ProviderHealth | Error>();
    for (const status of statuses) {
      if (status.health) result.set(status.provider.id, status.health);
      else result.set(status.provider.id, new Error(status.reason ?? 'unavailable'));
    }
    return result;
  }

  /** Ranks the providers for `needs` and explains the choice; never throws for a missing match. */
  async select(needs: readonly CapabilityInput[] = [], signal?: AbortSignal): Promise<Selection> {
    const parsed = parseNeeds(needs);
    checkPreference(this.#preference, [...this.#providers.keys()]);
    const statuses = await this.discover({ health: true, ...(signal ? { signal } : {}) });
    const candidates: RankingCandidate[] = statuses.map((s) => ({
      id: s.provider.id,
      capabilities: s.capabilities,
      available: s.available,
      healthy: s.health?.healthy ?? (s.available ? false : undefined),
      reason: s.reason,
      fix: s.provider.setupHint,
      capacity: s.capacity,
    }));
    const { ranked, mismatches } = rankProviders(candidates, parsed, this.#preference);
    const formatted = parsed.map(formatCapability);
    const first = ranked[0];
    return {
      needs: formatted,
      best: first ? this.#providers.get(first.id) : undefined,
      ranked: ranked.map((r) => r.id),
      error: first ? undefined : new NoMatchingProviderError(formatted, mismatches),
      statuses,
    };
  }

  /** The best available, healthy provider offering every need; throws `NoMatchingProviderError` otherwise. */
  async findBest(
    needs: readonly CapabilityInput[] = [],
    signal?: AbortSignal,
  ): Promise<VmBackendProvider> {
    const selection = await this.select(needs, signal);
    if (!selection.best) throw selection.error;
    return selection.best;
  }
}
