import type { FailureDiagnostics } from '../harness/failure-diagnostics.js';
import type { MachineStart } from '../harness/machine-start.js';
import type { RunSnapshot } from '../harness/run-snapshot.js';
import type { ResolvedTestbedOptions } from '../harness/testbed-options.js';

/** The key under which the run snapshot is provided to test processes. */
export const SNAPSHOT_KEY = 'testbed';
/** The key under which the plugin hands its options to the global setup. */
export const OPTIONS_KEY = 'testbedOptions';

declare module 'vitest' {
  interface ProvidedContext {
    /** The run: discovery results and run-scoped machines (provided by testbed's global setup). */
    testbed: RunSnapshot;
    /** The plugin's validated options (read by testbed's global setup). */
    testbedOptions: ResolvedTestbedOptions;
  }
  interface TaskMeta {
    /** Machines a failed test used: provider, name, console tail, artifacts. */
    testbed?: FailureDiagnostics[];
    /** How the test's own (test-scoped) machine started: warm restore or cold boot, and timings. */
    testbedMachine?: MachineStart;
  }
}
