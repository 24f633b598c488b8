import type Dockerode from 'dockerode';
import type { OwnedResource, RemovalReport } from '../../core/provider.js';
import { removeResources } from '../../core/remove-resources.js';
import { withTimeout } from '../../core/with-timeout.js';
import { removeContainer, removeImage } from './docker-machine.js';
import { readRunStamp, runFilter } from './labels.js';

const STEP_TIMEOUT_MS = 20_000;

function owned(
  providerId: string,
  kind: OwnedResource['kind'],
  name: string,
  labels: Record<string, string> | undefined,
): OwnedResource[] {
  const stamp = readRunStamp(labels);
  return stamp ? [{ providerId, kind, name, ...stamp }] : [];
}

/** Containers, networks and clone images carrying testbed's run labels (of one run, or of all runs), as resources of `providerId`. */
export async function listDockerResources(
  docker: Dockerode,
  runId?: string,
  signal?: AbortSignal,
  providerId = 'docker',
): Promise<OwnedResource[]> {
  const filters = JSON.stringify(runFilter(runId));
  const [containers, networks, images] = await withTimeout(
    'listing testbed resources on Docker',
    STEP_TIMEOUT_MS,
    () =>
      Promise.all([
        docker.listContainers({ all: true, filters }),
        docker.listNetworks({ filters }),
        docker.listImages({ filters }),
      ]),
    signal,
  );
  return [
    ...containers.flatMap((c) =>
      owned(providerId, 'container', c.Names[0]?.replace(/^\//, '') ?? c.Id, c.Labels),
    ),
    ...networks.flatMap((n) => owned(providerId, 'network', n.Name, n.Labels)),
    ...images.flatMap((i) =>
      owned(
        providerId,
        'image',
        i.RepoTags?.find((t) => t !== '<none>:<none>') ?? i.Id,
        i.Labels ?? undefined,
      ),
    ),
  ];
}

async function removeOne(docker: Dockerode, resource: OwnedResource): Promise<void> {
  if (resource.kind === 'container') return removeContainer(docker, resource.name);
  if (resource.kind === 'image') return removeImage(docker, resource.name);
  try {
    await docker.getNetwork(resource.name).remove();
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode !== 404) throw error;
  }
}

/**
 * Removes every container, clone image and network of `runId` (containers first, since the others
 * are in use until then; newest first within a kind), each retried with backoff and bounded in
 * time; a resource that will not go is reported, never thrown.
 */
export async function removeDockerRun(
  docker: Dockerode,
  runId: string,
  signal?: AbortSignal,
  providerId = 'docker',
): Promise<RemovalReport> {
  return removeResources(
    await listDockerResources(docker, runId, signal, providerId),
    (resource) => removeOne(docker, resource),
    {
      kindOrder: ['container', 'image', 'network'],
      attemptTimeoutMs: STEP_TIMEOUT_MS,
      retries: 3,
      signal,
    },
  );
}
