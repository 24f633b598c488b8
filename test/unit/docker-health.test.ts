import type { ContainerRuntimeClient } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { checkDockerHealth } from '../../src/providers/docker/health.js';

const reaper = async () => ({
  mode: 'testbed-labels' as const,
  image: 'testcontainers/ryuk:0.14.0',
  reason: 'not present',
});

function fakeClient(overrides: { version?: () => Promise<unknown> } = {}): ContainerRuntimeClient {
  const dockerode = {
    version: overrides.version ?? (async () => ({ Version: '20.10.24', ApiVersion: '1.41' })),
    info: async () => ({
      Containers: 5,
      ContainersRunning: 2,
      Images: 7,
      Driver: 'overlay2',
      Warnings: ['WARNING: No swap limit support'],
    }),
  };
  return { container: { dockerode } } as unknown as ContainerRuntimeClient;
}

describe('checkDockerHealth', () => {
  it('reports version, containers, images, reaper mode and warnings', async () => {
    const health = await checkDockerHealth({
      endpoint: { found: true, endpoint: 'unix:///var/run/docker.sock' },
      client: async () => fakeClient(),
      reaper,
      defaultImageStatus: async () => 'testbed/tiny:abc',
    });
    expect(health).toEqual({
      healthy: true,
      version: 'Docker Engine 20.10.24 (API 1.41)',
      resources: { vmsAvailable: 5, vmsRunning: 2 },
      warnings: ['WARNING: No swap limit support'],
      details: {
        endpoint: 'unix:///var/run/docker.sock',
        images: 7,
        storageDriver: 'overlay2',
        reaper: 'testbed-labels',
        reaperReason: 'not present',
        defaultImage: 'testbed/tiny:abc',
      },
    });
  });

  it('says why and how to fix when there is no engine, without connecting', async () => {
    let connected = false;
    const health = await checkDockerHealth({
      endpoint: {
        found: false,
        reason: 'DOCKER_HOST=unix:///x.sock but there is no socket at /x.sock',
      },
      client: async () => {
        connected = true;
        return fakeClient();
      },
      reaper,
    });
    expect(connected).toBe(false);
    expect(health.healthy).toBe(false);
    expect(health.warnings[0]).toMatch(/no socket at \/x\.sock.*Start the Docker engine/);
  });

  it('reports an engine that does not answer instead of throwing', async () => {
    const health = await checkDockerHealth({
      endpoint: { found: true, endpoint: 'unix:///var/run/docker.sock' },
      client: async () =>
        fakeClient({
          version: async () => {
            throw new Error('connect ECONNREFUSED /var/run/docker.sock');
          },
        }),
      reaper,
    });
    expect(health).toMatchObject({
      healthy: false,
      details: { endpoint: 'unix:///var/run/docker.sock' },
    });
    expect(health.warnings[0]).toMatch(/did not answer \(connect ECONNREFUSED/);
  });
});
