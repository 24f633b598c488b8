import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import type { VmType } from '../../core/capabilities.js';
import type {
  ExecOptions,
  ExecResult,
  Machine,
  MachineDescriptor,
  WaitStrategy,
  WaitUntilOptions,
} from '../../core/provider.js';
import { withTimeout } from '../../core/with-timeout.js';
import { waitUntil } from '../../wait/wait-until.js';
import { containerExec } from './container-exec.js';
import type { LogConsole } from './log-console.js';

/** Plain data describing a Docker machine (the `data` of its descriptor). */
export interface DockerMachineData {
  /** Container id. */
  containerId: string;
  /** Image the container runs. */
  image: string;
  /** Host port on 127.0.0.1 for each published container port. */
  ports: Record<string, number>;
  /** Image committed for this clone, removed with it; absent for machines that are not clones. */
  cloneImage?: string | undefined;
}

/** What a Docker machine needs from the provisioner that made it. */
export interface DockerMachineContext {
  /** testcontainers' engine client. */
  client: ContainerRuntimeClient;
  /** Starts a clone from a committed image; the clone owns that image. */
  cloneFrom(
    source: DockerMachine,
    name: string | undefined,
    signal?: AbortSignal,
  ): Promise<DockerMachine>;
}

const DEFAULT_EXEC_TIMEOUT_MS = 120_000;

function isGone(error: unknown): boolean {
  const status = (error as { statusCode?: number }).statusCode;
  const text = String((error as Error).message ?? error);
  return status === 404 || /no such|removal of container .* is already in progress/i.test(text);
}

/** Removes a container (running or not) with its anonymous volumes; a container already gone is fine. */
export async function removeContainer(docker: Dockerode, id: string): Promise<void> {
  try {
    await docker.getContainer(id).remove({ force: true, v: true });
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/** Removes an image; an image already gone is fine. */
export async function removeImage(docker: Dockerode, ref: string): Promise<void> {
  try {
    await docker.getImage(ref).remove({ noprune: false });
  } catch (error) {
    if (!isGone(error)) throw error;
  }
}

/** A container standing in for a machine: exec, log console, clone through commit, idempotent destroy. */
export class DockerMachine implements Machine {
  readonly providerId = 'docker';
  readonly vmType: VmType = 'Container';
  #destroying: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly data: DockerMachineData,
    readonly console: LogConsole,
    /** False for handles rebuilt with `attach`: they never remove the container. */
    readonly owned: boolean,
    private readonly context: DockerMachineContext,
  ) {}

  /** Host port on 127.0.0.1 that reaches `containerPort`. */
  port(containerPort: number): number {
    const port = this.data.ports[String(containerPort)];
    if (port === undefined) {
      throw new RangeError(
        `Port ${containerPort} of ${this.name} is not published; pass ports: [${containerPort}] to provision().`,
      );
    }
    return port;
  }

  /**
   * Runs a command in the container; a string runs through `sh -c` (the image needs a shell). On
   * timeout or abort the command's processes are killed (on an engine of this host).
   */
  exec(
    command: string | readonly string[],
    options: ExecOptions & { encoding: 'buffer' },
  ): Promise<ExecResult<Uint8Array>>;
  exec(command: string | readonly string[], options?: ExecOptions): Promise<ExecResult>;
  async exec(
    command: string | readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult<string | Uint8Array>> {
    const argv = typeof command === 'string' ? ['sh', '-c', command] : [...command];
    // Docker's exec API gives testcontainers no stdin, so input travels in an env var to a shell.
    const withInput =
      options.input === undefined
        ? { argv, env: undefined }
        : {
            argv: ['sh', '-c', 'printf %s "$TESTBED_STDIN" | "$@"', 'sh', ...argv],
            env: { TESTBED_STDIN: String(options.input) },
          };
    const result = await withTimeout(
      `exec ${JSON.stringify(argv.join(' '))} in ${this.name}`,
      options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS,
      (signal) =>
        containerExec(
          this.context.client.container.dockerode,
          this.data.containerId,
          withInput.argv,
          {
            env: withInput.env,
            signal,
          },
        ),
      options.signal,
    );
    return result;
  }

  /** A new container started from this one's filesystem as it is now (committed to a labelled image). */
  clone(options: { name?: string; signal?: AbortSignal } = {}): Promise<DockerMachine> {
    return this.context.cloneFrom(this, options.name, options.signal);
  }

  /** Plain data from which `attach` rebuilds a handle in another process. */
  describe(): MachineDescriptor {
    return {
      providerId: this.providerId,
      name: this.name,
      vmType: this.vmType,
      data: { ...this.data, ports: { ...this.data.ports } },
    };
  }

  /** Removes the container, then the image committed for it; idempotent and safe to call concurrently. */
  destroy(): Promise<void> {
    this.#destroying ??= this.#destroy().catch((error: unknown) => {
      // A failed removal may be retried by a later call.
      this.#destroying = undefined;
      throw error;
    });
    return this.#destroying;
  }

  async #destroy(): Promise<void> {
    this.console.close();
    if (!this.owned) return;
    const docker = this.context.client.container.dockerode;
    await removeContainer(docker, this.data.containerId);
    if (this.data.cloneImage) await removeImage(docker, this.data.cloneImage);
  }

  /** Resolves once every strategy holds; rejects with `WaitTimeoutError` and the console tail. */
  waitUntil(
    strategies: WaitStrategy | readonly WaitStrategy[],
    options?: WaitUntilOptions,
  ): Promise<void> {
    return waitUntil(this, strategies, options);
  }

  /** Same as `destroy()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
