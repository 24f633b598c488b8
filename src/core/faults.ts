import { UnsupportedOperationError } from './errors.js';
import type { FaultOptions, Machine, MachineNetwork } from './provider.js';

/** A fault a machine can be put through (`PauseResume`: pause, resume; `PowerControl`: reboot, crash, start). */
export type MachineFault = 'pause' | 'resume' | 'reboot' | 'crash' | 'start';

/** A fault on a machine's link to a network (`NetworkFaults`). */
export type LinkFault = 'disconnect' | 'connect';

const CAPABILITY: Record<MachineFault, string> = {
  pause: 'PauseResume',
  resume: 'PauseResume',
  reboot: 'PowerControl',
  crash: 'PowerControl',
  start: 'PowerControl',
};

/** Runs `fault` on any machine; `UnsupportedOperationError` when its provider does not offer it. */
export async function injectFault(
  machine: Machine,
  fault: MachineFault,
  options?: FaultOptions,
): Promise<void> {
  const operation = machine[fault];
  if (!operation) {
    throw new UnsupportedOperationError(`${fault}() on ${machine.name}`, machine.providerId, {
      fix: `Ask for needs: ['${CAPABILITY[fault]}'] so that a provider that offers it is chosen.`,
    });
  }
  return operation.call(machine, options);
}

/** Cuts or restores `machine`'s link to `network`; `UnsupportedOperationError` when its provider cannot. */
export async function injectLinkFault(
  network: MachineNetwork,
  fault: LinkFault,
  machine: Machine,
  options?: FaultOptions,
): Promise<void> {
  const operation = network[fault];
  if (!operation) {
    throw new UnsupportedOperationError(
      `network.${fault}(${machine.name}) on ${network.name}`,
      network.providerId,
      { fix: "Ask for needs: ['NetworkFaults'] so that a provider that offers it is chosen." },
    );
  }
  return operation.call(network, machine, options);
}
