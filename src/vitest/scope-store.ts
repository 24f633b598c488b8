import { describeError } from '../harness/describe-error.js';

type Entry = { value: Promise<unknown>; release: (value: never) => Promise<void> };

/**
 * What one file or worker holds for testbed: each value created once per key and released at the
 * scope's end, newest first. Vitest 3.2 shares a scoped fixture among every `test.extend` that
 * names it, so each `testbedTest` keeps its own values here under a key of its own.
 */
export class ScopeStore {
  readonly #entries = new Map<symbol, Entry>();

  /** The value under `key`, created by `create` on first use; a failed creation is not retried. */
  get<T>(key: symbol, create: () => Promise<T>, release: (value: T) => Promise<void>): Promise<T> {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { value: create(), release };
      // Tests awaiting it see the error; release skips it.
      entry.value.catch(() => {});
      this.#entries.set(key, entry);
    }
    return entry.value as Promise<T>;
  }

  /** Releases every value created, newest first; a failure is reported and the rest still run. */
  async releaseAll(report: (message: string) => void): Promise<void> {
    const entries = [...this.#entries.values()].reverse();
    this.#entries.clear();
    for (const { value, release } of entries) {
      let created: unknown;
      try {
        created = await value;
      } catch {
        continue;
      }
      try {
        await release(created as never);
      } catch (error) {
        report(`testbed: could not release a scoped resource: ${describeError(error)}`);
      }
    }
  }
}
