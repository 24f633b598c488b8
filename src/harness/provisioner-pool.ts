import { ProviderUnavailableError } from '../core/errors.js';
import type { VmProvisioner } from '../core/provider.js';
import type { ProviderRegistry } from '../core/registry.js';
import type { RunContext } from '../core/run-context.js';

/** One provisioner per provider for a run, created on first use. */
export class ProvisionerPool {
  readonly #provisioners = new Map<string, Promise<VmProvisioner>>();

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly run: RunContext,
  ) {}

  /** The provisioner of `providerId`, bound to this run. */
  get(providerId: string): Promise<VmProvisioner> {
    let provisioner = this.#provisioners.get(providerId);
    if (!provisioner) {
      const provider = this.registry.get(providerId);
      if (!provider) {
        return Promise.reject(
          new ProviderUnavailableError(providerId, 'it is not registered in this test process', {
            fix: 'Register the same providers in every process: use the `registry` option of testbed().',
          }),
        );
      }
      provisioner = provider.createProvisioner({ run: this.run });
      // A failed creation is not cached, so a later test may try again.
      provisioner.catch(() => this.#provisioners.delete(providerId));
      this.#provisioners.set(providerId, provisioner);
    }
    return provisioner;
  }
}
