import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hostAddressOf } from '../../src/ssh/host-address.js';
import { knownHostAccepts } from '../../src/ssh/known-hosts.js';

const env = { HOME: '/home/ci' };

describe('hostAddressOf', () => {
  it("reads libvirt's own URI parameters, so one URI configures virsh and testbed's tunnels", () => {
    expect(
      hostAddressOf(
        'qemu+ssh://ci@host2:2222/system?keyfile=/keys/ci&known_hosts=/keys/kh&no_verify=1',
        env,
      ),
    ).toEqual({
      host: 'host2',
      port: 2222,
      username: 'ci',
      keyFiles: ['/keys/ci'],
      knownHosts: '/keys/kh',
      noVerify: true,
    });
  });

  it("falls back to OpenSSH's defaults: port 22, the local user, ~/.ssh keys and known_hosts", () => {
    expect(hostAddressOf('qemu+libssh://[fd00::2]/system', env, () => 'me')).toEqual({
      host: 'fd00::2',
      port: 22,
      username: 'me',
      keyFiles: ['/home/ci/.ssh/id_ed25519', '/home/ci/.ssh/id_ecdsa', '/home/ci/.ssh/id_rsa'],
      knownHosts: '/home/ci/.ssh/known_hosts',
      noVerify: false,
    });
  });

  it('has no SSH address for a transport that is not SSH, or a local URI', () => {
    expect(hostAddressOf('qemu+tcp://host2/system', env)).toBeUndefined();
    expect(hostAddressOf('qemu:///system', env)).toBeUndefined();
    expect(hostAddressOf('not a uri', env)).toBeUndefined();
  });
});

describe('knownHostAccepts', () => {
  const key = 'AAAAC3NzaC1lZDI1NTE5AAAAIKeyKeyKey';

  it('accepts a plain line naming the host, on port 22 bare and on another port bracketed', () => {
    expect(knownHostAccepts(`other,host2 ssh-ed25519 ${key}\n`, 'host2', 22, key)).toBe(true);
    expect(knownHostAccepts(`[host2]:2222 ssh-ed25519 ${key}\n`, 'host2', 2222, key)).toBe(true);
    expect(knownHostAccepts(`host2 ssh-ed25519 ${key}\n`, 'host2', 2222, key)).toBe(false);
  });

  it('accepts a hashed line (HashKnownHosts) and refuses another key or a revoked one', () => {
    const salt = Buffer.from('0123456789abcdef0123');
    const hash = createHmac('sha1', salt).update('10.0.0.2').digest('base64');
    const hashed = `|1|${salt.toString('base64')}|${hash} ssh-ed25519 ${key}`;
    expect(knownHostAccepts(hashed, '10.0.0.2', 22, key)).toBe(true);
    expect(knownHostAccepts(hashed, '10.0.0.3', 22, key)).toBe(false);
    expect(knownHostAccepts(`host2 ssh-ed25519 ${key}`, 'host2', 22, 'AAAAother')).toBe(false);
    expect(
      knownHostAccepts(
        `host2 ssh-ed25519 ${key}\n@revoked host2 ssh-ed25519 ${key}`,
        'host2',
        22,
        key,
      ),
    ).toBe(false);
  });
});
