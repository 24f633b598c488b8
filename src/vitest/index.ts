export type { CapabilityString } from '../core/capabilities.js';
export type { FailureDiagnostics } from './failure-diagnostics.js';
export { collectDiagnostics, formatDiagnostics } from './failure-diagnostics.js';
export type { MachineWith } from './machine-with.js';
export type { RegistryFactory, RegistryFactoryOptions } from './registry-factory.js';
export { defineTestbedRegistry } from './registry-factory.js';
export type { RunMachineEntry, RunSnapshot } from './run-snapshot.js';
export type {
  DeclaredMachineSpec,
  MachineDeclaration,
  OnUnmet,
  ResolvedTestbedOptions,
  TestbedOptions,
} from './testbed-options.js';
export { parseTestbedOptions, testbedOptionsSchema } from './testbed-options.js';
export { DEFAULT_TIMEOUT_MS, testbed } from './testbed-plugin.js';
export { TestbedReporter } from './testbed-reporter.js';
export type { MachineScope, TestbedFixtures, TestbedTestOptions } from './testbed-test.js';
export { testbedTest } from './testbed-test.js';
