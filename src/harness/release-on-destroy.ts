import type { Machine } from '../core/provider.js';

/**
 * Calls `release` once `machine.destroy()` has run (resolved or not), and returns the machine.
 * Tests, the harness and `await using` all end a machine through `destroy`, so wrapping that
 * method is the one place every ending passes.
 */
export function releaseOnDestroy(machine: Machine, release: () => void): Machine {
  const destroy = machine.destroy.bind(machine);
  Object.defineProperty(machine, 'destroy', {
    configurable: true,
    writable: true,
    value: async (options?: { keepArtifacts?: boolean }) => {
      try {
        await destroy(options);
      } finally {
        release();
      }
    },
  });
  return machine;
}
