import { readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { boundedFault } from '../../core/bounded-fault.js';
import { FaultFailedError } from '../../core/errors.js';
import type { FaultOptions } from '../../core/provider.js';
import { waitForSsh } from '../../ssh/wait-for-ssh.js';
import { waitForCloudInit } from './cloud-init-wait.js';
import { configureGuestNetwork } from './guest-network.js';
import type { LibvirtMachine, MachinePower } from './libvirt-machine.js';
import type { Virsh } from './virsh.js';

const STEP_MS = 30_000;
const BOOT_MS = 180_000;
const CONSOLE_POLL_MS = 200;
const GONE = /failed to get domain|domain not found|no domain with matching/i;

/** What libvirt says a domain is doing; `gone` once it was destroyed (a transient domain vanishes). */
type DomainState = 'running' | 'paused' | 'gone' | 'other';

function describe(error: unknown): string {
  const stderr = (error as { stderr?: unknown }).stderr;
  if (typeof stderr === 'string' && stderr.trim()) return stderr.trim();
  return error instanceof Error ? error.message : String(error);
}

/**
 * Pause, resume, reboot, crash and start of libvirt machines (`PauseResume`, `PowerControl`).
 * Operations on one machine run one after another, so a pause and a crash never interleave.
 */
export class LibvirtPowerControl implements MachinePower {
  readonly #queues = new WeakMap<LibvirtMachine, Promise<unknown>>();

  constructor(private readonly virsh: Virsh) {}

  /** `virsh suspend`: the vCPUs stop; QEMU still accepts forwarded connections, the guest answers none. */
  pause(machine: LibvirtMachine, options: FaultOptions = {}): Promise<void> {
    return this.#run(machine, 'pause()', STEP_MS, options, async (signal) => {
      const state = await this.#state(machine, signal);
      if (state === 'paused') return;
      if (state === 'gone') throw this.#stopped(machine, 'pause()');
      await this.#virsh(machine, 'pause()', ['suspend', machine.name], signal);
    });
  }

  /** `virsh resume`: the guest runs on where it stopped, connections included. */
  resume(machine: LibvirtMachine, options: FaultOptions = {}): Promise<void> {
    return this.#run(machine, 'resume()', STEP_MS, options, async (signal) => {
      const state = await this.#state(machine, signal);
      if (state === 'gone') throw this.#stopped(machine, 'resume()');
      if (state !== 'paused') return;
      await this.#virsh(machine, 'resume()', ['resume', machine.name], signal);
      machine.session.retire();
    });
  }

  /**
   * A guest `sync`, then `virsh reset`, then waits for readiness as at boot. A reset, not an
   * ACPI reboot: the tiny image's init ignores ACPI, and a reset leaves no moment where the old
   * boot still answers SSH and passes for the new one.
   */
  reboot(machine: LibvirtMachine, options: FaultOptions = {}): Promise<void> {
    return this.#run(machine, 'reboot()', BOOT_MS, options, async (signal) => {
      const state = await this.#state(machine, signal);
      if (state === 'gone') return this.#boot(machine, signal);
      if (state === 'paused')
        await this.#virsh(machine, 'reboot()', ['resume', machine.name], signal);
      // Best effort: a guest that cannot sync is rebooted all the same, as a reset button would.
      await machine.exec('sync', { timeoutMs: 10_000, signal }).catch(() => undefined);
      const offset = (await machine.console.read()).length;
      machine.session.disconnect();
      await this.#virsh(machine, 'reboot()', ['reset', machine.name], signal);
      await this.#waitUntilReady(machine, offset, signal);
    });
  }

  /**
   * Hard power-off (`virsh destroy`). The transient domain vanishes with it, so its live XML
   * (current disk layer, hot-plugged NICs, link states) is saved first for `start()`.
   */
  crash(machine: LibvirtMachine, options: FaultOptions = {}): Promise<void> {
    return this.#run(machine, 'crash()', STEP_MS, options, async (signal) => {
      if ((await this.#state(machine, signal)) === 'gone') return;
      const { stdout } = await this.#virsh(
        machine,
        'crash()',
        ['dumpxml', '--migratable', machine.name],
        signal,
      );
      const path = this.#xmlPath(machine);
      await writeFile(`${path}.tmp`, stdout);
      await rename(`${path}.tmp`, path);
      machine.session.disconnect();
      const result = await this.virsh.call(['destroy', machine.name], { reject: false, signal });
      if (result.exitCode !== 0 && !GONE.test(result.stderr)) {
        throw new FaultFailedError(machine.name, 'crash()', result.stderr.trim(), {
          fix: 'Run `npx testbed doctor` to check libvirtd; destroy() removes the machine whatever its state.',
        });
      }
    });
  }

  /** Re-creates a crashed domain from its saved XML (same disk, same forwarded ports) and waits until it is ready. */
  start(machine: LibvirtMachine, options: FaultOptions = {}): Promise<void> {
    return this.#run(machine, 'start()', BOOT_MS, options, async (signal) => {
      if ((await this.#state(machine, signal)) !== 'gone') return;
      await this.#boot(machine, signal);
    });
  }

  async #boot(machine: LibvirtMachine, signal: AbortSignal): Promise<void> {
    const path = this.#xmlPath(machine);
    const xml = await readFile(path, 'utf8').catch(() => '');
    // A stale XML would boot an older layer, which now backs a clone or snapshot: never write it.
    if (!xml.includes(`'${machine.state.disk}'`) && !xml.includes(`"${machine.state.disk}"`)) {
      throw new FaultFailedError(
        machine.name,
        'start()',
        `its saved domain XML (${path}) does not name its current disk ${machine.state.disk}`,
        {
          fix: 'Stop the machine with crash() (which saves its XML) before start(), or provision a new one.',
        },
      );
    }
    const offset = (await machine.console.read()).length;
    try {
      await this.virsh.call(['create', path], { timeoutMs: 60_000, signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new FaultFailedError(machine.name, 'start()', describe(error), {
        cause: error,
        fix: `A forwarded host port (SSH ${machine.ssh.port}, ${JSON.stringify(machine.state.ports)}) may have been taken meanwhile; free it, or provision a new machine.`,
      });
    }
    await this.#waitUntilReady(machine, offset, signal);
  }

  /** Readiness as at provision time, judged only on console output written after `offset`. */
  async #waitUntilReady(machine: LibvirtMachine, offset: number, signal: AbortSignal) {
    const { readyPattern, cloudInit } = machine.state.readiness;
    if (readyPattern !== null) {
      const regex =
        typeof readyPattern === 'string'
          ? new RegExp(readyPattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
          : new RegExp(readyPattern.source, readyPattern.flags.replace(/[gy]/g, ''));
      // The log is appended to across boots: the previous boot's ready line must not count.
      while (!regex.test((await machine.console.read()).slice(offset))) {
        await sleep(CONSOLE_POLL_MS, undefined, { signal });
      }
    }
    await waitForSsh(machine.ssh, { timeoutMs: BOOT_MS, signal });
    if (cloudInit) await waitForCloudInit(machine, BOOT_MS, signal);
    // Static addresses live in the running kernel only: a new boot needs them again.
    await configureGuestNetwork(machine, signal);
  }

  async #state(machine: LibvirtMachine, signal: AbortSignal): Promise<DomainState> {
    const result = await this.virsh.call(['domstate', machine.name], { reject: false, signal });
    if (result.exitCode !== 0) {
      if (GONE.test(result.stderr)) return 'gone';
      throw new FaultFailedError(machine.name, 'read its state', result.stderr.trim(), {
        fix: 'Run `npx testbed doctor` to check libvirtd.',
      });
    }
    const state = result.stdout.trim();
    return state === 'running' || state === 'paused' ? state : 'other';
  }

  async #virsh(
    machine: LibvirtMachine,
    operation: string,
    args: readonly string[],
    signal: AbortSignal,
  ) {
    try {
      return await this.virsh.call(args, { signal });
    } catch (error) {
      if (signal.aborted) throw error;
      throw new FaultFailedError(machine.name, operation, describe(error), {
        cause: error,
        fix: 'Run `npx testbed doctor` to check libvirtd; destroy() removes the machine whatever its state.',
      });
    }
  }

  #stopped(machine: LibvirtMachine, operation: string): FaultFailedError {
    return new FaultFailedError(machine.name, operation, 'it is powered off (crashed)', {
      fix: 'Call start() first: it boots the machine again from its disk.',
    });
  }

  #xmlPath(machine: LibvirtMachine): string {
    return join(machine.state.dir, 'domain.xml');
  }

  /** Queues `work` behind the machine's previous operation; the bound and the signal cover the wait too. */
  #run(
    machine: LibvirtMachine,
    operation: string,
    defaultTimeoutMs: number,
    options: FaultOptions,
    work: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    const previous = (this.#queues.get(machine) ?? Promise.resolve()).catch(() => undefined);
    const next = boundedFault(
      {
        operation: `${operation} on ${machine.name}`,
        defaultTimeoutMs,
        fix: `Raise timeoutMs, or read the console (machine.console.tail()) for why ${machine.name} is slow.`,
      },
      options,
      async (signal) => {
        await previous;
        signal.throwIfAborted();
        await work(signal);
      },
    );
    // A timed-out or aborted operation frees the queue at once: its virsh calls die with its signal.
    this.#queues.set(machine, next);
    return next;
  }
}
