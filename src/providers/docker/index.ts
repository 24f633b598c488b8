import { existsSync } from 'node:fs';
import type { ContainerRuntimeClient } from 'testcontainers';
import { parseCapability, type VmCapability, type VmType } from '../../core/capabilities.js';
import type { TestbedConfig } from '../../core/config.js';
import { ProviderUnavailableError } from '../../core/errors.js';
import type {
  OwnedResource,
  ProviderCapacity,
  ProviderHealth,
  ProvisionerOptions,
  RemovalReport,
  VmBackendProvider,
} from '../../core/provider.js';
import { withTimeout } from '../../core/with-timeout.js';
import { tinyContainerImage, tinyImageStatus } from './default-image.js';
import { type DockerEndpoint, findDockerEndpoint } from './docker-socket.js';
import { engineCapacity } from './engine-capacity.js';
import { checkDockerHealth } from './health.js';
import { loadTestcontainers, runtimeClient, ryukImageName } from './load-testcontainers.js';
import { type DefaultImage, DockerProvisioner } from './provisioner.js';
import { listDockerResources, removeDockerRun } from './resources.js';
import { applyRyukDecision, decideRyuk, type RyukDecision } from './ryuk.js';

export type { DockerMachine, DockerMachineData } from './docker-machine.js';
export type { DockerNetwork } from './docker-network.js';
export type { DefaultImage, DockerProvisioner } from './provisioner.js';
export type { ReaperMode, RyukDecision } from './ryuk.js';
export type { DockerSpec } from './spec.js';

/** Options of the Docker provider. */
export interface DockerProviderOptions {
  /** testbed configuration; its `timeoutMs` bounds the health check. */
  config?: TestbedConfig;
  /** Environment for discovery (DOCKER_HOST). testcontainers itself reads `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** File existence check, for unit tests. */
  exists?: (path: string) => boolean;
  /** Image used when a spec names none; default: testbed's tiny container image, built on first use. */
  defaultImage?: DefaultImage | (() => Promise<DefaultImage>);
  /** Bound on provisioning when a spec gives none, in ms. Default 60 000. */
  provisionTimeoutMs?: number;
}

const CAPABILITIES = [
  'ProvisionVm',
  'CloneVm',
  'HealthMonitoring',
  'NetworkOverlay',
  'DiskOverlay',
  'Exec',
  'FileTransfer',
  'PortForward',
  'PauseResume',
  'NetworkFaults',
  'PowerControl',
  'SharedBridge',
  'VmType(Container)',
] as const;

// testcontainers starts one reaper per process, so the Ryuk decision is per process too.
let ryukDecision: Promise<RyukDecision> | undefined;

/** Docker containers as throwaway machines, through testcontainers (loaded only when used). */
export class DockerProvider implements VmBackendProvider {
  readonly id = 'docker';
  readonly name = 'Docker (testcontainers)';
  readonly setupHint =
    'Install Docker Engine and start it (`sh scripts/setup-host.sh`, or `dockerd &`), or set DOCKER_HOST to a reachable engine.';
  readonly #env: NodeJS.ProcessEnv;
  readonly #exists: (path: string) => boolean;
  readonly #timeoutMs: number;
  readonly #defaultImage: () => Promise<DefaultImage>;
  readonly #provisionTimeoutMs: number | undefined;
  readonly #usesTinyImage: boolean;

  constructor(options: DockerProviderOptions = {}) {
    this.#env = options.env ?? process.env;
    this.#exists = options.exists ?? existsSync;
    this.#timeoutMs = options.config?.timeoutMs ?? 5000;
    const image = options.defaultImage;
    this.#usesTinyImage = image === undefined;
    this.#defaultImage =
      typeof image === 'function'
        ? image
        : image
          ? () => Promise.resolve(image)
          : tinyContainerImage(this.#env);
    this.#provisionTimeoutMs = options.provisionTimeoutMs;
  }

  /** Where the engine is expected and, if nowhere, why; no connection is made. */
  endpoint(): DockerEndpoint {
    return findDockerEndpoint(this.#env, this.#exists);
  }

  /** True when DOCKER_HOST is set or a Docker socket exists; fast, never throws. */
  async isAvailable(_signal?: AbortSignal): Promise<boolean> {
    return this.endpoint().found;
  }

  /** Why no engine was found: which DOCKER_HOST or socket paths were looked at. */
  async unavailableReason(): Promise<string> {
    return this.endpoint().reason ?? 'no Docker endpoint found';
  }

  /** Containers stand in for machines: exec, files and ports through the engine; no serial console, and SSH only with an image that runs sshd. */
  capabilities(): VmCapability[] {
    return CAPABILITIES.map((c) => parseCapability(c));
  }

  /** Containers. */
  vmType(): VmType {
    return 'Container';
  }

  /** Engine version, containers, images, which reaper is in use, and warnings; bounded in time. */
  async checkHealth(signal?: AbortSignal): Promise<ProviderHealth> {
    const endpoint = this.endpoint();
    const probe = {
      endpoint,
      client: runtimeClient,
      reaper: (client: ContainerRuntimeClient) => ryukDecision ?? this.#ryukProbe(client, false),
      ...(this.#usesTinyImage ? { defaultImageStatus: tinyImageStatus } : {}),
    };
    return withTimeout(
      'docker: checkHealth()',
      this.#timeoutMs,
      () => checkDockerHealth(probe),
      signal,
    ).catch((error: unknown) => ({
      healthy: false,
      resources: { vmsAvailable: 0, vmsRunning: 0 },
      warnings: [`the Docker engine did not answer in time (${(error as Error).message})`],
      details: { endpoint: endpoint.endpoint ?? 'none' },
    }));
  }

  async #ryukProbe(client: ContainerRuntimeClient, pull: boolean): Promise<RyukDecision> {
    const { ImageName } = await loadTestcontainers();
    const image = await ryukImageName();
    return decideRyuk({
      image,
      exists: (ref) => client.image.exists(ImageName.fromString(ref)),
      ...(pull
        ? {
            pull: async (ref: string) => {
              await withTimeout(`pulling ${ref}`, 30_000, () =>
                client.image.pull(ImageName.fromString(ref), { force: false, platform: undefined }),
              );
              if (!(await client.image.exists(ImageName.fromString(ref)))) {
                throw new Error('the pull did not produce the image');
              }
            },
          }
        : {}),
    });
  }

  /** A provisioner for `run`; loads testcontainers and decides about Ryuk before the first start. */
  async createProvisioner(options: ProvisionerOptions): Promise<DockerProvisioner> {
    const endpoint = this.endpoint();
    if (!endpoint.found) {
      throw new ProviderUnavailableError(this.id, endpoint.reason ?? 'no Docker engine', {
        fix: this.setupHint,
      });
    }
    const tc = await loadTestcontainers();
    let client: ContainerRuntimeClient;
    try {
      client = await withTimeout('connecting to Docker', 30_000, () =>
        tc.getContainerRuntimeClient(),
      );
    } catch (error) {
      throw new ProviderUnavailableError(
        this.id,
        `cannot reach the Docker engine at ${endpoint.endpoint}`,
        {
          cause: error,
          fix: this.setupHint,
        },
      );
    }
    ryukDecision ??= this.#ryukProbe(client, true).then((decision) => {
      applyRyukDecision(decision);
      return decision;
    });
    await ryukDecision;
    return new DockerProvisioner({
      tc,
      client,
      run: options.run,
      defaultImage: this.#defaultImage,
      ...(this.#provisionTimeoutMs ? { defaultTimeoutMs: this.#provisionTimeoutMs } : {}),
    });
  }

  /** Which cleanup this process uses (`ryuk` or `testbed-labels`), once a provisioner has decided. */
  reaperDecision(): Promise<RyukDecision> | undefined {
    return ryukDecision;
  }

  /** Every container, network and clone image carrying testbed's run labels. */
  async listResources(signal?: AbortSignal): Promise<OwnedResource[]> {
    const client = await runtimeClient();
    return listDockerResources(client.container.dockerode, undefined, signal);
  }

  /** Removes every container, clone image and network of `runId`; reports what would not go. */
  async removeRun(runId: string, signal?: AbortSignal): Promise<RemovalReport> {
    const client = await runtimeClient();
    return removeDockerRun(client.container.dockerode, runId, signal);
  }

  /** The engine's CPUs and memory (`docker info`); containers reserve nothing, so free is the total. */
  async capacity(signal?: AbortSignal): Promise<ProviderCapacity> {
    return withTimeout(
      'docker: capacity()',
      this.#timeoutMs,
      async () => engineCapacity(await (await runtimeClient()).container.dockerode.info()),
      signal,
    );
  }
}
