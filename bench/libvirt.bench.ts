import { createRunContext, LibvirtProvider } from '../src/index.js';
import { type Measurement, measure } from './measure.js';

/** VM provision → SSH-ready under this host's accelerator, exec over SSH, clone, destroy. */
export async function benchLibvirt(): Promise<Measurement[]> {
  const provider = new LibvirtProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  try {
    const machine = await provisioner.provision(); // builds the tiny image on first use
    const { exec, clone } = machine;
    if (!exec || !clone) throw new Error('the libvirt provider must offer Exec and CloneVm');
    const rows = [
      await measure('libvirt: provision → SSH ready → destroy', 3, async () => {
        const vm = await provisioner.provision();
        await vm.destroy();
      }),
      await measure('libvirt: exec `true` over SSH', 10, () => exec.call(machine, ['true'])),
      await measure('libvirt: clone → SSH ready → destroy', 3, async () => {
        const copy = await clone.call(machine);
        await copy.destroy();
      }),
    ];
    await machine.destroy();
    return rows;
  } finally {
    await provider.removeRun?.(run.runId);
  }
}
