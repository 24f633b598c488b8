import { appendFile, readFile, rm, stat } from 'node:fs/promises';
import type { HostPool } from './host-pool.js';

/** Fewer downloads than the console's local polling: each is a round trip to the host. */
const MIN_INTERVAL_MS = 300;

/**
 * Keeps a local copy of a serial log that QEMU writes into a volume on a remote host: each sync
 * downloads what was added since the last one (`vol-download --offset`) and appends it, so the
 * console reads a local file as it does for a local machine, and a kept log survives the host.
 */
export class VolumeLogMirror {
  #syncing: Promise<void> | undefined;
  #last = 0;

  constructor(
    private readonly pool: HostPool,
    private readonly volume: string,
    private readonly local: string,
  ) {}

  /** Brings the local copy up to date (at most one download at a time, none within 300 ms of the last); never throws. */
  sync(): Promise<void> {
    if (this.#syncing) return this.#syncing;
    if (Date.now() - this.#last < MIN_INTERVAL_MS) return Promise.resolve();
    this.#syncing = this.#sync().finally(() => {
      this.#last = Date.now();
      this.#syncing = undefined;
    });
    return this.#syncing;
  }

  async #sync(): Promise<void> {
    const part = `${this.local}.part`;
    try {
      const offset = (await stat(this.local).catch(() => undefined))?.size ?? 0;
      await this.pool.download(this.volume, part, offset);
      const added = await readFile(part);
      if (added.length > 0) await appendFile(this.local, added);
    } catch {
      // A host that stopped answering (or a volume already removed) leaves the copy as it was.
    } finally {
      await rm(part, { force: true });
    }
  }
}
