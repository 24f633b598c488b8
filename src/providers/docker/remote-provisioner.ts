import { isTestbedError } from '../../core/errors.js';
import type { MachineDescriptor, MachineSpec } from '../../core/provider.js';
import { DockerMachine } from './docker-machine.js';
import { type EngineHost, engineFailure } from './engine-gone.js';
import { DockerProvisioner, type DockerProvisionerOptions } from './provisioner.js';

/** Options for `RemoteDockerProvisioner`: the local ones, plus the host and how to ping its engine. */
export interface RemoteDockerProvisionerOptions extends DockerProvisionerOptions {
  /** The host, as errors name it. */
  host: EngineHost;
  /** Asks the engine whether it still answers. */
  ping: () => Promise<unknown>;
  /** Bound on that ping, in ms. */
  pingTimeoutMs: number;
}

/**
 * A `DockerProvisioner` on another host's engine: a provision that fails because that engine has
 * stopped answering is a `HostUnreachableError` naming the host, as a dead libvirtd's is, and so
 * is a machine's operation that fails on a dropped connection (otherwise a bare "socket hang up").
 */
export class RemoteDockerProvisioner extends DockerProvisioner {
  readonly #remote: RemoteDockerProvisionerOptions;

  constructor(options: RemoteDockerProvisionerOptions) {
    super(options);
    this.#remote = options;
  }

  /** Starts a container there; see `DockerProvisioner.provision`. */
  override async provision(spec?: MachineSpec): Promise<DockerMachine> {
    try {
      return this.#guarded(await super.provision(spec));
    } catch (error) {
      throw await this.#diagnosed(error);
    }
  }

  /** A handle to a container there another process provisioned; see `DockerProvisioner.attach`. */
  override async attach(descriptor: MachineDescriptor): Promise<DockerMachine> {
    return this.#guarded(await super.attach(descriptor));
  }

  #diagnosed(error: unknown): Promise<unknown> {
    const { ping, host, pingTimeoutMs } = this.#remote;
    return engineFailure(error, ping, host, pingTimeoutMs);
  }

  /**
   * `machine`, whose asynchronous operations diagnose their failures; testbed's own errors (a
   * timeout, a failed command) are passed on without asking the engine.
   */
  #guarded(machine: DockerMachine): DockerMachine {
    return new Proxy(machine, {
      get: (target, key) => {
        // The target as receiver: its getters and methods read private fields.
        const value: unknown = Reflect.get(target, key, target);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          const result: unknown = value.apply(target, args);
          if (!(result instanceof Promise)) return result;
          return result.then(
            (settled: unknown) =>
              settled instanceof DockerMachine ? this.#guarded(settled) : settled,
            async (error: unknown) => {
              throw isTestbedError(error) ? error : await this.#diagnosed(error);
            },
          );
        };
      },
    });
  }
}
