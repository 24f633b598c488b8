export type { MachineWith } from '../harness/machine-with.js';
export { defineTestbedRegistry } from '../harness/registry-factory.js';
export type { TestbedOptions } from '../harness/testbed-options.js';
export { parseNeedsPragma } from './parse-needs-pragma.js';
export { RUN_FILE_VARIABLE, readRunFile } from './run-file.js';
export type { MachineHandle, UseMachineOptions } from './use-machine.js';
export { useMachine } from './use-machine.js';
