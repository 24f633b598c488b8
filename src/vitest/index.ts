export type { FailureDiagnostics } from '../harness/failure-diagnostics.js';
export { collectDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';
export type { MachineWith } from '../harness/machine-with.js';
export type { RunMachineEntry, RunSnapshot } from '../harness/run-snapshot.js';
export type {
  CapabilityString,
  DeclaredMachineSpec,
  MachineDeclaration,
  OnUnmet,
  RegistryFactory,
  RegistryFactoryOptions,
  ResolvedTestbedOptions,
  TestbedOptions,
} from './plugin.js';
export {
  DEFAULT_TIMEOUT_MS,
  defineTestbedRegistry,
  parseTestbedOptions,
  TestbedReporter,
  testbed,
  testbedOptionsSchema,
} from './plugin.js';
export type { MachineScope, TestbedFixtures, TestbedTestOptions } from './testbed-test.js';
export { testbedTest } from './testbed-test.js';
