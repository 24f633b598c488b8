import { execa } from 'execa';
import { createRunContext, DockerProvider, Wait as Waits } from '../src/index.js';
import { SERVE_8080, withBigFile } from './deploy-fixtures.js';
import { type Measurement, measure, measureInterleaved } from './measure.js';

const Wait8080 = Waits.forHttp(8080, '/index.html');

/** Container ready-time through testbed vs the same GenericContainer start without testbed. */
export async function benchDocker(): Promise<Measurement[]> {
  const provider = new DockerProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  // The first provision builds the tiny image if needed and makes the Ryuk decision, which must
  // happen before testcontainers is loaded for the raw comparison.
  const machine = await provisioner.provision({ ports: [8080] });
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
      ...(await withBigFile((file) =>
        measureInterleaved(7, {
          'docker: copyTo 50 MiB': () => machine.copyTo(file, '/tmp/big.bin'),
          'docker: raw `docker cp` in 50 MiB': () =>
            execa('docker', ['cp', file, `${machine.data.containerId}:/tmp/big-cp.bin`]),
          'docker: copyFrom 50 MiB': () => machine.copyFrom('/tmp/big.bin', `${file}.back`),
          'docker: raw `docker cp` out 50 MiB': () =>
            execa('docker', ['cp', `${machine.data.containerId}:/tmp/big.bin`, `${file}.cp`]),
        }),
      )),
      await (async () => {
        await machine.exec(['sh', '-c', SERVE_8080]);
        await machine.waitUntil(Wait8080, { timeoutMs: 30_000 });
        return measure('docker: HTTP GET through endpoint()', 20, async () => {
          await (await fetch(machine.url(8080, '/index.html'))).text();
        });
      })(),
    ];
  } finally {
    await machine.destroy();
    await provider.removeRun?.(run.runId);
  }
}
