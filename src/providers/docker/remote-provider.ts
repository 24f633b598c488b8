import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import { parseCapability, type VmCapability, type VmType } from '../../core/capabilities.js';
import { loadConfig, type TestbedConfig } from '../../core/config.js';
import { HostUnreachableError } from '../../core/errors.js';
import { unreachableHealth } from '../../core/host-health.js';
import type { HostEntry } from '../../core/hosts.js';
import type {
  OwnedResource,
  ProviderCapacity,
  ProviderHealth,
  ProvisionerOptions,
  RemovalReport,
  VmBackendProvider,
} from '../../core/provider.js';
import { withTimeout } from '../../core/with-timeout.js';
import { hostAddressOf } from '../../ssh/host-address.js';
import { HostLink } from '../../ssh/host-link.js';
import { engineCapacity } from './engine-capacity.js';
import { engineTinyImage } from './engine-image.js';
import { loadTestcontainers } from './load-testcontainers.js';
import { remoteDockerode, remoteRuntimeClient } from './remote-engine.js';
import { RemoteDockerProvisioner } from './remote-provisioner.js';
import { listDockerResources, removeDockerRun } from './resources.js';

/** Options for `RemoteDockerProvider`; all but the entry have defaults. */
export interface RemoteDockerProviderOptions {
  /** The host entry (`host2=docker:ssh://ci@host2`). */
  entry: HostEntry;
  /** Configuration; default read from the environment. */
  config?: TestbedConfig;
  /** Environment (HOME for SSH keys, SSH_AUTH_SOCK). */
  env?: NodeJS.ProcessEnv;
}

/**
 * What a remote engine offers: no networks (`NetworkOverlay`, `NetworkFaults`, `SharedBridge`:
 * its bridges are on that host), and no `PowerControl` (a restarted container's new ports would
 * need new tunnels).
 */
const CAPABILITIES = [
  'ProvisionVm',
  'CloneVm',
  'HealthMonitoring',
  'DiskOverlay',
  'Exec',
  'FileTransfer',
  'PortForward',
  'PauseResume',
  'VmType(Container)',
] as const;

/** Containers on another machine's Docker engine, over SSH (`docker system dial-stdio`); ports through tunnels. */
export class RemoteDockerProvider implements VmBackendProvider {
  readonly id: string;
  readonly name: string;
  readonly setupHint: string;
  readonly host: { readonly name: string; readonly uri: string };
  readonly #entry: HostEntry;
  readonly #config: TestbedConfig;
  readonly #env: NodeJS.ProcessEnv;
  #engine: Promise<{ link: HostLink; docker: Dockerode }> | undefined;
  #client: Promise<ContainerRuntimeClient> | undefined;
  #defaultImage: (() => Promise<{ image: string }>) | undefined;

  constructor(options: RemoteDockerProviderOptions) {
    this.#entry = options.entry;
    this.host = { name: options.entry.name, uri: options.entry.uri };
    this.id = options.entry.providerId;
    this.name = `Docker on ${options.entry.name}`;
    this.setupHint = `Check that \`docker -H ${options.entry.uri.split('?')[0]} version\` works from here (SSH key, the docker CLI and a running engine on ${options.entry.name}), or drop ${this.id} from TESTBED_HOSTS.`;
    this.#env = options.env ?? process.env;
    this.#config = options.config ?? loadConfig(this.#env);
  }

  /** True when the endpoint runs over SSH; connects to nothing, never throws. */
  async isAvailable(): Promise<boolean> {
    return (await this.unavailableReason()) === undefined;
  }

  /** Why the engine cannot be used from here without connecting: an endpoint not over SSH. */
  async unavailableReason(): Promise<string | undefined> {
    return hostAddressOf(this.#entry.uri, this.#env)
      ? undefined
      : `${this.#entry.uri} does not run over SSH (use ssh://user@host)`;
  }

  /** Containers, without networks or power control. */
  capabilities(): VmCapability[] {
    return CAPABILITIES.map((c) => parseCapability(c));
  }

  /** Containers. */
  vmType(): VmType {
    return 'Container';
  }

  #connection(): Promise<{ link: HostLink; docker: Dockerode }> {
    this.#engine ??= (async () => {
      const address = hostAddressOf(this.#entry.uri, this.#env);
      if (!address) {
        throw new HostUnreachableError(
          this.id,
          this.#entry.uri,
          'the endpoint does not run over SSH',
          {
            fix: 'Use ssh://user@host.',
          },
        );
      }
      const open = () =>
        new HostLink(address, { providerId: this.id, uri: this.#entry.uri }, this.#env);
      // Tunnels are not sessions: one connection carries them all; the engine's API gets its own.
      return {
        link: open(),
        docker: await remoteDockerode(open, `${this.id} (${this.#entry.uri})`),
      };
    })();
    return this.#engine;
  }

  /** The engine's client; an engine that does not answer is `HostUnreachableError` naming the host. */
  #runtime(signal?: AbortSignal): Promise<ContainerRuntimeClient> {
    this.#client ??= (async () => {
      const { docker } = await this.#connection();
      const tc = await loadTestcontainers();
      try {
        return await withTimeout(
          `${this.id}: connecting`,
          this.#config.timeoutMs,
          () => remoteRuntimeClient(tc, docker),
          signal,
        );
      } catch (error) {
        if (error instanceof HostUnreachableError) throw error;
        throw new HostUnreachableError(
          this.id,
          this.#entry.uri,
          `its Docker engine did not answer: ${(error as Error).message.split('\n')[0]}`,
          { cause: error, fix: this.setupHint },
        );
      }
    })().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  /** Engine version and container counts, over the host's connection; bounded in time. */
  async checkHealth(signal?: AbortSignal): Promise<ProviderHealth> {
    try {
      const client = await this.#runtime(signal);
      const docker = client.container.dockerode;
      const [version, info] = await withTimeout(
        `${this.id}: checkHealth()`,
        this.#config.timeoutMs,
        () => Promise.all([docker.version(), docker.info()]),
        signal,
      );
      return {
        healthy: true,
        version: `Docker Engine ${version.Version} (API ${version.ApiVersion})`,
        resources: {
          vmsAvailable: Number(info.Containers ?? 0),
          vmsRunning: Number(info.ContainersRunning ?? 0),
        },
        warnings: [...((info.Warnings as string[] | null) ?? [])],
        details: { endpoint: this.#entry.uri, host: this.#entry.name, reaper: 'testbed-labels' },
      };
    } catch (error) {
      return unreachableHealth(
        { id: this.id, uri: this.#entry.uri, setupHint: this.setupHint },
        error,
      );
    }
  }

  /**
   * A provisioner for `run`; fails fast with `HostUnreachableError` naming the host when it does
   * not answer, and so does a provision whose failure is an engine that stopped answering.
   */
  async createProvisioner(options: ProvisionerOptions): Promise<RemoteDockerProvisioner> {
    const client = await this.#runtime();
    const { link, docker } = await this.#connection();
    this.#defaultImage ??= engineTinyImage(docker, this.id);
    return new RemoteDockerProvisioner({
      host: { id: this.id, uri: this.#entry.uri, setupHint: this.setupHint },
      // dockerode's ping takes no signal: a ping past the bound is left to end on its own.
      ping: () => docker.ping(),
      pingTimeoutMs: this.#config.timeoutMs,
      tc: await loadTestcontainers(),
      client,
      run: options.run,
      providerId: this.id,
      defaultImage: this.#defaultImage,
      // Ryuk is never started there: the run's labels are how the watchdog and gc find leftovers.
      engine: { forward: (remote, local) => link.forward(remote, local) },
    });
  }

  /** Every container and clone image carrying testbed's run labels on that engine. */
  async listResources(signal?: AbortSignal): Promise<OwnedResource[]> {
    const client = await this.#runtime(signal);
    return listDockerResources(client.container.dockerode, undefined, signal, this.id);
  }

  /** Removes every container and clone image of `runId` on that engine. */
  async removeRun(runId: string, signal?: AbortSignal): Promise<RemovalReport> {
    const client = await this.#runtime(signal);
    return removeDockerRun(client.container.dockerode, runId, signal, this.id);
  }

  /** The engine's CPUs and memory (`docker info`). */
  async capacity(signal?: AbortSignal): Promise<ProviderCapacity> {
    const client = await this.#runtime(signal);
    return withTimeout(
      `${this.id}: capacity()`,
      this.#config.timeoutMs,
      async () => engineCapacity(await client.container.dockerode.info()),
      signal,
    );
  }
}
