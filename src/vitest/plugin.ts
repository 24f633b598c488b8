// The config side of testbed's Vitest integration, free of Vitest's runtime: Vitest 3.2 refuses
// its runtime in a config, so configs there import from `testbed/vitest/plugin`.
export type { CapabilityString } from '../core/capabilities.js';
export type { RegistryFactory, RegistryFactoryOptions } from '../harness/registry-factory.js';
export { defineTestbedRegistry } from '../harness/registry-factory.js';
export type {
  DeclaredMachineSpec,
  MachineDeclaration,
  OnUnmet,
  ResolvedTestbedOptions,
  TestbedOptions,
} from '../harness/testbed-options.js';
export { parseTestbedOptions, testbedOptionsSchema } from '../harness/testbed-options.js';
export { DEFAULT_TIMEOUT_MS, testbed } from './testbed-plugin.js';
export { TestbedReporter } from './testbed-reporter.js';
