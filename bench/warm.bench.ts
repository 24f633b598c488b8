import { createRunContext, LibvirtProvider, type Machine } from '../src/index.js';
import { type Measurement, measure } from './measure.js';

async function firstExec(machine: Machine): Promise<void> {
  const result = await machine.exec?.(['true']);
  if (result?.exitCode !== 0) throw new Error(`exec failed on ${machine.name}`);
}

/**
 * A fresh tiny VM per test, side by side: cold (`provision` → first successful exec) against warm
 * (`restore` of a memory snapshot → first successful exec), a snapshot's cost, three restores at
 * once, and what `destroy()` costs the caller that awaits it.
 */
export async function benchWarm(): Promise<Measurement[]> {
  const provider = new LibvirtProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  try {
    const template = await provisioner.provision({ memoryMiB: 256 }); // builds the tiny image on first use
    const destroys: number[] = [];
    const readyTimes = async (
      name: string,
      runs: number,
      start: () => Promise<Machine>,
    ): Promise<Measurement> => {
      // Only start → first exec is timed; each destroy is measured on its own.
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const machine = await start();
        await firstExec(machine);
        samples.push(performance.now() - started);
        const destroying = performance.now();
        await machine.destroy();
        destroys.push(performance.now() - destroying);
      }
      return { name, samples };
    };
    const cold = await readyTimes(
      'warm start: cold provision → first exec (tiny, 256 MiB)',
      5,
      () => provisioner.provision({ memoryMiB: 256 }),
    );
    let snapshot: Awaited<ReturnType<NonNullable<Machine['snapshot']>>> | undefined;
    const take = await measure(
      'warm start: snapshot({ memory: true }) of a running VM',
      1,
      async () => {
        snapshot = await template.snapshot?.({ memory: true });
      },
    );
    if (!snapshot) throw new Error('the libvirt provider must offer WarmSnapshot');
    const saved = snapshot;
    const warm = await readyTimes('warm start: restore → first exec', 10, () => saved.restore());
    const parallel: Measurement = {
      name: 'warm start: 3 restores at once → first exec in each',
      samples: [],
    };
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const machines = await Promise.all([saved.restore(), saved.restore(), saved.restore()]);
      await Promise.all(machines.map(firstExec));
      parallel.samples.push(performance.now() - started);
      await Promise.all(machines.map((m) => m.destroy()));
    }
    await saved.destroy();
    await template.destroy();
    return [
      cold,
      take,
      warm,
      parallel,
      { name: 'warm start: awaited destroy() of a VM', samples: destroys },
    ];
  } finally {
    await provider.removeRun?.(run.runId);
  }
}
