import { loadConfig, type TestbedConfig } from './core/config.js';
import type { HostEntry } from './core/hosts.js';
import { ProviderRegistry, type RegistryOptions } from './core/registry.js';
import { hostProviders } from './host-providers.js';
import { DockerProvider } from './providers/docker/index.js';
import { LibvirtProvider } from './providers/libvirt/index.js';

/** Options for `VmBackendRegistry.withDefaults`. */
export interface DefaultRegistryOptions extends RegistryOptions {
  /** Configuration; default: read from the environment. */
  config?: TestbedConfig;
  /** Environment the built-in providers read (DOCKER_HOST, ...); default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Engines beside the local ones (the `hosts` option); default: TESTBED_HOSTS. */
  hosts?: readonly HostEntry[] | undefined;
}

/** The provider registry, with `withDefaults()` registering testbed's built-in backends. */
export class VmBackendRegistry extends ProviderRegistry {
  /** A registry holding the built-in providers (libvirt, docker) and one per configured host, configured from the environment. */
  static withDefaults(options: DefaultRegistryOptions = {}): VmBackendRegistry {
    const env = options.env ?? process.env;
    const config = options.config ?? loadConfig(env);
    const libvirt = new LibvirtProvider({ config, env });
    const docker = new DockerProvider({ config, env });
    const registry = new VmBackendRegistry({
      timeoutMs: options.timeoutMs ?? config.timeoutMs,
      preference: options.preference ?? config.providers,
    })
      .register(libvirt)
      .register(docker);
    // Hosts: each configured engine beside the local ones is a provider of its own id.
    const hosts = options.hosts ?? config.hosts ?? [];
    const local = {
      libvirt: { provider: libvirt, uri: config.libvirtUri },
      docker: { provider: docker },
    };
    const source = options.hosts ? 'hosts' : 'TESTBED_HOSTS';
    for (const provider of hostProviders(hosts, local, env, source, config))
      registry.register(provider);
    return registry;
  }
}
