import type { Machine } from '../core/provider.js';
import { destroyQuietly } from './destroy-quietly.js';

/**
 * Destroys machines in the background, so a test does not wait for its machine's teardown
 * (`virsh destroy` takes 1–2 s); `drain()` waits for them all at the end of the process's run.
 * A crash in between is covered by the run's watchdog.
 */
export class DestroyQueue {
  readonly #pending = new Set<Promise<void>>();
  readonly #failures: string[] = [];

  /** Starts destroying `machine` (or a topology) and returns at once; a failure is kept for `drain()`. */
  add(machine: Pick<Machine, 'name' | 'destroy'>): void {
    const done = destroyQuietly(machine, {
      report: (message) => this.#failures.push(message),
    }).then(() => {
      this.#pending.delete(done);
    });
    this.#pending.add(done);
  }

  /** Machines still being destroyed. */
  get size(): number {
    return this.#pending.size;
  }

  /** Waits for every destroy started so far; returns the failures' messages (and forgets them). */
  async drain(): Promise<string[]> {
    while (this.#pending.size > 0) await Promise.all([...this.#pending]);
    return this.#failures.splice(0);
  }
}
