import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';

let withVirsh: string;
let withoutVirsh: string;

beforeAll(async () => {
  withVirsh = await mkdtemp(join(tmpdir(), 'testbed-path-'));
  withoutVirsh = await mkdtemp(join(tmpdir(), 'testbed-path-'));
  await writeFile(join(withVirsh, 'virsh'), '#!/bin/sh\n');
  await chmod(join(withVirsh, 'virsh'), 0o755);
});

afterAll(async () => {
  await rm(withVirsh, { recursive: true, force: true });
  await rm(withoutVirsh, { recursive: true, force: true });
});

function provider(sockets: string[], options: { virsh?: boolean; uri?: string } = {}) {
  const env = {
    PATH: options.virsh === false ? withoutVirsh : withVirsh,
    HOME: '/home/ada',
    TESTBED_LIBVIRT_URI: options.uri ?? 'qemu:///system',
  };
  return new LibvirtProvider({
    env,
    config: loadConfig(env, 1000),
    exists: (path) => sockets.includes(path),
  });
}

describe('LibvirtProvider discovery', () => {
  it('is available with virsh on PATH and the daemon socket present', async () => {
    const p = provider(['/var/run/libvirt/libvirt-sock']);
    expect(await p.isAvailable()).toBe(true);
    expect(await p.unavailableReason()).toBeUndefined();
  });

  it('says when virsh is missing and how to get it', async () => {
    const p = provider(['/var/run/libvirt/libvirt-sock'], { virsh: false });
    expect(await p.isAvailable()).toBe(false);
    expect(await p.unavailableReason()).toBe(
      'virsh is not on PATH (Debian: apt-get install libvirt-clients)',
    );
  });

  it('names the socket it looked for when the daemon is not running', async () => {
    expect(await provider([]).unavailableReason()).toBe(
      'libvirtd is not running for qemu:///system (no socket at /var/run/libvirt/libvirt-sock or /var/run/libvirt/virtqemud-sock)',
    );
  });

  it('treats a remote URI as available without connecting', async () => {
    expect(await provider([], { uri: 'qemu+ssh://builder/system' }).isAvailable()).toBe(true);
  });

  it('bounds its checks longer while the session daemon its first connection starts is not up', () => {
    const session = { uri: 'qemu:///session' };
    expect(provider([], session).checkTimeoutMs(5000)).toBe(30_000);
    expect(provider(['/home/ada/.cache/libvirt/libvirt-sock'], session).checkTimeoutMs(5000)).toBe(
      5000,
    );
    expect(provider([]).checkTimeoutMs(5000)).toBe(5000);
    expect(provider([], { uri: 'qemu+ssh://builder/session' }).checkTimeoutMs(5000)).toBe(5000);
  });

  it('follows a socket given in the URI', async () => {
    const p = provider([], { uri: 'qemu:///system?socket=/tmp/nowhere.sock' });
    expect(await p.unavailableReason()).toContain('/tmp/nowhere.sock');
  });
});
