import { describe, expect, it } from 'vitest';
import { createBody } from '../../src/providers/docker/engine-container.js';
import { parseDockerSpec } from '../../src/providers/docker/spec.js';

describe('createBody (a container on a remote engine)', () => {
  it('publishes every asked port on the host loopback only, on a free port there', () => {
    const body = createBody({
      name: 'testbed-run-c-ab12',
      image: 'testbed/tiny:k',
      labels: { 'testbed.run': 'run' },
      spec: parseDockerSpec({ ports: [8080, { guest: 5432, host: 15432 }] }),
    });
    expect(body).toMatchObject({
      name: 'testbed-run-c-ab12',
      Image: 'testbed/tiny:k',
      Labels: { 'testbed.run': 'run' },
      ExposedPorts: { '8080/tcp': {}, '5432/tcp': {} },
      HostConfig: {
        PortBindings: {
          '8080/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
          // A fixed host port is the runner's end of the tunnel, not the engine host's.
          '5432/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
        },
      },
    });
  });

  it('carries env, command, entrypoint, hostname, hosts and limits as the engine API names them', () => {
    const body = createBody({
      name: 'n',
      image: 'i',
      labels: {},
      spec: parseDockerSpec({
        env: { A: '1', B: 'two words' },
        command: ['sleep', 'infinity'],
        entrypoint: ['/bin/sh', '-c'],
        hostname: 'far',
        hosts: { db: '10.200.1.11' },
        memoryMiB: 64,
        vcpus: 0.5,
      }),
    });
    expect(body).toMatchObject({
      Env: ['A=1', 'B=two words'],
      Cmd: ['sleep', 'infinity'],
      Entrypoint: ['/bin/sh', '-c'],
      Hostname: 'far',
      HostConfig: { ExtraHosts: ['db:10.200.1.11'], Memory: 64 * 1024 * 1024, NanoCpus: 5e8 },
    });
  });
});
