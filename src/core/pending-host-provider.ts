import type { VmCapability, VmType } from './capabilities.js';
import { ProviderUnavailableError } from './errors.js';
import type { HostEntry } from './hosts.js';
import type { ProviderHealth, VmBackendProvider, VmProvisioner } from './provider.js';

/** What a pending host provider says about itself. */
export interface PendingHostProviderOptions {
  /** The host entry it stands for. */
  entry: HostEntry;
  /** What is not built yet for this entry. */
  reason: string;
  /** What the user can do meanwhile. */
  fix: string;
  /** The capabilities the backend offers once built (so selection reports it as unavailable, not lacking). */
  capabilities: readonly VmCapability[];
  /** The kind of machine the backend manages. */
  vmType: VmType;
}

/**
 * A configured host whose kind of connection testbed cannot drive yet: listed, ranked and shown
 * in `doctor` under its own id, but never available and never contacted, so discovery of the
 * others is not slowed and nothing is provisioned on the wrong engine.
 */
export class PendingHostProvider implements VmBackendProvider {
  readonly id: string;
  readonly name: string;
  readonly setupHint: string;
  readonly #options: PendingHostProviderOptions;

  constructor(options: PendingHostProviderOptions) {
    this.#options = options;
    this.id = options.entry.providerId;
    this.name = `${options.entry.backend} at ${options.entry.uri}`;
    this.setupHint = options.fix;
  }

  /** The host entry behind this provider. */
  get entry(): HostEntry {
    return this.#options.entry;
  }

  /** The configured host: the entry's name and URI. */
  get host(): { name: string; uri: string } {
    return { name: this.#options.entry.name, uri: this.#options.entry.uri };
  }

  /** Always false: the connection this entry needs is not built. */
  async isAvailable(): Promise<boolean> {
    return false;
  }

  /** What is not built, naming the entry's URI. */
  async unavailableReason(): Promise<string> {
    return this.#options.reason;
  }

  /** The backend's capabilities, as it will offer them. */
  capabilities(): VmCapability[] {
    return this.#options.capabilities.map((c) => ({ ...c }));
  }

  /** The backend's kind of machine. */
  vmType(): VmType {
    return this.#options.vmType;
  }

  /** Unhealthy, with the reason; nothing is contacted. */
  async checkHealth(): Promise<ProviderHealth> {
    return {
      healthy: false,
      resources: { vmsAvailable: 0, vmsRunning: 0 },
      warnings: [this.#options.reason],
      details: { host: this.#options.entry.name, uri: this.#options.entry.uri },
    };
  }

  /** Throws `ProviderUnavailableError` with the reason and the fix. */
  async createProvisioner(): Promise<VmProvisioner> {
    throw new ProviderUnavailableError(this.id, this.#options.reason, { fix: this.#options.fix });
  }
}
