import type Dockerode from 'dockerode';
import type { MachineNetwork } from '../../core/provider.js';

function isGone(error: unknown): boolean {
  return (error as { statusCode?: number }).statusCode === 404;
}

/** A user-defined internal Docker network: no egress; machines on it reach each other by alias. */
export class DockerNetwork implements MachineNetwork {
  readonly providerId = 'docker';
  #removing: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly id: string,
    private readonly docker: Dockerode,
  ) {}

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
