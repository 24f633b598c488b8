import type { TestbedConfig } from './core/config.js';
import { ConfigError } from './core/errors.js';
import type { HostEntry } from './core/hosts.js';
import { PendingHostProvider } from './core/pending-host-provider.js';
import { planHosts } from './core/plan-hosts.js';
import type { VmBackendProvider } from './core/provider.js';
import { defaultSocketPaths, findDockerEndpoint } from './providers/docker/docker-socket.js';
import { RemoteDockerProvider } from './providers/docker/remote-provider.js';
import { RemoteLibvirtProvider } from './providers/libvirt/remote-provider.js';

/** The local default providers, whose endpoints and capabilities host entries are measured against. */
export interface LocalProviders {
  /** The local libvirt provider and the URI it uses. */
  libvirt: { provider: VmBackendProvider; uri: string };
  /** The local Docker provider. */
  docker: { provider: VmBackendProvider };
}

/**
 * The providers host entries add beside the local defaults (an entry for a local default adds
 * none); throws `ConfigError` listing every entry that would clash with a local default.
 */
export function hostProviders(
  entries: readonly HostEntry[],
  local: LocalProviders,
  env: NodeJS.ProcessEnv,
  source = 'TESTBED_HOSTS',
  config?: TestbedConfig,
): VmBackendProvider[] {
  const docker = findDockerEndpoint(env).endpoint ?? `unix://${defaultSocketPaths(env)[0] ?? ''}`;
  const { plans, problems } = planHosts(entries, { libvirt: local.libvirt.uri, docker }, source);
  if (problems.length > 0) {
    throw new ConfigError(problems, {
      subject: source === 'TESTBED_HOSTS' ? 'testbed environment' : 'testbed options',
      fix: `Correct the entries of ${source} above.`,
    });
  }
  return plans.flatMap((plan): VmBackendProvider[] => {
    if (plan.kind === 'default') return [];
    if (plan.kind === 'remote-libvirt') {
      return [new RemoteLibvirtProvider({ entry: plan.entry, env, ...(config ? { config } : {}) })];
    }
    if (plan.kind === 'remote-docker') {
      return [new RemoteDockerProvider({ entry: plan.entry, env, ...(config ? { config } : {}) })];
    }
    const template = local[plan.entry.backend].provider;
    return [
      new PendingHostProvider({
        entry: plan.entry,
        reason: plan.reason,
        fix: plan.fix,
        capabilities: template.capabilities(),
        vmType: template.vmType(),
      }),
    ];
  });
}
