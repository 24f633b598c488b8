/** How a test's machine came to be; recorded in the test's `task.meta.testbedMachine`. */
export interface MachineStart {
  /** Provider that created the machine. */
  provider: string;
  /** The machine's backend-level name. */
  machine: string;
  /** `warm`: restored from a template's saved memory; `cold`: booted. */
  start: 'warm' | 'cold';
  /** The template it was restored from: provider and image, e.g. `libvirt tiny-vm`. */
  template?: string;
  /** True for the test whose request made the template (its wait includes the template's boot). */
  templateCreated?: boolean;
  /** Ms from asking for the machine to having it, files and waits included. */
  readyMs?: number;
  /** Ms the test's teardown waited for the machine (the destroy itself runs in the background). */
  teardownWaitMs?: number;
}
