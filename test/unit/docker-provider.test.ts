import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { formatCapability } from '../../src/core/capabilities.js';
import { isTestbedError } from '../../src/core/errors.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { createRunContext } from '../../src/core/run-context.js';
import { DockerProvider } from '../../src/providers/docker/index.js';
import { fakeProvider } from './fake-provider.js';

const stopped = { DOCKER_HOST: 'unix:///nonexistent/testbed/docker.sock', HOME: '/nonexistent' };

describe('DockerProvider discovery', () => {
  it('offers container capabilities, truthfully: files and ports, no serial console, no SSH by default', () => {
    const caps = new DockerProvider({ env: stopped }).capabilities().map(formatCapability);
    expect(caps).toEqual([
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
    ]);
  });

  it('is unavailable, with the reason, when DOCKER_HOST points at a missing socket', async () => {
    const provider = new DockerProvider({ env: stopped });
    expect(await provider.isAvailable()).toBe(false);
    expect(provider.endpoint().reason).toMatch(/no socket at \/nonexistent\/testbed\/docker\.sock/);
    const health = await provider.checkHealth();
    expect(health.healthy).toBe(false);
    expect(health.warnings[0]).toMatch(/no socket at .*Start the Docker engine/);
    const error = await provider
      .createProvisioner({ run: createRunContext() })
      .catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_PROVIDER_UNAVAILABLE')).toBe(true);
  });

  it('lets findBest fall through to another provider when the daemon is not there', async () => {
    const registry = new ProviderRegistry()
      .register(new DockerProvider({ env: stopped }))
      .register(fakeProvider({ id: 'libvirt', capabilities: ['ProvisionVm', 'Exec'] }));
    const best = await registry.findBest(['Exec']);
    expect(best.id).toBe('libvirt');
  });

  it('does not load testcontainers for discovery', async () => {
    const provider = new DockerProvider({ env: stopped });
    await provider.isAvailable();
    await provider.checkHealth();
    const cache = createRequire(import.meta.url).cache;
    expect(
      Object.keys(cache).filter((path) => path.includes('/node_modules/testcontainers/')),
    ).toEqual([]);
  });
});
