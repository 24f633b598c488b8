import type { OwnedResource, RemovalReport } from '../../core/provider.js';
import { removeResources } from '../../core/remove-resources.js';
import type { HostPool } from './host-pool.js';
import { teardownDomain, teardownNetwork } from './teardown.js';
import { readTestbedMetadata } from './testbed-metadata.js';
import type { Virsh } from './virsh.js';

const RUN_VOLUME = /^testbed-([a-z0-9]{8})-/;

async function stamped(
  virsh: Virsh,
  providerId: string,
  kind: 'domain' | 'network',
  signal?: AbortSignal,
): Promise<OwnedResource[]> {
  const withSignal = signal ? { signal } : {};
  const list = kind === 'domain' ? ['list', '--all', '--name'] : ['net-list', '--all', '--name'];
  const names = (await virsh.names(list, withSignal)).filter((n) => n.startsWith('testbed-'));
  const found = await Promise.all(
    names.map(async (name) => {
      const dump = kind === 'domain' ? ['dumpxml', name] : ['net-dumpxml', name];
      const { stdout, exitCode } = await virsh.call(dump, { reject: false, ...withSignal });
      const metadata = exitCode === 0 ? readTestbedMetadata(stdout) : undefined;
      return metadata
        ? [
            {
              providerId,
              kind,
              name,
              runId: metadata.runId,
              owner: metadata.owner,
              createdAt: metadata.createdAt || undefined,
            } satisfies OwnedResource,
          ]
        : [];
    }),
  );
  return found.flat();
}

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
    stamped(virsh, providerId, 'domain', signal),
    stamped(virsh, providerId, 'network', signal),
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

/** Removes a run's domains, networks, then volumes on the host; each bounded, retried. */
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
    { kindOrder: ['domain', 'network', 'volume'], attemptTimeoutMs: 90_000, retries: 2, signal },
  );
}
