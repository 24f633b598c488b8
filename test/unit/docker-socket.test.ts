import { describe, expect, it } from 'vitest';
import { findDockerEndpoint } from '../../src/providers/docker/docker-socket.js';

const only =
  (...paths: string[]) =>
  (path: string) =>
    paths.includes(path);

describe('findDockerEndpoint', () => {
  it('finds the standard socket', () => {
    expect(findDockerEndpoint({ HOME: '/home/a' }, only('/var/run/docker.sock'))).toEqual({
      found: true,
      endpoint: 'unix:///var/run/docker.sock',
    });
  });

  it('finds a rootless or Desktop socket', () => {
    const env = { HOME: '/home/a', XDG_RUNTIME_DIR: '/run/user/1000' };
    expect(findDockerEndpoint(env, only('/run/user/1000/docker.sock')).endpoint).toBe(
      'unix:///run/user/1000/docker.sock',
    );
    expect(findDockerEndpoint(env, only('/home/a/.docker/desktop/docker.sock')).found).toBe(true);
  });

  it('trusts a tcp DOCKER_HOST without connecting', () => {
    expect(findDockerEndpoint({ DOCKER_HOST: 'tcp://10.0.0.5:2375' }, only())).toEqual({
      found: true,
      endpoint: 'tcp://10.0.0.5:2375',
    });
  });

  it('says why a unix DOCKER_HOST is not usable', () => {
    const result = findDockerEndpoint({ DOCKER_HOST: 'unix:///nope/docker.sock' }, only());
    expect(result.found).toBe(false);
    expect(result.reason).toMatch(/no socket at \/nope\/docker\.sock/);
  });

  it('lists where it looked when nothing is there', () => {
    const result = findDockerEndpoint({ HOME: '/home/a' }, only());
    expect(result.found).toBe(false);
    expect(result.reason).toMatch(/\/var\/run\/docker\.sock.*DOCKER_HOST is not set/);
  });

  it('says which group to join when the socket is there but this user may not open it', () => {
    const denied = () => false;
    const result = findDockerEndpoint(
      { HOME: '/home/a', USER: 'alice' },
      only('/var/run/docker.sock'),
      denied,
    );
    expect(result).toMatchObject({ found: false, endpoint: 'unix:///var/run/docker.sock' });
    expect(result.reason).toMatch(
      /\/var\/run\/docker\.sock .*user alice .*not in group docker.*sudo usermod -aG docker alice/,
    );
    const viaHost = findDockerEndpoint(
      { DOCKER_HOST: 'unix:///run/docker.sock', USER: 'alice' },
      only('/run/docker.sock'),
      denied,
    );
    expect(viaHost).toMatchObject({ found: false, reason: expect.stringMatching(/usermod/) });
  });

  it('never throws', () => {
    const broken = () => {
      throw new Error('EACCES');
    };
    expect(findDockerEndpoint({ HOME: '/h' }, broken)).toMatchObject({ found: false });
  });
});
