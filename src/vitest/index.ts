export type { FailureDiagnostics } from '../harness/failure-diagnostics.js';
export { collectDiagnostics, formatDiagnostics } from '../harness/failure-diagnostics.js';
export type { MachineStart } from '../harness/machine-start.js';
export type { MachineWith } from '../harness/machine-with.js';
export type { RunMachineEntry, RunSnapshot } from '../harness/run-snapshot.js';
export type { Topology, TopologyNetwork } from '../harness/topology.js';
export type { TopologyDeclaration, TopologyMember } from '../harness/topology-plan.js';
// Everything a config needs, which testbed/vitest/plugin offers without Vitest's runtime.
export * from './plugin.js';
export type {
  MachineScope,
  RunMachineOf,
  RunMachines,
  TestbedFixtures,
  TestbedTestOptions,
} from './testbed-test.js';
export { testbedTest } from './testbed-test.js';
export type { TopologyFixtures, TopologyTestOptions } from './topology-test.js';
