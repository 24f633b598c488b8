import type { PlacementState } from './placement.js';
import type { MachineSpec, Resources } from './provider.js';

/** What a machine takes from its host for placement: its spec's size, else libvirt's default guest (256 MiB, 1 vCPU). */
export function demandOf(spec: Pick<MachineSpec, 'memoryMiB' | 'vcpus'> = {}): Resources {
  return { memoryMiB: spec.memoryMiB ?? 256, vcpus: spec.vcpus ?? 1 };
}

/**
 * What one process has placed where, and which providers it found down: the live half of
 * placement, read by `rankProviders` through `state()`. In memory: it counts this process's
 * machines, not those of other workers.
 */
export class PlacementLedger {
  readonly #placed = new Map<string, Resources>();
  readonly #down = new Map<string, string>();

  /** Counts `demand` on `providerId` until the returned release is called (once; later calls do nothing). */
  place(providerId: string, demand: Resources): () => void {
    this.#add(providerId, demand, 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#add(providerId, demand, -1);
    };
  }

  /** Passes over `providerId` for the rest of this process: it failed as unreachable. */
  markDown(providerId: string, reason: string): void {
    this.#down.set(providerId, reason);
  }

  /** A plain copy for `rankProviders`. */
  state(): PlacementState {
    return {
      placed: Object.fromEntries([...this.#placed].map(([id, r]) => [id, { ...r }])),
      down: Object.fromEntries(this.#down),
    };
  }

  #add(providerId: string, demand: Resources, sign: 1 | -1): void {
    const now = this.#placed.get(providerId) ?? { memoryMiB: 0, vcpus: 0 };
    this.#placed.set(providerId, {
      memoryMiB: now.memoryMiB + sign * demand.memoryMiB,
      vcpus: now.vcpus + sign * demand.vcpus,
    });
  }
}
