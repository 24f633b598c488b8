import type { OwnedResource, RemovalReport } from '../../core/provider.js';
import { removeResources } from '../../core/remove-resources.js';
import type { HostPool } from './host-pool.js';
import { stamped } from './run-resources.js';
import { teardownDomain, teardownNetwork } from './teardown.js';
import type { Virsh } from './virsh.js';

const RUN_VOLUME = /^testbed-([a-z0-9]{8})-/;

/**
 * Every domain, network and run volume testbed made on a remote host, of any run. A volume
 * carries no metadata, only its run in its name: it takes the owner of a domain or network of
 * the same run when one is listed, else an unknown owner (pid 0), which the reaper never probes.
 */
export async function listRemoteResources(
  virsh: Virsh,
  pool: HostPool,
  providerId: string,
  signal?: AbortSignal,
): Promise<OwnedResource[]> {
  const [domains, networks, volumes] = await Promise.all([
    stamped(virsh, 'domain', signal, providerId),
    stamped(virsh, 'network', signal, providerId),
    pool.names(signal),
  ]);
  const owners = new Map([...domains, ...networks].map((r) => [r.runId, r.owner]));
  const runVolumes = volumes.flatMap((name): OwnedResource[] => {
    const runId = RUN_VOLUME.exec(name)?.[1];
    if (!runId) return [];
    return [
      {
        providerId,
        kind: 'volume',
        name,
        runId,
        owner: owners.get(runId) ?? { pid: 0, startTime: 0 },
      },
    ];
  });
  return [...domains, ...networks, ...runVolumes];
}

/** Removes a run's domains, networks, then volumes on the host, a few at once; each bounded, retried. */
export async function removeRemoteRun(
  virsh: Virsh,
  pool: HostPool,
  providerId: string,
  runId: string,
  signal?: AbortSignal,
): Promise<RemovalReport> {
  const resources = (await listRemoteResources(virsh, pool, providerId, signal)).filter(
    (r) => r.runId === runId,
  );
  return removeResources(
    resources,
    (resource, bounded) => {
      if (resource.kind === 'domain') return teardownDomain(virsh, resource.name, bounded);
      if (resource.kind === 'network') return teardownNetwork(virsh, resource.name, bounded);
      return pool.delete(resource.name, bounded);
    },
    {
      kindOrder: ['domain', 'network', 'volume'],
      attemptTimeoutMs: 90_000,
      retries: 2,
      // Each virsh call is an SSH connection to the host: six at a time stays well inside
      // OpenSSH's MaxStartups (10 unauthenticated connections) while a machine's three volumes
      // and the next one's go in one round trip.
      concurrency: 6,
      signal,
    },
  );
}
