import { describe, expect, it } from 'vitest';
import { freshIdentityScript } from '../../src/providers/libvirt/guest-identity.js';

describe('a restored machine’s identity', () => {
  it('is new each time: a machine-id and an ed25519 host key, made on the host', () => {
    const [idA, keyA] = freshIdentityScript('tb-a');
    const [idB, keyB] = freshIdentityScript('tb-b');
    expect(idA).toMatch(
      /^if \[ -s \/etc\/machine-id \]; then echo [0-9a-f]{32} >\/etc\/machine-id; fi$/,
    );
    expect(idA).not.toBe(idB);
    expect(keyA).toContain('-----BEGIN OPENSSH PRIVATE KEY-----');
    expect(keyA).toMatch(/echo 'ssh-ed25519 \S+ root@tb-a' >\/etc\/ssh\/ssh_host_ed25519_key\.pub/);
    expect(keyA).not.toBe(keyB);
  });

  it('touches only what the image has, and never reloads sshd under the open connection', () => {
    const [id, key] = freshIdentityScript('tb-c');
    expect(id).toMatch(/^if \[ -s \/etc\/machine-id \]/);
    expect(key).toMatch(/^if \[ -f \/etc\/ssh\/sshd_config \]; then .* fi$/s);
    expect(key).not.toMatch(/reload|HUP/);
  });
});
