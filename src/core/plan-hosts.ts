import type { ValidationProblem } from './errors.js';
import type { HostBackend, HostEntry } from './hosts.js';

/** What becomes of one host entry: the local default provider, or a provider that says it is not built yet. */
export type HostPlan =
  | { entry: HostEntry; kind: 'default' }
  | { entry: HostEntry; kind: 'remote-libvirt' }
  | { entry: HostEntry; kind: 'remote-docker' }
  | { entry: HostEntry; kind: 'pending'; reason: string; fix: string };

/** The endpoints the local default providers use: libvirt's URI, Docker's endpoint. */
export type LocalEndpoints = Record<HostBackend, string>;

const VARIABLE: Record<HostBackend, string> = {
  libvirt: 'TESTBED_LIBVIRT_URI',
  docker: 'DOCKER_HOST',
};

function remoteReason(entry: HostEntry): { reason: string; fix: string } {
  if (entry.backend === 'libvirt') {
    return {
      reason: `${entry.uri} does not run over SSH: testbed reaches a remote host's guest ports through tunnels over the SSH connection to that host`,
      fix: `Use qemu+ssh:// or qemu+libssh:// for ${entry.name}, e.g. libvirt:qemu+ssh://user@${entry.name}/system.`,
    };
  }
  return {
    reason: `${entry.uri} does not run over SSH: testbed reaches a remote engine's published ports through tunnels over the SSH connection to that host`,
    fix: `Use ssh:// for ${entry.name}, e.g. docker:ssh://user@${entry.name}, or set DOCKER_HOST=${entry.uri} and drop the entry to use only that engine.`,
  };
}

/**
 * Decides how each host entry maps to a provider (pure). An unnamed local entry that names the
 * endpoint the local default provider uses *is* that provider; an unnamed local entry naming
 * another endpoint would take the default provider's id, so it is a problem. Every other entry
 * becomes a provider of its own id: a remote libvirt host or Docker engine over SSH is driven remotely; any other
 * reports, without any connection, what is not built yet: no entry silently behaves as the local
 * engine.
 */
export function planHosts(
  entries: readonly HostEntry[],
  local: LocalEndpoints,
  source = 'TESTBED_HOSTS',
): { plans: HostPlan[]; problems: ValidationProblem[] } {
  const plans: HostPlan[] = [];
  const problems: ValidationProblem[] = [];
  entries.forEach((entry, index) => {
    const localUri = local[entry.backend];
    if (entry.remote && entry.transport === 'ssh') {
      plans.push({ entry, kind: entry.backend === 'libvirt' ? 'remote-libvirt' : 'remote-docker' });
    } else if (entry.remote) {
      plans.push({ entry, kind: 'pending', ...remoteReason(entry) });
    } else if (entry.uri === localUri) {
      if (entry.providerId === entry.backend) plans.push({ entry, kind: 'default' });
      else {
        problems.push({
          path: `${source}[${index}]`,
          message: `${entry.backend}:${entry.uri} is the endpoint of the local ${entry.backend} provider already; drop the name (${entry.name}=) or the entry`,
        });
      }
    } else if (entry.providerId === entry.backend) {
      problems.push({
        path: `${source}[${index}]`,
        message: `${entry.backend}:${entry.uri} is not the endpoint the local ${entry.backend} provider uses (${localUri}): set ${VARIABLE[entry.backend]}=${entry.uri} to use it instead`,
      });
    } else {
      plans.push({
        entry,
        kind: 'pending',
        reason: `a second local ${entry.backend} endpoint is not built yet: the local ${entry.backend} provider uses ${localUri}, and a machine's descriptor names its provider by backend alone`,
        fix: `Set ${VARIABLE[entry.backend]}=${entry.uri} to use ${entry.uri} instead of ${localUri}.`,
      });
    }
  });
  return { plans, problems };
}
