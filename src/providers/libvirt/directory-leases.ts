import { rm } from 'node:fs/promises';

/**
 * Counts the machines and snapshots that still need a directory: a clone's disk is backed by a
 * layer in its source's directory, so that directory goes only when its last user is gone.
 */
export class DirectoryLeases {
  readonly #holders = new Map<string, number>();

  /** Records one more user of each directory. */
  acquire(dirs: readonly string[]): void {
    for (const dir of dirs) this.#holders.set(dir, (this.#holders.get(dir) ?? 0) + 1);
  }

  /** Drops one user of each directory and removes those nobody uses any more (unless kept). */
  async release(dirs: readonly string[], keep: ReadonlySet<string> = new Set()): Promise<void> {
    for (const dir of dirs) {
      const left = (this.#holders.get(dir) ?? 1) - 1;
      if (left > 0) {
        this.#holders.set(dir, left);
        continue;
      }
      this.#holders.delete(dir);
      if (!keep.has(dir)) await rm(dir, { recursive: true, force: true });
    }
  }
}
