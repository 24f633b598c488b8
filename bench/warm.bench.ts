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
    const timedDestroy = async (machine: Machine) => {
      const started = performance.now();
      await machine.destroy();
      destroys.push(performance.now() - started);
    };
    const cold = await measure(
      'warm start: cold provision → first exec (tiny, 256 MiB)',
      5,
      async () => {
        const machine = await provisioner.provision({ memoryMiB: 256 });
        await firstExec(machine);
        await timedDestroy(machine);
      },
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
    const warm = await measure('warm start: restore → first exec', 10, async () => {
      const machine = await saved.restore();
      await firstExec(machine);
      await timedDestroy(machine);
    });
    const parallel = await measure(
      'warm start: 3 restores at once → first exec in each',
      3,
      async () => {
        const machines = await Promise.all([saved.restore(), saved.restore(), saved.restore()]);
        await Promise.all(machines.map(firstExec));
        await Promise.all(machines.map((m) => m.destroy()));
      },
    );
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
