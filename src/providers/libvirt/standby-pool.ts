import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import type { RestoreOptions } from '../../core/provider.js';
import type { LibvirtMachine, LibvirtMachineState } from './libvirt-machine.js';
import { stateFromJson, stateToJson } from './machine-state-json.js';
import type { Virsh } from './virsh.js';
import { settleRestoredGuest } from './warm-snapshots.js';

/** What a pool needs: a plain restore from its template, a way to take over another's, and virsh. */
export interface StandbyPoolDeps {
  /**
   * Where standbys of this template are offered to every process of the run: one JSON file a
   * machine, taken by renaming it, so each standby goes to exactly one test.
   */
  dir: string;
  /** Restores a new machine from the template, settled and connected. */
  restore: () => Promise<LibvirtMachine>;
  /** Makes a machine of a state another process offered this process's own. */
  adopt: (state: LibvirtMachineState) => LibvirtMachine;
  virsh: Virsh;
  /** Standbys kept ready for the run (0: no pool). */
  size: number;
  /** Guest memory of one standby, MiB: a standby is made only while the host has room for it. */
  memoryMiB: number;
  /** Host memory free, bytes (injectable for tests). */
  freeMemory?: () => number;
}

/** Free memory a standby leaves the host beyond its own: boots and tests come first. */
const HEADROOM_BYTES = 1024 ** 3;
const LEASE_MS = 30_000;
const OFFER = '.json';
/** How often a lease looks for a standby another process is making. */
const OFFER_POLL_MS = 50;
/** `making-<pid>-<id>`: a standby being restored by that process. */
const MAKING = /^making-(\d+)-/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Restores made ahead of demand (the reference design's resource pooling). Each is restored,
 * settled, then paused (`virsh suspend`: no CPU while it waits) and offered in the run's standby
 * directory, so a test of any worker process can take it: Vitest runs each file in a process of
 * its own, and the standby a finished file leaves is the next file's first machine. A lease
 * resumes one and puts it right for its new user (clock, RNG, hostname), over the SSH connection
 * still open when this process made it, and starts the next standby in the background. Standbys
 * belong to the run: its end removes those left, with everything else of the run.
 */
export class StandbyPool {
  /** Standbys this process made, with their SSH connections open, by domain name. */
  readonly #own = new Map<string, LibvirtMachine>();
  readonly #making = new Set<Promise<void>>();
  /** Leases waiting for a standby being made: the next one restored goes straight to the first. */
  readonly #waiting: ((machine: LibvirtMachine | undefined) => void)[] = [];
  #filling: Promise<void> | undefined;
  #closed = false;

  constructor(private readonly deps: StandbyPoolDeps) {}

  /** Starts standbys until the run has `size` offered or being made here (and the host has room). */
  fill(): void {
    if (this.#closed || this.deps.size === 0) return;
    this.#filling ??= this.#fill().finally(() => {
      this.#filling = undefined;
    });
  }

  async #fill(): Promise<void> {
    const free = this.deps.freeMemory ?? freemem;
    // Counted across the run's processes: each restore made at once slows the others down.
    const { offered, othersMaking } = await this.#look();
    // One restore at a time per process: more at once only slow each other (and the tests) down.
    let wanted = Math.min(
      1 - this.#making.size,
      this.deps.size - offered - othersMaking - this.#making.size,
    );
    while (
      !this.#closed &&
      wanted > 0 &&
      free() > this.deps.memoryMiB * 1024 ** 2 + HEADROOM_BYTES
    ) {
      const making: Promise<void> = this.#make().then((made) => {
        this.#making.delete(making);
        // Offered, failed or handed over: the leases still waiting look again.
        for (const waiter of this.#waiting.splice(0)) waiter(undefined);
        // The next one, unless this one failed: then the next lease tries again.
        if (made) this.fill();
      });
      this.#making.add(making);
      wanted -= 1;
    }
  }

  /** Makes one standby; true unless it failed. */
  async #make(): Promise<boolean> {
    let machine: LibvirtMachine | undefined;
    const marker = join(this.deps.dir, `making-${process.pid}-${randomUUID().slice(0, 8)}`);
    try {
      await mkdir(this.deps.dir, { recursive: true });
      await writeFile(marker, '');
      machine = await this.deps.restore();
      const waiter = this.#waiting.shift();
      if (waiter) {
        waiter(machine);
        return true;
      }
      await this.deps.virsh.call(['suspend', machine.name], { timeoutMs: LEASE_MS });
      if (this.#closed) throw new Error('the pool closed');
      const offer = join(this.deps.dir, `${machine.name}${OFFER}`);
      await writeFile(`${offer}.new`, stateToJson(machine.state));
      this.#own.set(machine.name, machine);
      await rename(`${offer}.new`, offer);
      return true;
    } catch {
      // A standby is an optimisation: a lease without one restores directly.
      if (machine) {
        this.#own.delete(machine.name);
        await machine.destroy().catch(() => {});
      }
      return false;
    } finally {
      await rm(marker, { force: true });
    }
  }

  /** Standbys offered, and those other live processes of the run are making. */
  async #look(): Promise<{ offered: number; othersMaking: number }> {
    const names = await readdir(this.deps.dir).catch(() => [] as string[]);
    const othersMaking = names.filter((n) => {
      const pid = Number(MAKING.exec(n)?.[1]);
      return pid > 0 && pid !== process.pid && isAlive(pid);
    }).length;
    return { offered: names.filter((n) => n.endsWith(OFFER)).length, othersMaking };
  }

  async #offers(): Promise<string[]> {
    const names = await readdir(this.deps.dir).catch(() => []);
    return names.filter((n) => n.endsWith(OFFER)).map((n) => n.slice(0, -OFFER.length));
  }

  /** Takes one offered standby (this process's own first), or undefined if none is offered. */
  async #take(): Promise<LibvirtMachine | undefined> {
    const offers = await this.#offers();
    const mine = offers.filter((name) => this.#own.has(name));
    for (const name of [...mine, ...offers.filter((n) => !this.#own.has(n))]) {
      const offer = join(this.deps.dir, `${name}${OFFER}`);
      const taken = `${offer}.taken-${process.pid}`;
      try {
        await rename(offer, taken);
      } catch {
        continue; // another test took it first
      }
      try {
        const own = this.#own.get(name);
        this.#own.delete(name);
        return (
          own ?? this.deps.adopt(stateFromJson<LibvirtMachineState>(await readFile(taken, 'utf8')))
        );
      } finally {
        await rm(taken, { force: true });
      }
    }
    return undefined;
  }

  /**
   * A standby for a machine with `options`, ready for use; undefined when the options need a
   * restore of their own (a name, networks) or no standby could be had. One being made here is
   * waited for rather than restoring a second machine beside it.
   */
  async lease(options: RestoreOptions): Promise<LibvirtMachine | undefined> {
    if (this.#closed || options.name !== undefined || (options.networks?.length ?? 0) > 0) {
      return undefined;
    }
    const timeoutMs = options.timeoutMs ?? LEASE_MS;
    const signal = AbortSignal.any([
      AbortSignal.timeout(timeoutMs),
      ...(options.signal ? [options.signal] : []),
    ]);
    let machine: LibvirtMachine | undefined;
    let offered = false;
    for (;;) {
      machine = await this.#take();
      if (machine) offered = true;
      // Sooner than a restore of its own: one being made started before this lease asked.
      else if (this.#making.size > 0 && !signal.aborted) machine = await this.#await(signal);
      else if (!signal.aborted && (await this.#look()).othersMaking > 0) {
        await new Promise((resolve) => setTimeout(resolve, OFFER_POLL_MS));
        continue;
      }
      if (machine || this.#making.size === 0 || signal.aborted) break;
    }
    this.fill();
    if (!machine) return undefined;
    // Its restore gave it an identity of its own (machine-id, host key): only the clock, the RNG
    // and a hostname asked for need setting again.
    const settle = () =>
      settleRestoredGuest(machine, options.hostname, Date.now() + timeoutMs, signal, false);
    try {
      if (offered) {
        await this.deps.virsh.call(['resume', machine.name], { timeoutMs, signal });
        await settle();
      } else if (options.hostname) {
        // Just restored and settled: only the hostname asked for is still to set.
        await settle();
      }
      if (options.hostname) machine.state.hostname = options.hostname;
      return machine;
    } catch {
      await machine.destroy().catch(() => {});
      return undefined;
    }
  }

  /** The next standby this process restores, unless `signal` fires first. */
  #await(signal: AbortSignal): Promise<LibvirtMachine | undefined> {
    return new Promise((resolve) => {
      const waiter = (machine: LibvirtMachine | undefined) => {
        signal.removeEventListener('abort', onAbort);
        resolve(machine);
      };
      const onAbort = () => {
        const at = this.#waiting.indexOf(waiter);
        if (at !== -1) this.#waiting.splice(at, 1);
        resolve(undefined);
      };
      this.#waiting.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Stops making standbys and destroys every one still offered, this process's or another's. */
  async clear(): Promise<void> {
    await this.drain();
    for (let machine = await this.#take(); machine; machine = await this.#take()) {
      await machine.destroy().catch(() => {});
    }
    await rm(this.deps.dir, { recursive: true, force: true });
  }

  /**
   * Stops making standbys. Those offered stay for the run's other processes (its end removes
   * them); this process's connections to them close, so it can exit.
   */
  async drain(): Promise<void> {
    this.#closed = true;
    for (const waiter of this.#waiting.splice(0)) waiter(undefined);
    await this.#filling;
    await Promise.allSettled([...this.#making]);
    for (const machine of this.#own.values()) machine.session.close();
    this.#own.clear();
  }
}
