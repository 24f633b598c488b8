import type { HostEntry } from '../core/hosts.js';
import type { ProviderRegistry } from '../core/registry.js';
import { VmBackendRegistry } from '../registry.js';

/** Settings handed to a registry factory. */
export interface RegistryFactoryOptions {
  /** Provider ids to use, best first. */
  preference: string[] | undefined;
  /** Engines beside the local ones, from the `hosts` option; undefined leaves it to TESTBED_HOSTS. */
  hosts?: HostEntry[] | undefined;
}

/** Builds the registry testbed selects providers from; runs once in every test process. */
export type RegistryFactory = (
  options: RegistryFactoryOptions,
) => ProviderRegistry | Promise<ProviderRegistry>;

// A global slot, not a module variable: the module may be loaded twice (Vite's runner and Node).
const SLOT = Symbol.for('testbed.registryFactory');
type Slot = { [SLOT]?: RegistryFactory };

/**
 * Declares the registry to use instead of the built-in providers. Call it as the default export
 * of the module named by the `registry` option; loading that module registers the factory.
 */
export function defineTestbedRegistry(factory: RegistryFactory): RegistryFactory {
  (globalThis as Slot)[SLOT] = factory;
  return factory;
}

/** True once a module has called `defineTestbedRegistry` in this process. */
export function hasRegistryFactory(): boolean {
  return (globalThis as Slot)[SLOT] !== undefined;
}

/** The registry from the registered factory, or the built-in providers. */
export async function createRegistry(options: RegistryFactoryOptions): Promise<ProviderRegistry> {
  const factory = (globalThis as Slot)[SLOT];
  if (factory) return factory(options);
  return VmBackendRegistry.withDefaults({ preference: options.preference, hosts: options.hosts });
}
