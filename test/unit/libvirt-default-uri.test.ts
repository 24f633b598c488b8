import { describe, expect, it } from 'vitest';
import { defaultLibvirtUri, type LibvirtAccess } from '../../src/core/default-libvirt-uri.js';

const host = (access: LibvirtAccess) => () => access;

describe('defaultLibvirtUri', () => {
  it('is the system daemon for root, without looking at the host', () => {
    const never = () => {
      throw new Error('root must not need host facts');
    };
    expect(defaultLibvirtUri(0, never)).toBe('qemu:///system');
  });

  it("is the system daemon for a member of group libvirt (Debian's polkit rule lets them in)", () => {
    expect(
      defaultLibvirtUri(1000, host({ groups: ['libvirt', 'kvm'], systemSocket: 'open' })),
    ).toBe('qemu:///system');
    // Even while the daemon is down: the error then names qemu:///system, the one set up.
    expect(defaultLibvirtUri(1000, host({ groups: ['libvirt'], systemSocket: 'missing' }))).toBe(
      'qemu:///system',
    );
  });

  it('is the system daemon when its socket is restricted to a group this user is in', () => {
    expect(defaultLibvirtUri(1000, host({ groups: ['virt'], systemSocket: 'restricted' }))).toBe(
      'qemu:///system',
    );
  });

  it('is the per-user session daemon for anyone else', () => {
    for (const systemSocket of ['open', 'denied', 'missing'] as const) {
      expect(defaultLibvirtUri(1000, host({ groups: ['ada'], systemSocket }))).toBe(
        'qemu:///session',
      );
    }
  });
});
