import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import { boundedFault } from '../../core/bounded-fault.js';
import { FaultFailedError } from '../../core/errors.js';
import type { FaultOptions } from '../../core/provider.js';
import type { LogConsole } from './log-console.js';

const STEP_MS = 30_000;
const BOOT_MS = 60_000;
/** `docker restart`'s grace before SIGKILL: testbed's tiny init exits on SIGTERM at once. */
const RESTART_GRACE_S = 2;
const POLL_MS = 100;

/** The container a fault is done to, and the handles to renew once it runs again. */
export interface FaultTarget {
  /** The machine's name, for errors. */
  name: string;
  /** Container id. */
  containerId: string;
  /** Published ports (keys are guest ports), updated in place after a start. */
  ports: Record<string, number>;
  /** The log console, which follows the log anew after a start. */
  console: LogConsole;
  /** A log line that means ready (the machine's `readyLog`), waited for again after a start. */
  readyLog: string | RegExp | undefined;
}

function failed(target: FaultTarget, operation: string, error: unknown): FaultFailedError {
  const reason = error instanceof Error ? error.message : String(error);
  return new FaultFailedError(target.name, operation, reason.trim(), {
    cause: error,
    fix: 'Run `npx testbed doctor` to check the Docker engine; destroy() removes the container whatever its state.',
  });
}

/**
 * Pause, resume, reboot, crash and start of Docker machines (`PauseResume`, `PowerControl`):
 * the engine's pause/unpause (cgroup freezer), restart, SIGKILL and start.
 */
export class ContainerFaults {
  constructor(private readonly client: ContainerRuntimeClient) {}

  get #docker(): Dockerode {
    return this.client.container.dockerode;
  }

  /** Freezes every process of the container; idempotent. */
  pause(target: FaultTarget, options: FaultOptions = {}): Promise<void> {
    return this.#bounded(target, 'pause()', STEP_MS, options, async () => {
      const state = await this.#state(target, 'pause()');
      if (state.Paused) return;
      if (!state.Running) throw this.#stopped(target, 'pause()');
      await this.#call(target, 'pause()', () => this.#container(target).pause());
    });
  }

  /** Thaws a paused container; idempotent. */
  resume(target: FaultTarget, options: FaultOptions = {}): Promise<void> {
    return this.#bounded(target, 'resume()', STEP_MS, options, async () => {
      const state = await this.#state(target, 'resume()');
      if (!state.Running) throw this.#stopped(target, 'resume()');
      if (!state.Paused) return;
      await this.#call(target, 'resume()', () => this.#container(target).unpause());
    });
  }

  /** `docker restart` (SIGTERM, SIGKILL after a short grace), then waits until it is ready again. */
  reboot(target: FaultTarget, options: FaultOptions = {}): Promise<void> {
    return this.#bounded(target, 'reboot()', BOOT_MS, options, async (signal) => {
      const state = await this.#state(target, 'reboot()');
      if (state.Paused)
        await this.#call(target, 'reboot()', () => this.#container(target).unpause());
      const offset = (await target.console.read()).length;
      const since = Date.now() / 1000;
      await this.#call(target, 'reboot()', () =>
        this.#container(target).restart({ t: RESTART_GRACE_S }),
      );
      await this.#cameBack(target, 'reboot()', offset, since, signal);
    });
  }

  /** SIGKILL to the container's init: no shutdown, the container stops; idempotent. */
  crash(target: FaultTarget, options: FaultOptions = {}): Promise<void> {
    return this.#bounded(target, 'crash()', STEP_MS, options, async (signal) => {
      const state = await this.#state(target, 'crash()');
      if (!state.Running) return;
      // The engine refuses to kill a frozen container.
      if (state.Paused)
        await this.#call(target, 'crash()', () => this.#container(target).unpause());
      await this.#call(target, 'crash()', () => this.#container(target).kill({ signal: 'KILL' }));
      while ((await this.#state(target, 'crash()')).Running) {
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        signal.throwIfAborted();
      }
    });
  }

  /** Starts a stopped container again (same filesystem) and waits until it is ready; idempotent. */
  start(target: FaultTarget, options: FaultOptions = {}): Promise<void> {
    return this.#bounded(target, 'start()', BOOT_MS, options, async (signal) => {
      if ((await this.#state(target, 'start()')).Running) return;
      const offset = (await target.console.read()).length;
      const since = Date.now() / 1000;
      await this.#call(target, 'start()', () => this.#container(target).start());
      await this.#cameBack(target, 'start()', offset, since, signal);
    });
  }

  /**
   * Renews what a stop broke: the published ports (the engine may choose new host ports for
   * ports published without a fixed one), the log stream, then waits for the ready line anew.
   */
  async #cameBack(
    target: FaultTarget,
    operation: string,
    offset: number,
    since: number,
    signal: AbortSignal,
  ): Promise<void> {
    const container = this.#container(target);
    await target.console.follow(() => this.client.container.logs(container, { since }));
    const info = await this.#call(target, operation, () => container.inspect());
    const published = info.NetworkSettings.Ports ?? {};
    for (const guest of Object.keys(target.ports)) {
      const bindings = published[`${guest}/tcp`] ?? [];
      const binding = bindings.find((b) => b.HostIp === '127.0.0.1') ?? bindings[0];
      if (binding) target.ports[guest] = Number(binding.HostPort);
    }
    const { readyLog } = target;
    if (readyLog === undefined) return;
    const regex =
      typeof readyLog === 'string'
        ? new RegExp(readyLog.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        : new RegExp(readyLog.source, readyLog.flags.replace(/[gy]/g, ''));
    // The kept log holds the previous start's ready line: only output after `offset` counts.
    while (!regex.test((await target.console.read()).slice(offset))) {
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      signal.throwIfAborted();
    }
  }

  #container(target: FaultTarget): Dockerode.Container {
    return this.#docker.getContainer(target.containerId);
  }

  async #state(target: FaultTarget, operation: string) {
    const info = await this.#call(target, operation, () => this.#container(target).inspect());
    return info.State;
  }

  async #call<T>(target: FaultTarget, operation: string, work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw failed(target, operation, error);
    }
  }

  #stopped(target: FaultTarget, operation: string): FaultFailedError {
    return new FaultFailedError(target.name, operation, 'the container is stopped (crashed)', {
      fix: 'Call start() first: it starts the container again with its filesystem.',
    });
  }

  #bounded(
    target: FaultTarget,
    operation: string,
    defaultTimeoutMs: number,
    options: FaultOptions,
    work: (signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    return boundedFault(
      {
        operation: `${operation} on ${target.name}`,
        defaultTimeoutMs,
        fix: `Raise timeoutMs, or read the log (machine.console.tail()) for why ${target.name} is slow.`,
      },
      options,
      work,
    );
  }
}
