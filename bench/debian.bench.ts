import { createRunContext, ensureImage, LibvirtProvider } from '../src/index.js';
import type { Measurement } from './measure.js';
import { storedAndPooled } from './warm.bench.js';

/** debian-12 under this host's accelerator: provision → SSH ready, and → cloud-init done, at 512 MiB and 1 GiB. */
export async function benchDebian(): Promise<Measurement[]> {
  const provider = new LibvirtProvider();
  if (!(await provider.isAvailable())) return [];
  await ensureImage('debian-12');
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  const rows: Measurement[] = [];
  try {
    for (const memoryMiB of [512, 1024]) {
      const started = performance.now();
      const machine = await provisioner.provision({
        image: 'debian-12',
        memoryMiB,
        waitForCloudInit: false,
        timeoutMs: 600_000,
      });
      const sshReady = performance.now() - started;
      await machine.exec?.(['cloud-init', 'status', '--wait'], { timeoutMs: 600_000 });
      const cloudInitDone = performance.now() - started;
      rows.push({ name: `debian-12 ${memoryMiB} MiB: provision → SSH ready`, samples: [sshReady] });
      rows.push({
        name: `debian-12 ${memoryMiB} MiB: provision → cloud-init done`,
        samples: [cloudInitDone],
      });
      await machine.destroy();
    }
    rows.push(
      ...(await storedAndPooled({
        label: 'debian-12',
        spec: { image: 'debian-12' },
        runs: 5,
        refillMs: 8000,
      })),
    );
    return rows;
  } finally {
    await provider.removeRun?.(run.runId);
  }
}
