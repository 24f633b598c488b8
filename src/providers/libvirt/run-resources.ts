import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { OwnedResource, RemovalReport } from '../../core/provider.js';
import { removeResources } from '../../core/remove-resources.js';
import { removeDomainLogs } from './domain-log.js';
import { holdsKeptMachine } from './kept-marker.js';
import { readRunManifest } from './run-directory.js';
import { teardownDomain, teardownNetwork } from './teardown.js';
import { readTestbedMetadata } from './testbed-metadata.js';
import type { Virsh } from './virsh.js';

const RUN_ID = /^[a-z0-9]{8}$/;
const PREFIX = 'testbed-';

/** The domains or networks whose testbed metadata stamps them with a run, as `providerId`'s. */
export async function stamped(
  virsh: Virsh,
  kind: 'domain' | 'network',
  signal?: AbortSignal,
  providerId = 'libvirt',
): Promise<OwnedResource[]> {
  const withSignal = signal ? { signal } : {};
  const list = kind === 'domain' ? ['list', '--all', '--name'] : ['net-list', '--all', '--name'];
  const names = (await virsh.names(list, withSignal)).filter((n) => n.startsWith(PREFIX));
  const found = await Promise.all(
    names.map(async (name) => {
      const dump = kind === 'domain' ? ['dumpxml', name] : ['net-dumpxml', name];
      // It may vanish between listing and reading: then it is simply not there any more.
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

async function runDirectories(stateDir: string): Promise<OwnedResource[]> {
  const entries = await readdir(stateDir, { withFileTypes: true }).catch(() => []);
  const found = await Promise.all(
    entries
      .filter((entry) => entry.isDirectory() && RUN_ID.test(entry.name))
      .map(async (entry): Promise<OwnedResource[]> => {
        const path = join(stateDir, entry.name);
        const manifest = await readRunManifest(path);
        const kept = await holdsKeptMachine(path);
        if (manifest) {
          const { runId, owner, createdAt } = manifest;
          return [
            { providerId: 'libvirt', kind: 'directory', name: path, runId, owner, createdAt, kept },
          ];
        }
        // A process killed while creating the directory leaves it without a manifest: the name
        // still says which run it belongs to, but its owner is unknown (pid 0 is never probed).
        const createdAt = (await stat(path).catch(() => undefined))?.mtimeMs;
        return [
          {
            providerId: 'libvirt',
            kind: 'directory',
            name: path,
            runId: entry.name,
            owner: { pid: 0, startTime: 0 },
            createdAt,
            kept,
          },
        ];
      }),
  );
  return found.flat();
}

/** Every domain, network and run directory testbed created through libvirt, of any run. */
export async function listRunResources(
  virsh: Virsh,
  stateDir: string,
  signal?: AbortSignal,
): Promise<OwnedResource[]> {
  const [domains, networks, directories] = await Promise.all([
    stamped(virsh, 'domain', signal),
    stamped(virsh, 'network', signal),
    runDirectories(stateDir),
  ]);
  return [...domains, ...networks, ...directories];
}

/** Removes a run's domains, then its networks, then its directory; a few at once, newest first, each bounded. */
export async function removeRunResources(
  virsh: Virsh,
  stateDir: string,
  runId: string,
  signal?: AbortSignal,
): Promise<RemovalReport> {
  const resources = (await listRunResources(virsh, stateDir, signal)).filter(
    (r) => r.runId === runId,
  );
  const report = await removeResources(
    resources,
    (resource, bounded) => {
      if (resource.kind === 'domain') return teardownDomain(virsh, resource.name, bounded);
      if (resource.kind === 'network') return teardownNetwork(virsh, resource.name, bounded);
      return rm(resource.name, { recursive: true, force: true, maxRetries: 3 });
    },
    {
      kindOrder: ['domain', 'network', 'directory'],
      attemptTimeoutMs: 90_000,
      retries: 2,
      // A run's domains share nothing but the directory removed after them: stop them together.
      concurrency: 4,
      signal,
    },
  );
  // Logs of domains that were already gone (e.g. torn down by a process that then died).
  await removeDomainLogs(virsh.uri, `testbed-${runId}-`);
  return report;
}
