import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient } from 'testcontainers';
import type { HostLink } from '../../ssh/host-link.js';
import { dialStdioAgent } from './dial-stdio-agent.js';
import type { TestcontainersModule } from './load-testcontainers.js';

type ClientArgs = ConstructorParameters<TestcontainersModule['ContainerRuntimeClient']>;

/** testcontainers' per-engine clients; the package has no `exports` map, so its build paths are importable in 11 and 12. */
async function engineClients(docker: Dockerode) {
  const [{ DockerContainerClient }, { DockerImageClient }, { DockerNetworkClient }] =
    await Promise.all([
      import('testcontainers/build/container-runtime/clients/container/docker-container-client.js'),
      import('testcontainers/build/container-runtime/clients/image/docker-image-client.js'),
      import('testcontainers/build/container-runtime/clients/network/docker-network-client.js'),
    ]);
  return {
    container: new DockerContainerClient(docker),
    // No registry is asked for images testbed builds; the index only names pulls.
    image: new DockerImageClient(docker, 'https://index.docker.io/v1/'),
    network: new DockerNetworkClient(docker),
  };
}

/** dockerode (loaded on first use) talking to the host's engine through `docker system dial-stdio` over SSH links `openLink` opens. */
export async function remoteDockerode(openLink: () => HostLink, where: string): Promise<Dockerode> {
  const { default: Dockerode } = await import('dockerode');
  // docker-modem passes `agent` to every request; dockerode's types omit it.
  const options = {
    protocol: 'http',
    host: 'docker',
    port: 2375,
    agent: dialStdioAgent(openLink, where),
  };
  return new Dockerode(options as Dockerode.DockerOptions);
}

/**
 * testcontainers' engine client bound to `docker` instead of the one engine testcontainers picks
 * per process, so exec, logs, inspect, commit and images work the same on a remote engine.
 */
export async function remoteRuntimeClient(
  tc: TestcontainersModule,
  docker: Dockerode,
): Promise<ContainerRuntimeClient> {
  const info = await docker.info();
  const { container, image, network } = await engineClients(docker);
  const runtimeInfo = {
    node: { version: process.version, architecture: process.arch, platform: process.platform },
    containerRuntime: {
      host: '127.0.0.1',
      hostIps: [{ address: '127.0.0.1', family: 4 }],
      remoteSocketPath: '/var/run/docker.sock',
      indexServerAddress: 'https://index.docker.io/v1/',
      serverVersion: info.ServerVersion,
      operatingSystem: info.OperatingSystem,
      operatingSystemType: info.OSType,
      architecture: info.Architecture,
      cpus: info.NCPU,
      memory: info.MemTotal,
      runtimes: info.Runtimes ? Object.keys(info.Runtimes) : [],
      labels: info.Labels ?? [],
    },
  } as unknown as ClientArgs[0];
  // Compose is never used by testbed.
  return new tc.ContainerRuntimeClient(
    runtimeInfo,
    undefined as unknown as ClientArgs[1],
    container,
    image,
    network,
  );
}
