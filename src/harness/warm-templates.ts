import type { MachineSnapshot } from '../core/provider.js';
import { describeError } from './describe-error.js';
import type { Report } from './destroy-quietly.js';

type Entry = { label: string; snapshot: Promise<MachineSnapshot> };

/**
 * The warm templates of one test process: a memory snapshot per template key, made once by the
 * first test that needs it and shared with the tests asking while it is made (a promise cache).
 */
export class WarmTemplates {
  readonly #entries = new Map<string, Entry>();
  readonly #made: MachineSnapshot[] = [];

  /**
   * The snapshot under `key`; `make` runs only when there is none yet, and `created` says whether
   * this call started it. A failed template stays failed: every test needing it gets the error at
   * once instead of paying for another boot that fails the same way.
   */
  get(
    key: string,
    label: string,
    make: () => Promise<MachineSnapshot>,
  ): { snapshot: Promise<MachineSnapshot>; created: boolean } {
    const entry = this.#entries.get(key);
    if (entry) return { snapshot: entry.snapshot, created: false };
    const snapshot = make().then((made) => {
      this.#made.push(made);
      return made;
    });
    // Each test awaiting it sees the error; nothing else must report it as unhandled.
    snapshot.catch(() => {});
    this.#entries.set(key, { label, snapshot });
    return { snapshot, created: true };
  }

  /** Labels of the templates asked for so far, in order. */
  labels(): string[] {
    return [...this.#entries.values()].map((e) => e.label);
  }

  /**
   * Waits for templates still being made, then destroys every snapshot, newest first; a failure
   * is reported and returned, and the rest are still destroyed.
   */
  async destroyAll(report: Report): Promise<Error[]> {
    const pending = [...this.#entries.values()].map((e) => e.snapshot.catch(() => undefined));
    this.#entries.clear();
    await Promise.all(pending);
    const errors: Error[] = [];
    for (const snapshot of this.#made.splice(0).reverse()) {
      try {
        await snapshot.destroy();
      } catch (error) {
        report(`testbed: could not destroy warm template ${snapshot.id}: ${describeError(error)}`);
        errors.push(error instanceof Error ? error : new Error(String(error)));
      }
    }
    return errors;
  }
}
