export type { MachineWith } from '../vitest/machine-with.js';
export { defineTestbedRegistry } from '../vitest/registry-factory.js';
export type { TestbedOptions } from '../vitest/testbed-options.js';
export { parseNeedsPragma } from './parse-needs-pragma.js';
export { RUN_FILE_VARIABLE, readRunFile } from './run-file.js';
export type { MachineHandle, UseMachineOptions } from './use-machine.js';
export { useMachine } from './use-machine.js';
