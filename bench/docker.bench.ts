import { createRunContext, DockerProvider } from '../src/index.js';
import { type Measurement, measure } from './measure.js';

/** Container ready-time through testbed vs the same GenericContainer start without testbed. */
export async function benchDocker(): Promise<Measurement[]> {
  const provider = new DockerProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  // The first provision builds the tiny image if needed and makes the Ryuk decision, which must
  // happen before testcontainers is loaded for the raw comparison.
  const machine = await provisioner.provision();
  const image = String(machine.describe().data.image ?? '');
  const { GenericContainer, Wait } = await import('testcontainers');
  try {
    return [
      await measure('docker: testbed provision → ready → destroy', 5, async () => {
        const other = await provisioner.provision();
        await other.destroy();
      }),
      await measure(`docker: raw GenericContainer start → ready → stop`, 5, async () => {
        const container = await new GenericContainer(image)
          .withWaitStrategy(Wait.forLogMessage(/testbed-ready/))
          .start();
        await container.stop();
      }),
      await measure('docker: exec `true`', 10, () => machine.exec(['true'])),
      await measure('docker: clone (commit + start) → destroy', 3, async () => {
        const clone = await machine.clone();
        await clone.destroy();
      }),
    ];
  } finally {
    await machine.destroy();
    await provider.removeRun?.(run.runId);
  }
}
