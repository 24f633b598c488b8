import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ConfigError, ProviderUnavailableError } from '../../src/core/errors.js';
import { type HostEntry, parseHostEntry } from '../../src/core/hosts.js';
import type { PendingHostProvider } from '../../src/core/pending-host-provider.js';
import { planHosts } from '../../src/core/plan-hosts.js';
import { RemoteDockerProvider } from '../../src/providers/docker/remote-provider.js';
import { RemoteLibvirtProvider } from '../../src/providers/libvirt/remote-provider.js';
import { VmBackendRegistry } from '../../src/registry.js';

const entry = (text: string): HostEntry => {
  const result = parseHostEntry(text);
  if (!result.ok) throw new Error(result.message);
  return result.entry;
};
const local = { libvirt: 'qemu:///system', docker: 'unix:///var/run/docker.sock' };

describe('planHosts', () => {
  it('folds an unnamed entry for a local default into that provider', () => {
    const { plans, problems } = planHosts(
      [entry('libvirt:qemu:///system'), entry('docker:unix:///var/run/docker.sock')],
      local,
    );
    expect(problems).toEqual([]);
    expect(plans.map((p) => [p.entry.providerId, p.kind])).toEqual([
      ['libvirt', 'default'],
      ['docker', 'default'],
    ]);
  });

  it('drives a remote libvirt or Docker over SSH; any other remote entry is a pending provider that names why', () => {
    const { plans } = planHosts(
      [
        entry('libvirt:qemu+ssh://ci@host2/system'),
        entry('host2=docker:ssh://ci@host2'),
        entry('host3=libvirt:qemu+tcp://host3/system'),
        entry('docker:tcp://10.0.0.2:2375'),
      ],
      local,
    );
    expect(plans).toMatchObject([
      { kind: 'remote-libvirt', entry: { providerId: 'libvirt@host2' } },
      { kind: 'remote-docker', entry: { providerId: 'docker@host2' } },
      {
        kind: 'pending',
        entry: { providerId: 'libvirt@host3' },
        reason: expect.stringMatching(/qemu\+tcp:\/\/host3\/system does not run over SSH/),
        fix: expect.stringContaining('qemu+ssh://'),
      },
      {
        kind: 'pending',
        entry: { providerId: 'docker@10.0.0.2' },
        reason: expect.stringMatching(/tcp:\/\/10\.0\.0\.2:2375 does not run over SSH/),
        fix: 'Use ssh:// for 10.0.0.2, e.g. docker:ssh://user@10.0.0.2, or set DOCKER_HOST=tcp://10.0.0.2:2375 and drop the entry to use only that engine.',
      },
    ]);
  });

  it('reports local entries that would clash with the default providers, all at once', () => {
    const { plans, problems } = planHosts(
      [
        entry('libvirt:qemu:///session'),
        entry('mine=docker:unix:///var/run/docker.sock'),
        entry('lab=libvirt:qemu:///session'),
      ],
      local,
      'hosts',
    );
    expect(problems).toEqual([
      {
        path: 'hosts[0]',
        message:
          'libvirt:qemu:///session is not the endpoint the local libvirt provider uses (qemu:///system): set TESTBED_LIBVIRT_URI=qemu:///session to use it instead',
      },
      {
        path: 'hosts[1]',
        message:
          'docker:unix:///var/run/docker.sock is the endpoint of the local docker provider already; drop the name (mine=) or the entry',
      },
    ]);
    expect(plans).toMatchObject([{ kind: 'pending', entry: { providerId: 'libvirt@lab' } }]);
  });
});

describe('hosts in VmBackendRegistry.withDefaults', () => {
  const env = {
    HOME: '/h',
    TESTBED_LIBVIRT_URI: 'qemu:///system',
    DOCKER_HOST: 'unix:///nowhere.sock',
  };

  it('registers one provider per remote host beside the local ones; discovery marks pending ones unavailable without contacting them', async () => {
    const config = loadConfig(
      {
        ...env,
        TESTBED_HOSTS: 'libvirt:qemu:///system host2=libvirt:qemu+tcp://10.0.0.2/system',
      },
      1000,
    );
    const registry = VmBackendRegistry.withDefaults({ config, env });
    expect(registry.providers().map((p) => p.id)).toEqual(['libvirt', 'docker', 'libvirt@host2']);
    const remote = registry.get('libvirt@host2') as PendingHostProvider;
    expect(await remote.isAvailable()).toBe(false);
    expect(await remote.checkHealth()).toMatchObject({ healthy: false });
    await expect(remote.createProvisioner()).rejects.toBeInstanceOf(ProviderUnavailableError);
    const [status] = (await registry.discover()).filter((s) => s.provider.id === 'libvirt@host2');
    expect(status?.reason).toMatch(/does not run over SSH/);
    // It offers what libvirt offers, so an unmet need says "unavailable", not "lacks".
    expect(remote.capabilities()).toEqual(registry.get('libvirt')?.capabilities());
  });

  it('drives a libvirt host over SSH remotely, without what needs its files; nothing is contacted', () => {
    const config = loadConfig(
      { ...env, TESTBED_HOSTS: 'host3=libvirt:qemu+ssh://ci@10.0.0.3/system' },
      1000,
    );
    const ssh = VmBackendRegistry.withDefaults({ config, env }).get('libvirt@host3');
    expect(ssh).toBeInstanceOf(RemoteLibvirtProvider);
    const names = ssh?.capabilities().map((c) => c.kind);
    expect(names).toEqual(expect.arrayContaining(['ProvisionVm', 'SshAccess', 'PortForward']));
    expect(names).not.toContain('CloneVm');
    expect(names).not.toContain('WarmSnapshot');
  });

  it('drives a Docker engine over SSH remotely, without networks or power control; nothing is contacted', async () => {
    const config = loadConfig({ ...env, TESTBED_HOSTS: 'host3=docker:ssh://ci@10.0.0.3' }, 1000);
    const ssh = VmBackendRegistry.withDefaults({ config, env }).get('docker@host3');
    expect(ssh).toBeInstanceOf(RemoteDockerProvider);
    expect(ssh?.host).toEqual({ name: 'host3', uri: 'ssh://ci@10.0.0.3' });
    expect(await ssh?.isAvailable()).toBe(true);
    const names = ssh?.capabilities().map((c) => c.kind);
    expect(names).toEqual(
      expect.arrayContaining(['ProvisionVm', 'Exec', 'PortForward', 'CloneVm']),
    );
    for (const missing of ['NetworkOverlay', 'NetworkFaults', 'SharedBridge', 'PowerControl']) {
      expect(names).not.toContain(missing);
    }
    expect(ssh?.vmType()).toBe('Container');
  });

  it('takes the hosts option over TESTBED_HOSTS and names its clashes by option path', () => {
    const config = loadConfig({ ...env, TESTBED_HOSTS: 'docker:tcp://10.0.0.9:2375' }, 1000);
    const registry = VmBackendRegistry.withDefaults({
      config,
      env,
      hosts: [entry('docker:ssh://ci@host3')],
    });
    expect(registry.providers().map((p) => p.id)).toEqual(['libvirt', 'docker', 'docker@host3']);
    const error = (() => {
      try {
        VmBackendRegistry.withDefaults({ config, env, hosts: [entry('libvirt:qemu:///session')] });
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems[0]?.path).toBe('hosts[0]');
  });
});
