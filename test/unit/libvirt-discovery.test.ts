import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';

function provider(files: string[], uri = 'qemu:///system') {
  const env = { PATH: '/usr/bin:/bin', HOME: '/home/ada', TESTBED_LIBVIRT_URI: uri };
  return new LibvirtProvider({
    env,
    config: loadConfig(env, 1000),
    exists: (path) => files.includes(path),
  });
}

describe('LibvirtProvider discovery', () => {
  it('is available with virsh on PATH and the daemon socket present', async () => {
    const p = provider(['/usr/bin/virsh', '/var/run/libvirt/libvirt-sock']);
    expect(await p.isAvailable()).toBe(true);
    expect(await p.unavailableReason()).toBeUndefined();
  });

  it('says when virsh is missing and how to get it', async () => {
    const p = provider(['/var/run/libvirt/libvirt-sock']);
    expect(await p.isAvailable()).toBe(false);
    expect(await p.unavailableReason()).toBe(
      'virsh is not on PATH (Debian: apt-get install libvirt-clients)',
    );
  });

  it('names the socket it looked for when the daemon is not running', async () => {
    const p = provider(['/bin/virsh']);
    expect(await p.unavailableReason()).toBe(
      'libvirtd is not running for qemu:///system (no socket at /var/run/libvirt/libvirt-sock or /var/run/libvirt/virtqemud-sock)',
    );
  });

  it('treats a remote URI as available without connecting', async () => {
    expect(await provider(['/usr/bin/virsh'], 'qemu+ssh://builder/system').isAvailable()).toBe(
      true,
    );
  });

  it('follows a socket given in the URI', async () => {
    const p = provider(['/usr/bin/virsh'], 'qemu:///system?socket=/tmp/nowhere.sock');
    expect(await p.unavailableReason()).toContain('/tmp/nowhere.sock');
  });
});
