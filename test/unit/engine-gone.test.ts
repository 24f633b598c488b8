import { describe, expect, it } from 'vitest';
import { HostUnreachableError } from '../../src/core/errors.js';
import { engineFailure } from '../../src/providers/docker/engine-gone.js';

const host = {
  id: 'docker@host2',
  uri: 'ssh://ci@host2',
  setupHint: 'Check that `docker -H ssh://ci@host2 version` works from here.',
};

describe('engineFailure', () => {
  it('keeps a failure of an engine that still answers as it is', async () => {
    const failure = new Error('image nope:1 not found');
    expect(await engineFailure(failure, async () => 'OK', host, 1000)).toBe(failure);
  });

  it('makes a failure of an engine that stopped answering a HostUnreachableError naming the host', async () => {
    const failure = new Error('socket hang up');
    const ping = async () => {
      throw new Error('`docker system dial-stdio` on docker@host2 exited with 1: Cannot connect');
    };
    const error = await engineFailure(failure, ping, host, 1000);
    expect(error).toBeInstanceOf(HostUnreachableError);
    expect((error as HostUnreachableError).code).toBe('TESTBED_HOST_UNREACHABLE');
    expect((error as Error).message).toMatch(
      /^Host docker@host2 \(ssh:\/\/ci@host2\) cannot be reached: its Docker engine stopped answering \(`docker system dial-stdio` on docker@host2 exited with 1: Cannot connect\); the failure was: socket hang up/,
    );
    expect((error as Error).cause).toBe(failure);
    expect((error as HostUnreachableError).fix).toBe(host.setupHint);
  });

  it('bounds the ping: an engine that never answers is unreachable after the timeout', async () => {
    const error = await engineFailure(new Error('timeout'), () => new Promise(() => {}), host, 50);
    expect((error as Error).message).toContain('docker@host2: ping did not finish within 50 ms');
  });

  it('passes an unreachable host on without asking again', async () => {
    const unreachable = new HostUnreachableError(host.id, host.uri, 'no SSH answer');
    let pinged = false;
    const ping = async () => {
      pinged = true;
    };
    expect(await engineFailure(unreachable, ping, host, 1000)).toBe(unreachable);
    expect(pinged).toBe(false);
  });
});
