import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRuntimeClient, WaitStrategy } from 'testcontainers';
import {
  AbortedError,
  isTestbedError,
  ProvisionError,
  SubnetTakenError,
  type TestbedErrorCode,
  TimeoutError,
  UnsupportedOperationError,
} from '../../core/errors.js';
import { firstLine } from '../../core/first-line.js';
import type {
  MachineDescriptor,
  MachineSpec,
  NetworkOptions,
  VmProvisioner,
} from '../../core/provider.js';
import { type RunContext, shortId } from '../../core/run-context.js';
import { withTimeout } from '../../core/with-timeout.js';
import type { HostForward } from '../../ssh/host-link.js';
import { endedLogTail, exitCodeOf } from './container-exit.js';
import { ContainerFaults } from './container-faults.js';
import {
  DockerMachine,
  type DockerMachineData,
  removeContainer,
  removeImage,
} from './docker-machine.js';
import { DockerNetwork } from './docker-network.js';
import { type EngineContainer, startOnEngine } from './engine-container.js';
import { ensureImagePresent } from './image-presence.js';
import { LABELS, runLabels } from './labels.js';
import type { TestcontainersModule } from './load-testcontainers.js';
import { LogConsole } from './log-console.js';
import { loopbackContainerClass, type StartTracker } from './loopback-container.js';
import { LoopbackPortWaitStrategy } from './loopback-port-wait-strategy.js';
import { preparedImage } from './prepared-image.js';
import { type DockerSpec, parseDockerSpec } from './spec.js';
import { putFileSpecs } from './spec-files.js';

/** The image a machine runs when the spec names none, and the log line that says it is ready. */
export interface DefaultImage {
  /** Image reference, e.g. `testbed/tiny:<recipe-hash>`. */
  image: string;
  /** Readiness line its default command prints. */
  readyLog?: string | RegExp | undefined;
}

/** What the Docker provisioner is built from. */
export interface DockerProvisionerOptions {
  /** The loaded testcontainers module. */
  tc: TestcontainersModule;
  /** testcontainers' engine client. */
  client: ContainerRuntimeClient;
  /** The run that owns everything created. */
  run: RunContext;
  /** Resolves (builds if needed) the default image. */
  defaultImage: () => Promise<DefaultImage>;
  /** Bound on provisioning when the spec gives none, in ms. Default 60 000. */
  defaultTimeoutMs?: number;
  /** The provider's id, stamped on machines and checked on attach; default `docker`. */
  providerId?: string;
  /**
   * An engine testcontainers does not serve (a remote host's): containers start through its API
   * and their ports, published on that host's loopback, are forwarded to the runner's.
   */
  engine?: {
    forward(remotePort: number, localPort?: number): Promise<HostForward>;
  };
}

const NETWORK_TIMEOUT_MS = 30_000;
const COMMIT_TIMEOUT_MS = 120_000;
/** At most this much of the provisioning time is kept back from `waitFor` for the wait's own error. */
const WAIT_MARGIN_MS = 1000;
/** How long a container with no readiness check must keep running before it counts as started. */
const EXIT_GRACE_MS = 200;
/** Errors that already say what went wrong and what to do: not wrapped in `ProvisionError`. */
const PASSED_THROUGH: TestbedErrorCode[] = [
  'TESTBED_IMAGE_NOT_FOUND',
  'TESTBED_WAIT_TIMEOUT',
  'TESTBED_PORT_NOT_FORWARDED',
  'TESTBED_FILE_TRANSFER_FAILED',
];

/** What one start carries besides the spec. */
interface StartContext {
  name: string;
  cloneImage: string | undefined;
  tracker: StartTracker;
  onLogs: (stream: Readable) => void;
  console: LogConsole;
  /** When provisioning gives up, ms since the epoch. */
  deadline: number;
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (reason: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Starts containers through testcontainers, stamped with the run's labels; nothing is left behind on failure. */
export class DockerProvisioner implements VmProvisioner {
  readonly #specs = new WeakMap<DockerMachine, DockerSpec>();
  readonly #run: RunContext;
  readonly #faults: ContainerFaults;
  readonly #providerId: string;

  constructor(private readonly options: DockerProvisionerOptions) {
    this.#run = options.run;
    this.#providerId = options.providerId ?? 'docker';
    this.#faults = new ContainerFaults(options.client);
  }

  get #docker() {
    return this.options.client.container.dockerode;
  }

  /** Starts a container from `spec` (validated; every problem reported at once) and waits until it is ready. */
  async provision(spec?: MachineSpec): Promise<DockerMachine> {
    const parsed = parseDockerSpec(spec);
    const { prepare, ...rest } = parsed;
    if (!prepare) return this.#start(parsed, undefined);
    // The steps run once per base image and content, in an image later machines start from.
    const fallback = parsed.image ? undefined : await this.options.defaultImage();
    const base = parsed.image ?? (fallback as DefaultImage).image;
    const { tc, client } = this.options;
    await ensureImagePresent(tc, client, base, 30_000, parsed.signal);
    const image = await preparedImage(
      {
        docker: this.#docker,
        lockDir: tmpdir(),
        start: (s) => this.#start(s, undefined),
        commit: (machine, repo, tag, labels) =>
          withTimeout(`committing ${machine.name}`, COMMIT_TIMEOUT_MS, () =>
            client.container.commit(client.container.getById(machine.data.containerId), {
              repo,
              tag,
              pause: true,
              changes: `LABEL ${Object.entries(labels)
                .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
                .join(' ')}`,
            }),
          ).then(() => undefined),
      },
      { ...parsed, prepare },
      base,
      parsed.signal,
    );
    const ownCommand = parsed.command !== undefined || parsed.entrypoint !== undefined;
    const readyLog = parsed.readyLog ?? (ownCommand ? undefined : fallback?.readyLog);
    return this.#start({ ...rest, image, ...(readyLog ? { readyLog } : {}) }, undefined);
  }

  async #start(spec: DockerSpec, cloneImage: string | undefined): Promise<DockerMachine> {
    const timeoutMs = spec.timeoutMs ?? this.options.defaultTimeoutMs ?? 60_000;
    const name = `testbed-${this.#run.runId}-${spec.name ?? 'c'}-${shortId(4)}`;
    const tracker: StartTracker = { cancelled: false };
    const logs = deferred<Readable>();
    const console = new LogConsole(() => logs.promise, name);
    const deadline = Date.now() + timeoutMs;
    try {
      return await withTimeout(
        `provisioning ${name}`,
        timeoutMs,
        (signal) =>
          this.#startContainer(
            spec,
            { name, cloneImage, tracker, onLogs: logs.resolve, console, deadline },
            signal,
          ),
        spec.signal,
      );
    } catch (error) {
      tracker.cancelled = true;
      logs.reject(error);
      const exited = tracker.containerId
        ? await exitCodeOf(this.#docker, tracker.containerId)
        : undefined;
      // The followed log may not have caught up with a container that has ended; the engine has it all.
      const tail = await withTimeout('reading the log', 1000, () =>
        exited !== undefined && tracker.containerId
          ? endedLogTail(this.#docker, tracker.containerId, 20)
          : console.tail(20),
      ).catch(() => '');
      console.close();
      if (tracker.containerId) {
        await removeContainer(this.#docker, tracker.containerId).catch(() => undefined);
      }
      if (spec.signal?.aborted && error === spec.signal.reason) {
        // The harness aborts with its own TimeoutError before the test framework's timeout.
        if (error instanceof TimeoutError) throw error;
        throw new AbortedError(`Provisioning ${name}`, error);
      }
      const lastLines = tail ? `\n  Last log lines:\n    ${tail.split('\n').join('\n    ')}` : '';
      if (exited !== undefined) {
        throw new ProvisionError(
          `Container ${name} (image ${spec.image ?? 'default'}): its command exited with code ${exited} before the machine was ready.${lastLines}`,
          {
            cause: error,
            fix: 'A machine lives as long as its command: give it a long-running command (e.g. a server, or `sleep infinity` after the setup).',
          },
        );
      }
      if (PASSED_THROUGH.some((code) => isTestbedError(error, code))) throw error;
      if (isTestbedError(error, 'TESTBED_TIMEOUT')) {
        const ports = (spec.ports ?? []).map((p) => p.guest);
        const byPorts = spec.readyLog === undefined && ports.length > 0;
        const waited = byPorts
          ? ` (waiting for port${ports.length > 1 ? 's' : ''} ${ports.join(', ')} to listen inside the container and answer on 127.0.0.1)`
          : spec.readyLog === undefined
            ? ''
            : ` (waiting for the log line ${spec.readyLog})`;
        throw new TimeoutError(`provisioning ${name}${waited}`, timeoutMs, {
          cause: error,
          fix: byPorts
            ? `Check that the server listens on all interfaces inside the container (0.0.0.0:${ports[0]}, not 127.0.0.1 only), give a readyLog to wait for instead, or raise timeoutMs.${lastLines}`
            : `Raise timeoutMs, or check that readyLog matches what the image prints.${lastLines}`,
        });
      }
      throw new ProvisionError(
        `Container ${name} (image ${spec.image ?? 'default'}) did not start: ${firstLine(error)}${lastLines}`,
        {
          cause: error,
          fix: 'Check that the image runs a long-lived command and that readyLog matches its output.',
        },
      );
    }
  }

  async #startContainer(
    spec: DockerSpec,
    start: StartContext,
    signal: AbortSignal,
  ): Promise<DockerMachine> {
    const { name, tracker, console } = start;
    const { tc, client } = this.options;
    const fallback = spec.image ? undefined : await this.options.defaultImage();
    const image = spec.image ?? (fallback as DefaultImage).image;
    // The default image's readiness line only holds while its own command runs.
    const ownCommand = spec.command !== undefined || spec.entrypoint !== undefined;
    const readyLog = spec.readyLog ?? (ownCommand ? undefined : fallback?.readyLog);
    await ensureImagePresent(tc, client, image, 30_000, signal);
    signal.throwIfAborted();
    const target = (containerId: string) => ({ docker: this.#docker, containerId, machine: name });
    if (spec.files?.length) {
      const files = spec.files;
      tracker.beforeStart = (containerId) => putFileSpecs(target(containerId), files, signal);
    }
    const { engine } = this.options;
    const started = engine
      ? await startOnEngine({
          docker: this.#docker,
          client,
          name,
          image,
          labels: runLabels(this.#run, { [LABELS.machine]: name }),
          spec,
          readyLog,
          tracker,
          console,
          onLogs: start.onLogs,
          forward: (remote, local) => engine.forward(remote, local),
          timeoutMs: spec.timeoutMs ?? this.options.defaultTimeoutMs ?? 60_000,
          signal,
        })
      : { ...(await this.#startLocal(spec, image, readyLog, start, signal)), forwards: [] };
    try {
      return await this.#ready(spec, start, started, image, readyLog, signal);
    } catch (error) {
      await Promise.all(started.forwards.map((f) => f.close()));
      throw error;
    }
  }

  /** Joins the spec's networks and waits for what the spec asks; the container is started. */
  async #ready(
    spec: DockerSpec,
    start: StartContext,
    started: EngineContainer,
    image: string,
    readyLog: string | RegExp | undefined,
    signal: AbortSignal,
  ): Promise<DockerMachine> {
    const { name, cloneImage, console } = start;
    const aliases = [...new Set([spec.hostname, spec.name, ...(spec.aliases ?? []), name])].filter(
      (a): a is string => Boolean(a),
    );
    for (const { network, address, aliases: own } of spec.networks ?? []) {
      await this.#docker.getNetwork(network.name).connect({
        Container: started.containerId,
        EndpointConfig: {
          Aliases: [...new Set([...aliases, ...own])],
          ...(address === undefined ? {} : { IPAMConfig: { IPv4Address: address } }),
        },
      });
    }
    const data: DockerMachineData = {
      containerId: started.containerId,
      image,
      ports: started.ports,
      cloneImage,
    };
    const machine = new DockerMachine(name, data, console, true, {
      providerId: this.#providerId,
      forwards: started.forwards,
      client: this.options.client,
      cloneFrom: (source, cloneName, cloneSignal) => this.#clone(source, cloneName, cloneSignal),
      faults: this.#faults,
      readyLog: (m) => this.#specs.get(m)?.readyLog,
    });
    if (spec.waitFor?.length) {
      // Leave the wait time to fail with its own error (last attempt, log tail) before the deadline does.
      const left = start.deadline - Date.now();
      await machine.waitUntil(spec.waitFor, {
        signal,
        timeoutMs: Math.max(1, Math.floor(left - Math.min(WAIT_MARGIN_MS, left / 5))),
      });
    }
    // Nothing above needed the command to stay up: give one that exits at once the time to show it.
    const checked = readyLog !== undefined || spec.ports?.length || spec.waitFor?.length;
    if (!checked) await sleep(EXIT_GRACE_MS, undefined, { signal });
    if ((await exitCodeOf(this.#docker, data.containerId)) !== undefined) {
      throw new Error('the container stopped');
    }
    this.#specs.set(machine, { ...spec, image, readyLog });
    return machine;
  }

  /** Starts the container through testcontainers (the engine it serves), ports published on 127.0.0.1. */
  async #startLocal(
    spec: DockerSpec,
    image: string,
    readyLog: string | RegExp | undefined,
    start: StartContext,
    signal: AbortSignal,
  ): Promise<{ containerId: string; ports: Record<string, number> }> {
    const { name, tracker } = start;
    const { tc } = this.options;
    const LoopbackContainer = loopbackContainerClass(tc);
    const container = new LoopbackContainer(image, tracker)
      .withName(name)
      .withLabels(runLabels(this.#run, { [LABELS.machine]: name }))
      .withLogConsumer(start.onLogs)
      .withWaitStrategy(this.#waitStrategy(readyLog, signal))
      .withStartupTimeout(spec.timeoutMs ?? this.options.defaultTimeoutMs ?? 60_000);
    if (spec.ports?.length) {
      container.withExposedPorts(
        ...spec.ports.map((p) => (p.host ? { container: p.guest, host: p.host } : p.guest)),
      );
    }
    if (spec.env) container.withEnvironment(spec.env);
    if (spec.command) container.withCommand(spec.command);
    if (spec.entrypoint) container.withEntrypoint(spec.entrypoint);
    if (spec.hostname) container.withHostname(spec.hostname);
    if (spec.hosts) {
      container.withExtraHosts(
        Object.entries(spec.hosts).map(([host, ipAddress]) => ({ host, ipAddress })),
      );
    }
    if (spec.memoryMiB !== undefined || spec.vcpus !== undefined) {
      container.withResourcesQuota({
        ...(spec.memoryMiB !== undefined ? { memory: spec.memoryMiB / 1024 } : {}),
        ...(spec.vcpus !== undefined ? { cpu: spec.vcpus } : {}),
      });
    }
    const starting = container.start();
    // testcontainers cannot be interrupted: if we give up, remove what it still creates.
    signal.addEventListener(
      'abort',
      () => {
        tracker.cancelled = true;
        const late = async () => {
          const id = await starting.then(
            (started) => started.getId(),
            () => tracker.containerId,
          );
          if (id) await removeContainer(this.#docker, id);
        };
        late().catch(() => undefined);
      },
      { once: true },
    );
    const started = await starting;
    signal.throwIfAborted();

    const ports: Record<string, number> = {};
    for (const { guest } of spec.ports ?? []) ports[String(guest)] = started.getMappedPort(guest);
    return { containerId: started.getId(), ports };
  }

  #waitStrategy(readyLog: string | RegExp | undefined, signal: AbortSignal): WaitStrategy {
    return readyLog === undefined
      ? new LoopbackPortWaitStrategy(this.options.client, signal)
      : this.options.tc.Wait.forLogMessage(readyLog);
  }

  async #clone(
    source: DockerMachine,
    name: string | undefined,
    signal?: AbortSignal,
  ): Promise<DockerMachine> {
    const { client } = this.options;
    const sourceSpec = this.#specs.get(source) ?? { image: source.data.image };
    const tag = `${this.#run.runId}-${shortId(6)}`;
    const ref = `testbed/clone:${tag}`;
    const labels = runLabels(this.#run, { 'testbed.clone-of': source.name });
    const changes = `LABEL ${Object.entries(labels)
      .map(([key, value]) => `${key}=${JSON.stringify(value)}`)
      .join(' ')}`;
    await withTimeout(
      `committing ${source.name}`,
      COMMIT_TIMEOUT_MS,
      () =>
        client.container.commit(client.container.getById(source.data.containerId), {
          repo: 'testbed/clone',
          tag,
          pause: true,
          changes,
        }),
      signal,
    ).catch(async (error: unknown) => {
      await removeImage(this.#docker, ref).catch(() => undefined);
      throw error;
    });
    // The files are in the committed image already; fixed host ports are the source's.
    const {
      command: _command,
      entrypoint: _entrypoint,
      env: _env,
      aliases: _aliases,
      files: _files,
      ...kept
    } = sourceSpec;
    const ports = kept.ports?.map(({ guest }) => ({ guest }));
    try {
      return await this.#start(
        { ...kept, ports, image: ref, name: name ?? `${sourceSpec.name ?? 'c'}-clone`, signal },
        ref,
      );
    } catch (error) {
      await removeImage(this.#docker, ref).catch(() => undefined);
      throw error;
    }
  }

  /** A handle to a container another process provisioned; its `destroy()` leaves the container alone. */
  async attach(descriptor: MachineDescriptor): Promise<DockerMachine> {
    const { client } = this.options;
    const data = descriptor.data as unknown as DockerMachineData;
    if (descriptor.providerId !== this.#providerId || typeof data?.containerId !== 'string') {
      throw new ProvisionError(
        `Cannot attach to ${descriptor.name}: it is not a ${this.#providerId} machine descriptor (provider '${descriptor.providerId}').`,
      );
    }
    const container = client.container.getById(data.containerId);
    try {
      await withTimeout(`inspecting ${descriptor.name}`, 10_000, () =>
        client.container.inspect(container),
      );
    } catch (error) {
      throw new ProvisionError(`Cannot attach to ${descriptor.name}: ${firstLine(error)}`, {
        cause: error,
        fix: 'The machine was destroyed by its owner; attach while the providing run is alive.',
      });
    }
    const console = new LogConsole(() => client.container.logs(container), descriptor.name);
    return new DockerMachine(descriptor.name, data, console, false, {
      providerId: this.#providerId,
      // The providing process holds the tunnels; its runner ports serve this process too.
      forwards: [],
      client,
      cloneFrom: (source, cloneName, signal) => this.#clone(source, cloneName, signal),
      faults: this.#faults,
      readyLog: () => undefined,
    });
  }

  /**
   * An internal network (no egress) stamped with the run's labels; machines on it reach each other
   * by alias. With `join`, a macvlan network on that network's Linux bridge instead: containers and
   * the other provider's machines share one segment, and the host gets no address on it.
   */
  async createNetwork(options: NetworkOptions = {}): Promise<DockerNetwork> {
    const name = `testbed-${this.#run.runId}-${options.name ?? 'net'}-${shortId(4)}`;
    if (this.options.engine) {
      throw new UnsupportedOperationError('networks on a remote Docker engine', this.#providerId, {
        fix: 'Put machines that share a network on the local Docker engine (TESTBED_PROVIDERS=docker).',
      });
    }
    if (options.shared && !options.join) {
      throw new UnsupportedOperationError(
        'a network other providers join (its networks are not host bridges they can share)',
        'docker',
        {
          fix: 'Let a provider whose networks are bridges (libvirt) carry the segment, and join it.',
        },
      );
    }
    const bridge = options.join?.bridge;
    if (options.join && !bridge) {
      throw new UnsupportedOperationError(
        `joining network ${options.join.name} of provider '${options.join.providerId}' (it names no Linux bridge)`,
        'docker',
        { fix: 'Join a network whose provider offers SharedBridge (libvirt on qemu:///system).' },
      );
    }
    const ipam = options.subnet ? { IPAM: { Config: [{ Subnet: options.subnet }] } } : {};
    const network = await withTimeout(
      `creating network ${name}`,
      NETWORK_TIMEOUT_MS,
      () =>
        this.options.client.network.create({
          Name: name,
          // A macvlan network marked internal would get a dummy parent instead of the bridge; its
          // isolation comes from the bridge, which has no uplink and no host address.
          ...(bridge
            ? { Driver: 'macvlan', Options: { parent: bridge } }
            : { Driver: 'bridge', Internal: true }),
          CheckDuplicate: true,
          Labels: runLabels(this.#run),
          ...ipam,
        }),
      options.signal,
    ).catch((error: unknown) => {
      if (options.subnet && /overlap/i.test(String((error as Error).message))) {
        throw new SubnetTakenError(options.subnet, 'docker', { cause: error });
      }
      throw error;
    });
    return new DockerNetwork(name, network.id, this.#docker, options.subnet);
  }
}
