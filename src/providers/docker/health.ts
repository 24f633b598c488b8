import type { ContainerRuntimeClient } from 'testcontainers';
import { firstLine } from '../../core/first-line.js';
import type { ProviderHealth } from '../../core/provider.js';
import type { DockerEndpoint } from './docker-socket.js';
import type { RyukDecision } from './ryuk.js';

/** What the Docker health check looks at; injected so unit tests pass fakes. */
export interface DockerHealthProbe {
  /** Where the engine is, found without connecting. */
  endpoint: DockerEndpoint;
  /** testcontainers' engine client (connects). */
  client(): Promise<ContainerRuntimeClient>;
  /** Which cleanup is in use (or would be), without pulling anything. */
  reaper(client: ContainerRuntimeClient): Promise<RyukDecision>;
  /** Whether testbed's default image is on the engine, for `doctor`. */
  defaultImageStatus?(client: ContainerRuntimeClient): Promise<string>;
}

const START_HINT =
  'Start the Docker engine (`sh scripts/setup-host.sh`, `sudo systemctl start docker`, or `dockerd &`), or point DOCKER_HOST at a running one.';

function unhealthy(warning: string, details: ProviderHealth['details'] = {}): ProviderHealth {
  return {
    healthy: false,
    resources: { vmsAvailable: 0, vmsRunning: 0 },
    warnings: [warning],
    details,
  };
}

/** Engine version, containers, images, reaper mode and warnings; never throws (callers bound the time). */
export async function checkDockerHealth(probe: DockerHealthProbe): Promise<ProviderHealth> {
  const { endpoint } = probe;
  if (!endpoint.found) return unhealthy(`${endpoint.reason}. ${START_HINT}`);
  const where = { endpoint: endpoint.endpoint ?? 'default' };
  let client: ContainerRuntimeClient;
  try {
    client = await probe.client();
  } catch (error) {
    return unhealthy(`cannot reach the Docker engine (${firstLine(error)}). ${START_HINT}`, where);
  }
  try {
    const docker = client.container.dockerode;
    const [version, info] = await Promise.all([docker.version(), docker.info()]);
    const warnings: string[] = [...((info.Warnings as string[] | null) ?? [])];
    const reaper = await probe.reaper(client);
    const defaultImage = await probe.defaultImageStatus?.(client);
    return {
      healthy: true,
      version: `Docker Engine ${version.Version} (API ${version.ApiVersion})`,
      resources: {
        vmsAvailable: Number(info.Containers ?? 0),
        vmsRunning: Number(info.ContainersRunning ?? 0),
      },
      warnings,
      details: {
        ...where,
        images: Number(info.Images ?? 0),
        storageDriver: String(info.Driver ?? 'unknown'),
        reaper: reaper.mode,
        reaperReason: reaper.reason,
        ...(defaultImage ? { defaultImage } : {}),
      },
    };
  } catch (error) {
    return unhealthy(
      `the Docker engine did not answer (${firstLine(error)}). ${START_HINT}`,
      where,
    );
  }
}
