import { loadConfig, type TestbedConfig } from './core/config.js';
import { ProviderRegistry, type RegistryOptions } from './core/registry.js';
import { DockerProvider } from './providers/docker/index.js';
import { LibvirtProvider } from './providers/libvirt/index.js';

/** Options for `VmBackendRegistry.withDefaults`. */
export interface DefaultRegistryOptions extends RegistryOptions {
  /** Configuration; default: read from the environment. */
  config?: TestbedConfig;
  /** Environment the built-in providers read (DOCKER_HOST, ...); default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The provider registry, with `withDefaults()` registering testbed's built-in backends. */
export class VmBackendRegistry extends ProviderRegistry {
  /** A registry holding the built-in providers (libvirt, docker), configured from the environment. */
  static withDefaults(options: DefaultRegistryOptions = {}): VmBackendRegistry {
    const env = options.env ?? process.env;
    const config = options.config ?? loadConfig(env);
    return new VmBackendRegistry({
      timeoutMs: options.timeoutMs ?? config.timeoutMs,
      preference: options.preference ?? config.providers,
    })
      .register(new LibvirtProvider({ config, env }))
      .register(new DockerProvider({ config, env }));
  }
}
