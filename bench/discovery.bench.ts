import { VmBackendRegistry } from '../src/index.js';
import { type Measurement, measure } from './measure.js';

/** Discovery on this host: availability alone, and availability + health of every provider. */
export async function benchDiscovery(): Promise<Measurement[]> {
  const registry = VmBackendRegistry.withDefaults();
  await registry.discover({ health: true }); // warm module loading and the accelerator probe cache
  return [
    await measure('discovery: availability (all providers)', 10, () => registry.discover()),
    await measure('discovery: availability + health', 5, () => registry.discover({ health: true })),
    await measure('findBest([Exec])', 5, () => registry.findBest(['Exec'])),
  ];
}
