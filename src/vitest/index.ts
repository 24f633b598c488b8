export type { CapabilityString } from '../core/capabilities.js';
export type { FailureDiagnostics } from '../harness/failure-diagnostics.js';
export { collectDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';
export type { MachineWith } from '../harness/machine-with.js';
export type { RegistryFactory, RegistryFactoryOptions } from '../harness/registry-factory.js';
export { defineTestbedRegistry } from '../harness/registry-factory.js';
export type { RunMachineEntry, RunSnapshot } from '../harness/run-snapshot.js';
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
export type { MachineScope, TestbedFixtures, TestbedTestOptions } from './testbed-test.js';
export { testbedTest } from './testbed-test.js';
