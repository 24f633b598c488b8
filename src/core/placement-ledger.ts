import type { PlacementState } from './placement.js';
import type { MachineSpec, Resources } from './provider.js';

/** What a machine takes from its host for placement: its spec's size, else libvirt's default guest (256 MiB, 1 vCPU). */
export function demandOf(spec: Pick<MachineSpec, 'memoryMiB' | 'vcpus'> = {}): Resources {
  return { memoryMiB: spec.memoryMiB ?? 256, vcpus: spec.vcpus ?? 1 };
}

/** Where placements are counted: this process's memory, or files every process of the run shares. */
export interface PlacementStore {
  /** Counts `demand` on `providerId` until the returned release is called. */
  add(providerId: string, demand: Resources): () => void;
  /** The resources placed on each provider and not yet released, by id. */
  read(): Record<string, Resources>;
  /** Records that `providerId` failed as unreachable, for every process sharing the store. */
  markDown?(providerId: string, reason: string): void;
  /** The providers some process of the run found down, with the reason. */
  down?(): Record<string, string>;
}

/** A store in this process's memory. */
export function memoryPlacementStore(): PlacementStore {
  const placed = new Map<string, Resources>();
  const add = (providerId: string, demand: Resources, sign: 1 | -1) => {
    const now = placed.get(providerId) ?? { memoryMiB: 0, vcpus: 0 };
    placed.set(providerId, {
      memoryMiB: now.memoryMiB + sign * demand.memoryMiB,
      vcpus: now.vcpus + sign * demand.vcpus,
    });
  };
  return {
    add(providerId, demand) {
      add(providerId, demand, 1);
      return () => add(providerId, demand, -1);
    },
    read: () => Object.fromEntries([...placed].map(([id, r]) => [id, { ...r }])),
  };
}

/**
 * What has been placed where, and which providers were found down: the live half of placement,
 * read by `rankProviders` through `state()`. With a shared store (`filePlacementStore`) it counts
 * the machines of every process of the run, and a host one process found down is down for all.
 */
export class PlacementLedger {
  readonly #down = new Map<string, string>();

  constructor(readonly store: PlacementStore = memoryPlacementStore()) {}

  /** Counts `demand` on `providerId` until the returned release is called (once; later calls do nothing). */
  place(providerId: string, demand: Resources): () => void {
    const release = this.store.add(providerId, demand);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      release();
    };
  }

  /** Passes over `providerId` for the rest of the run (every process sharing the store): it failed as unreachable. */
  markDown(providerId: string, reason: string): void {
    this.#down.set(providerId, reason);
    this.store.markDown?.(providerId, reason);
  }

  /** A plain copy for `rankProviders`. */
  state(): PlacementState {
    return {
      placed: this.store.read(),
      down: { ...this.store.down?.(), ...Object.fromEntries(this.#down) },
    };
  }
}
