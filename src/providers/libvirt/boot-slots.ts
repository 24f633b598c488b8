import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, freemem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, TimeoutError } from '../../core/errors.js';
import {
  currentHost,
  isOwnerAlive,
  processStartTime,
  type RunOwner,
  shortId,
} from '../../core/run-context.js';
import type { Accelerator } from './accelerator-probe.js';

/** What decides how many VMs may boot at once on this host. */
export interface BootCapacityInput {
  /** CPUs of the host. */
  cores: number;
  /** Free memory of the host, in MiB. */
  freeMiB: number;
  /** Memory of the guest about to boot, in MiB. */
  memoryMiB: number;
  /** Virtual CPUs of that guest. */
  vcpus: number;
  /** `kvm` boots cost little CPU; under `tcg` each vCPU of a booting guest takes a host core. */
  accelerator: Accelerator;
}

/**
 * How many VMs may boot at once: under TCG one per core's worth of vCPUs (a booting guest keeps
 * its vCPU threads busy, and more boots than cores starve each other into timeouts); under KVM
 * two per core; never more than free memory holds, never fewer than one.
 */
export function bootCapacity(input: BootCapacityInput): number {
  const perCore = input.accelerator === 'kvm' ? 2 : 1;
  const byCpu = Math.floor((input.cores * perCore) / Math.max(1, input.vcpus));
  const byMemory = Math.floor((input.freeMiB * 0.8) / input.memoryMiB);
  return Math.max(1, Math.min(byCpu, byMemory));
}

/** The host's figures for `bootCapacity`. */
export function hostCapacityInput(): Pick<BootCapacityInput, 'cores' | 'freeMiB'> {
  return { cores: availableParallelism(), freeMiB: Math.floor(freemem() / 1024 / 1024) };
}

interface Ticket {
  file: string;
  owner: RunOwner;
  label: string;
}

/** A boot slot held until `release()`; `waitedMs` is the time spent queueing for it. */
export interface BootSlot {
  /** Time spent in the queue before the slot was granted. */
  readonly waitedMs: number;
  /** Gives the slot to the next in line; idempotent. */
  release(): Promise<void>;
}

const POLL_MS = 150;

/**
 * A first-come, first-served queue of VM boots shared by every process of this host (Vitest and
 * Jest workers, concurrent runs) through ticket files in one directory: a ticket is admitted
 * while fewer than `capacity` older tickets of live processes stand before it. Tickets of dead
 * processes are dropped, so a killed worker never blocks the queue.
 */
export class BootSlots {
  constructor(private readonly dir: string) {}

  /** Waits for a slot (bounded by `signal` and `queueTimeoutMs`), then holds it. */
  async acquire(
    label: string,
    capacity: number,
    options: { signal?: AbortSignal | undefined; queueTimeoutMs: number },
  ): Promise<BootSlot> {
    const started = Date.now();
    await mkdir(this.dir, { recursive: true, mode: 0o755 });
    const owner: RunOwner = {
      pid: process.pid,
      startTime: processStartTime(process.pid),
      host: currentHost(),
    };
    // Names sort by arrival: a fixed-width wall-clock time in microseconds (comparable across
    // processes, and never equal for two tickets of one process), then a random tie-breaker.
    const micros = Math.round((performance.timeOrigin + performance.now()) * 1000);
    const file = join(this.dir, `${String(micros).padStart(18, '0')}-${shortId(8)}.ticket`);
    // Written aside and renamed, so no process ever reads a half-written ticket.
    await writeFile(`${file}.tmp`, JSON.stringify({ owner, label }));
    await rename(`${file}.tmp`, file);
    const release = async () => {
      await rm(file, { force: true });
    };
    try {
      for (;;) {
        const ahead = await this.#ahead(file);
        if (ahead.length < capacity) return { waitedMs: Date.now() - started, release };
        if (options.signal?.aborted) {
          throw new AbortedError(`Waiting for a boot slot for ${label}`, options.signal.reason);
        }
        if (Date.now() - started >= options.queueTimeoutMs) {
          throw new TimeoutError(`Waiting for a boot slot for ${label}`, options.queueTimeoutMs, {
            fix: `${ahead.length} boots were ahead (${ahead.map((t) => t.label).join(', ')}); raise TESTBED_MAX_BOOTS if the host can carry more, or run fewer VM tests at once.`,
          });
        }
        await sleep(POLL_MS, undefined, { signal: options.signal }).catch(() => undefined);
      }
    } catch (error) {
      await release();
      throw error;
    }
  }

  /** Tickets of live processes older than `file`; removes those whose process is gone. */
  async #ahead(file: string): Promise<Ticket[]> {
    const names = (await readdir(this.dir)).filter((n) => n.endsWith('.ticket')).sort();
    const mine = names.indexOf(file.slice(this.dir.length + 1));
    const ahead: Ticket[] = [];
    for (const name of names.slice(0, mine === -1 ? names.length : mine)) {
      const path = join(this.dir, name);
      const ticket = await readFile(path, 'utf8')
        .then((text) => ({ file: path, ...(JSON.parse(text) as Omit<Ticket, 'file'>) }))
        .catch(() => undefined);
      // Gone meanwhile: its boot is over.
      if (!ticket) continue;
      if (ticket.owner.host === currentHost() && !isOwnerAlive(ticket.owner)) {
        await rm(path, { force: true });
        continue;
      }
      ahead.push(ticket);
    }
    return ahead;
  }
}
