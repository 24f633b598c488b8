import type Dockerode from 'dockerode';
import { boundedFault } from '../../core/bounded-fault.js';
import {
  FaultFailedError,
  NotOnNetworkError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import type { FaultOptions, Machine, MachineNetwork } from '../../core/provider.js';

/** What a container had on the network, restored on reconnect. */
interface Endpoint {
  aliases: string[];
  /** The static address it was given, if any (without one, Docker picks another on reconnect). */
  address?: string | undefined;
}

function isGone(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

/** A user-defined internal Docker network: no egress; machines on it reach each other by alias. */
export class DockerNetwork implements MachineNetwork {
  readonly providerId = 'docker';
  #removing: Promise<void> | undefined;
  /** Endpoint settings (aliases, static address) of the containers `disconnect` took off, for `connect`. */
  readonly #cut = new Map<string, Endpoint>();

  constructor(
    readonly name: string,
    readonly id: string,
    private readonly docker: Dockerode,
    readonly subnet?: string,
  ) {}

  /** Takes `machine` off the network (the engine's network disconnect): it keeps its other networks; idempotent. */
  disconnect(machine: Machine, options: FaultOptions = {}): Promise<void> {
    return this.#link(machine, 'disconnect', options, async (containerId, endpoint) => {
      if (endpoint === undefined) {
        if (this.#cut.has(containerId)) return;
        throw new NotOnNetworkError(machine.name, this.name);
      }
      await this.docker.getNetwork(this.id).disconnect({ Container: containerId, Force: true });
      this.#cut.set(containerId, endpoint);
    });
  }

  /** Puts a machine `disconnect` took off back on the network, with the aliases and address it had; idempotent. */
  connect(machine: Machine, options: FaultOptions = {}): Promise<void> {
    return this.#link(machine, 'connect', options, async (containerId, endpoint) => {
      if (endpoint !== undefined) return;
      const kept = this.#cut.get(containerId);
      if (!kept) throw new NotOnNetworkError(machine.name, this.name);
      await this.docker.getNetwork(this.id).connect({
        Container: containerId,
        EndpointConfig: {
          Aliases: kept.aliases,
          ...(kept.address ? { IPAMConfig: { IPv4Address: kept.address } } : {}),
        },
      });
      this.#cut.delete(containerId);
    });
  }

  /** Runs a link change bounded, given the container and its aliases here (undefined when not attached now). */
  async #link(
    machine: Machine,
    fault: 'disconnect' | 'connect',
    options: FaultOptions,
    work: (containerId: string, endpoint: Endpoint | undefined) => Promise<void>,
  ): Promise<void> {
    const operation = `network.${fault}()`;
    const containerId = machine.describe().data.containerId;
    if (machine.providerId !== 'docker' || typeof containerId !== 'string') {
      throw new UnsupportedOperationError(
        `${operation} of ${machine.providerId} machine ${machine.name} on Docker network ${this.name}`,
        'docker',
        { fix: 'Cut links of machines on networks of their own provider.' },
      );
    }
    await boundedFault(
      {
        operation: `${operation} of ${machine.name} on ${this.name}`,
        defaultTimeoutMs: 30_000,
        fix: 'Raise timeoutMs, or run `npx testbed doctor` to check the Docker engine.',
      },
      options,
      async () => {
        try {
          const info = await this.docker.getContainer(containerId).inspect();
          const endpoint = info.NetworkSettings.Networks[this.name];
          await work(
            containerId,
            endpoint
              ? {
                  aliases: endpoint.Aliases ?? [],
                  address: endpoint.IPAMConfig?.IPv4Address || undefined,
                }
              : undefined,
          );
        } catch (error) {
          if (error instanceof NotOnNetworkError) throw error;
          throw new FaultFailedError(
            machine.name,
            operation,
            String((error as Error).message ?? error),
            {
              cause: error,
              fix: 'Run `npx testbed doctor` to check the Docker engine; a destroyed machine has no link to cut.',
            },
          );
        }
      },
    );
  }

  /** Removes the network (destroy its machines first); idempotent. */
  destroy(): Promise<void> {
    this.#removing ??= this.docker
      .getNetwork(this.id)
      .remove()
      .catch((error: unknown) => {
        if (isGone(error)) return;
        this.#removing = undefined;
        throw error;
      });
    return this.#removing;
  }

  /** Same as `destroy()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
