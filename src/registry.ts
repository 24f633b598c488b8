import { loadConfig, type TestbedConfig } from './core/config.js';
import { ProviderRegistry, type RegistryOptions } from './core/registry.js';

/** Options for `VmBackendRegistry.withDefaults`. */
export interface DefaultRegistryOptions extends RegistryOptions {
  /** Configuration; default: read from the environment. */
  config?: TestbedConfig;
}

/** The provider registry, with `withDefaults()` registering testbed's built-in backends. */
export class VmBackendRegistry extends ProviderRegistry {
  /** A registry holding the built-in providers, configured from the environment (TESTBED_*). */
  static withDefaults(options: DefaultRegistryOptions = {}): VmBackendRegistry {
    const config = options.config ?? loadConfig();
    return new VmBackendRegistry({
      timeoutMs: options.timeoutMs ?? config.timeoutMs,
      preference: options.preference ?? config.providers,
    });
  }
}
