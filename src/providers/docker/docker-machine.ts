import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import type { VmType } from '../../core/capabilities.js';
import {
  AbortedError,
  FaultFailedError,
  InvalidSpecError,
  MachineGoneError,
  NoSuchCwdOrUserError,
} from '../../core/errors.js';
import {
  checkOptions,
  cloneOptionsSchema,
  execOptionsSchema,
  spawnOptionsSchema,
  transferOptionsSchema,
  writeFileOptionsSchema,
} from '../../core/option-schemas.js';
import type {
  CloneOptions,
  CommandOptions,
  Endpoint,
  ExecOptions,
  ExecResult,
  FaultOptions,
  Machine,
  MachineDescriptor,
  MachineProcess,
  TransferOptions,
  WaitStrategy,
  WaitUntilOptions,
  WriteFileOptions,
} from '../../core/provider.js';
import { extractToHost, packHostPath } from '../../files/host-tar.js';
import { readSingleFile, singleFileTar } from '../../files/single-file-tar.js';
import type { HostForward } from '../../ssh/host-link.js';
import { waitUntil } from '../../wait/wait-until.js';
import type { ContainerFaults, FaultTarget } from './container-faults.js';
import { getTar, putTar, type TransferTarget } from './container-files.js';
import { isNoSuchContainer, isNotRunning } from './docker-errors.js';
import { type ExecStream, startExec } from './exec-stream.js';
import type { LogConsole } from './log-console.js';
import { machinePort } from './machine-port.js';
import { runExec } from './run-exec.js';

/** Plain data describing a Docker machine (the `data` of its descriptor). */
export interface DockerMachineData {
  /** Container id. */
  containerId: string;
  /** Image the container runs. */
  image: string;
  /** Host port on 127.0.0.1 for each published container port (keys are guest ports). */
  ports: Record<string, number>;
  /** Image committed for this clone, removed with it; absent for machines that are not clones. */
  cloneImage?: string | undefined;
}

/** What a Docker machine needs from the provisioner that made it. */
export interface DockerMachineContext {
  /** The id of the provider that made it (`docker`, `docker@host2`). */
  providerId: string;
  /** Tunnels to its ports from a remote engine's host, closed with it. */
  forwards: readonly HostForward[];
  /** testcontainers' engine client. */
  client: ContainerRuntimeClient;
  /** Starts a clone from a committed image; the clone owns that image. */
  cloneFrom(
    source: DockerMachine,
    name: string | undefined,
    signal?: AbortSignal,
  ): Promise<DockerMachine>;
  /** Pauses, resumes, restarts, kills and starts containers (`PauseResume`, `PowerControl`). */
  faults: ContainerFaults;
  /** The log line that means the machine is ready, if it has one. */
  readyLog(machine: DockerMachine): string | RegExp | undefined;
}

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

/** The argv a command runs as: a string through `sh -c` (the image needs a shell), an array verbatim. */
function argvOf(command: string | readonly string[]): string[] {
  if (typeof command === 'string') return ['sh', '-c', command];
  if (command.length === 0) {
    throw new InvalidSpecError([{ path: 'command', message: 'must not be an empty array' }], {
      fix: "Name the program first, e.g. ['ls', '-l'], or pass a string for sh -c.",
    });
  }
  return [...command];
}

function shown(argv: readonly string[]): string {
  return `\`${argv.join(' ')}\``;
}

/** A container standing in for a machine: exec and spawn, files, ports, log console, clone through commit, idempotent destroy. */
export class DockerMachine implements Machine {
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

  /** The id of the provider that made it. */
  get providerId(): string {
    return this.context.providerId;
  }

  get #docker(): Dockerode {
    return this.context.client.container.dockerode;
  }

  get #target(): TransferTarget {
    return { docker: this.#docker, containerId: this.data.containerId, machine: this.name };
  }

  /** Runs `work` unless the machine was destroyed; the engine's "no such container" or "not running" become `MachineGoneError`. */
  async #guard<T>(operation: string, work: () => Promise<T>): Promise<T> {
    if (this.#destroying) throw new MachineGoneError(this.name, operation);
    try {
      return await work();
    } catch (error) {
      throw await this.#gone(error, operation);
    }
  }

  async #gone(error: unknown, operation: string): Promise<unknown> {
    if (isNoSuchContainer(error))
      return new MachineGoneError(this.name, operation, { cause: error });
    if (!isNotRunning(error)) return error;
    const paused = await this.#docker
      .getContainer(this.data.containerId)
      .inspect()
      .then((info) => info.State.Paused)
      .catch(() => false);
    if (paused) {
      return new FaultFailedError(this.name, operation, 'it is paused', {
        cause: error,
        fix: 'Call resume() first; a paused container runs nothing.',
      });
    }
    const state = await this.#docker
      .getContainer(this.data.containerId)
      .inspect()
      .then((info) => `its command exited with ${info.State.ExitCode}`)
      .catch(() => 'it is not running');
    return new MachineGoneError(this.name, operation, {
      cause: error,
      fix: `The container has stopped (${state}); commands need it running. Files can still be copied in and out.`,
    });
  }

  /** Host port on 127.0.0.1 that reaches `containerPort`. */
  port(containerPort: number): number {
    return this.endpoint(containerPort).port;
  }

  /** Where the published `guestPort` is reached: always on 127.0.0.1; `PortNotForwardedError` when it was not asked for. */
  endpoint(guestPort: number): Endpoint {
    return { host: '127.0.0.1', port: machinePort(this.name, this.data.ports, guestPort) };
  }

  /** `http://127.0.0.1:<host port><path>` for the published `guestPort` (or another protocol). */
  url(guestPort: number, path = '/', options: { protocol?: string } = {}): string {
    const { host, port } = this.endpoint(guestPort);
    const protocol = (options.protocol ?? 'http').replace(/:$/, '');
    return `${protocol}://${host}:${port}${path.startsWith('/') ? path : `/${path}`}`;
  }

  #start(argv: readonly string[], options: CommandOptions, what: string): ExecStream {
    return startExec(this.#docker, this.data.containerId, argv, {
      env: options.env,
      cwd: options.cwd,
      user: options.user,
      missing: (missing) =>
        new NoSuchCwdOrUserError(
          missing,
          (missing === 'cwd' ? options.cwd : options.user) ?? '',
          this.name,
          what,
        ),
    });
  }

  /**
   * Runs a command in the container to its end; stdin, stdout and stderr stream through the
   * engine, binary-safe and of any size. On timeout or abort its processes are killed (on an
   * engine of this host).
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
    checkOptions('exec()', execOptionsSchema, options);
    const argv = argvOf(command);
    return this.#guard(`exec ${shown(argv)}`, () =>
      runExec(
        () => this.#start(argv, options, `exec ${shown(argv)}`),
        `exec ${shown(argv)} in ${this.name}`,
        options,
      ),
    );
  }

  /** Starts a command and hands over its streams as they come; an abort kills it and `exited` rejects with `AbortedError`. */
  spawn(command: string | readonly string[], options: CommandOptions = {}): MachineProcess {
    checkOptions('spawn()', spawnOptionsSchema, options);
    const argv = argvOf(command);
    const operation = `spawn ${shown(argv)}`;
    if (this.#destroying) throw new MachineGoneError(this.name, operation);
    const { signal } = options;
    signal?.throwIfAborted();
    const process = this.#start(argv, options, operation);
    const onAbort = () => {
      process.kill().catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const exited = process.exited.then(
      (code) => {
        if (signal?.aborted) throw new AbortedError(`${operation} in ${this.name}`, signal.reason);
        return code;
      },
      async (error: unknown) => {
        throw await this.#gone(error, operation);
      },
    );
    exited.finally(() => signal?.removeEventListener('abort', onAbort)).catch(() => undefined);
    return {
      stdin: process.stdin,
      stdout: process.stdout,
      stderr: process.stderr,
      exited,
      kill: () => process.kill(),
    };
  }

  /** Copies a host file or directory to `guestPath` (which becomes that file or directory; parents created), running or stopped. */
  async copyTo(hostPath: string, guestPath: string, options: TransferOptions = {}): Promise<void> {
    checkOptions('copyTo()', transferOptionsSchema, options);
    await this.#guard(`copyTo ${guestPath}`, async () =>
      putTar(this.#target, await packHostPath(hostPath, guestPath), guestPath, 'copyTo', {
        ...options,
        hostPath,
      }),
    );
  }

  /** Copies a guest file or directory to `hostPath`, replacing what is there, running or stopped. */
  async copyFrom(
    guestPath: string,
    hostPath: string,
    options: TransferOptions = {},
  ): Promise<void> {
    checkOptions('copyFrom()', transferOptionsSchema, options);
    await this.#guard(`copyFrom ${guestPath}`, () =>
      getTar(this.#target, guestPath, 'copyFrom', options, (tar) => extractToHost(tar, hostPath)),
    );
  }

  /** Writes `data` to a guest file (mode default 0644), creating parent directories. */
  async writeFile(
    guestPath: string,
    data: string | Uint8Array,
    options: WriteFileOptions = {},
  ): Promise<void> {
    checkOptions('writeFile()', writeFileOptionsSchema, options);
    await this.#guard(`writeFile ${guestPath}`, () =>
      putTar(
        this.#target,
        singleFileTar(guestPath, data, options.mode),
        guestPath,
        'writeFile',
        options,
      ),
    );
  }

  /** Reads a guest file whole. */
  async readFile(guestPath: string, options: TransferOptions = {}): Promise<Buffer> {
    checkOptions('readFile()', transferOptionsSchema, options);
    return this.#guard(`readFile ${guestPath}`, () =>
      getTar(this.#target, guestPath, 'readFile', options, (tar) => readSingleFile(tar, guestPath)),
    );
  }

  /** A new container started from this one's filesystem as it is now (committed to a labelled image). */
  async clone(options: CloneOptions = {}): Promise<DockerMachine> {
    checkOptions('clone()', cloneOptionsSchema, options);
    return this.#guard('clone', () => this.context.cloneFrom(this, options.name, options.signal));
  }

  /** Freezes the container's processes (`docker pause`): it answers nothing until `resume()`; idempotent. */
  pause(options?: FaultOptions): Promise<void> {
    return this.#fault('pause()', (target) => this.context.faults.pause(target, options));
  }

  /** Thaws a paused container (`docker unpause`); idempotent. */
  resume(options?: FaultOptions): Promise<void> {
    return this.#fault('resume()', (target) => this.context.faults.resume(target, options));
  }

  /** Restarts the container (`docker restart`) and resolves once it is ready; published ports may change. */
  reboot(options?: FaultOptions): Promise<void> {
    return this.#fault('reboot()', (target) => this.context.faults.reboot(target, options));
  }

  /** Kills the container (SIGKILL); its filesystem stays for `start()`; idempotent. */
  crash(options?: FaultOptions): Promise<void> {
    return this.#fault('crash()', (target) => this.context.faults.crash(target, options));
  }

  /** Starts a crashed container again and resolves once it is ready; published ports may change; idempotent. */
  start(options?: FaultOptions): Promise<void> {
    return this.#fault('start()', (target) => this.context.faults.start(target, options));
  }

  async #fault(operation: string, work: (target: FaultTarget) => Promise<void>): Promise<void> {
    if (this.#destroying) throw new MachineGoneError(this.name, operation);
    await work({
      name: this.name,
      containerId: this.data.containerId,
      ports: this.data.ports,
      console: this.console,
      readyLog: this.context.readyLog(this),
    });
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
    await removeContainer(this.#docker, this.data.containerId);
    await Promise.all(this.context.forwards.map((forward) => forward.close()));
    if (this.data.cloneImage) await removeImage(this.#docker, this.data.cloneImage);
  }

  /** Resolves once every strategy holds; rejects with `WaitTimeoutError` and the console tail. */
  waitUntil(
    strategies: WaitStrategy | readonly WaitStrategy[],
    options?: WaitUntilOptions,
  ): Promise<void> {
    return this.#guard('waitUntil', () => waitUntil(this, strategies, options));
  }

  /** Same as `destroy()`, for `await using`. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.destroy();
  }
}
