import { MachineSource } from '../src/harness/machine-source.js';
import type { TopologyDeclaration } from '../src/harness/topology-plan.js';
import { type Measurement, measureInterleaved } from './measure.js';

const VM = { needs: ['VmType(FullVirt)', 'Exec'] } as const;
const CONTAINER = { needs: ['VmType(Container)', 'Exec'] } as const;

/**
 * A topology of two tiny VMs and a container on one network against its members alone, in the
 * same rounds: each timing is provision → every member answers an exec, destroy not included.
 * The goal is a topology within 1.3× its slowest member, since members are provisioned at once.
 */
export async function benchTopology(): Promise<Measurement[]> {
  const source = await MachineSource.create(undefined);
  try {
    const time = (declaration: TopologyDeclaration) => async () => {
      const selected = source.selectTopology(declaration);
      if ('error' in selected) throw selected.error;
      const topology = await source.provisionTopology(declaration, selected.providerOf);
      try {
        for (const machine of Object.values(topology.machines)) await machine.exec?.(['true']);
      } finally {
        source.destroyLater(topology);
      }
    };
    const vmAlone: TopologyDeclaration = { machines: { app: VM } };
    if ('error' in source.selectTopology(vmAlone)) return [];
    // One warm-up round builds images and fills caches.
    await time({ machines: { app: VM, db: CONTAINER } })();
    return await measureInterleaved(4, {
      'topology: one VM alone → exec': time(vmAlone),
      'topology: one container alone → exec': time({ machines: { db: CONTAINER } }),
      'topology: 2 VMs + 1 container on one network → exec on all': time({
        machines: { app: VM, web: VM, db: CONTAINER },
        networks: { lan: ['db', 'app', 'web'] },
      }),
    });
  } finally {
    await source.release();
  }
}
