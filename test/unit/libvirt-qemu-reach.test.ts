import { describe, expect, it } from 'vitest';
import { QemuCannotReachError } from '../../src/core/errors.js';
import {
  checkQemuCanReach,
  type HostFiles,
  qemuUser,
  unsearchableDirectory,
} from '../../src/providers/libvirt/qemu-reach.js';

const PASSWD = [
  'root:x:0:0:root:/root:/bin/bash',
  'ada:x:1000:1000::/home/ada:/bin/bash',
  'libvirt-qemu:x:64055:108:Libvirt Qemu:/var/lib/libvirt:/usr/sbin/nologin',
].join('\n');
const GROUP = [
  'root:x:0:',
  'kvm:x:108:',
  'ada:x:1000:',
  'libvirt-qemu:x:64055:libvirt-qemu',
  'shared:x:2000:libvirt-qemu,ada',
].join('\n');

/** A host whose directories have the given modes (owner ada, group ada, unless said). */
function fakeHost(
  dirs: Record<string, number | { mode: number; uid?: number; gid?: number }>,
  extra: Record<string, string> = {},
): HostFiles {
  const texts: Record<string, string> = { '/etc/passwd': PASSWD, '/etc/group': GROUP, ...extra };
  return {
    readText: (path) => texts[path],
    stat: (path) => {
      const entry = dirs[path];
      if (entry === undefined) return undefined;
      const { mode, uid = 1000, gid = 1000 } = typeof entry === 'number' ? { mode: entry } : entry;
      return { mode: 0o40000 | mode, uid, gid };
    },
  };
}

const home = (mode: number) =>
  fakeHost({
    '/': { mode: 0o755, uid: 0, gid: 0 },
    '/home': { mode: 0o755, uid: 0, gid: 0 },
    '/home/ada': mode,
    '/home/ada/.cache': 0o755,
    '/home/ada/.cache/testbed': 0o755,
  });

describe("libvirt's QEMU user", () => {
  it("is Debian's libvirt-qemu, with its groups, when qemu.conf cannot be read", () => {
    expect(qemuUser(home(0o755))).toEqual({
      name: 'libvirt-qemu',
      uid: 64055,
      gids: [108, 64055, 2000],
    });
  });

  it('is the user qemu.conf names; none when QEMU runs as root', () => {
    const asRoot = fakeHost({}, { '/etc/libvirt/qemu.conf': 'user = "root"\n' });
    expect(qemuUser(asRoot)).toBeUndefined();
    const asAda = fakeHost({}, { '/etc/libvirt/qemu.conf': '#user = "x"\nuser = "+1000"\n' });
    expect(qemuUser(asAda)?.name).toBe('ada');
  });
});

describe('unsearchableDirectory', () => {
  const user = { name: 'libvirt-qemu', uid: 64055, gids: [108, 2000] };

  it('finds a home of mode 0700 on the way to the state directory', () => {
    expect(unsearchableDirectory('/home/ada/.cache/testbed/runs', user, home(0o700))).toEqual({
      directory: '/home/ada',
      mode: 0o700,
    });
  });

  it('lets through a home others may enter, and skips what testbed has yet to create', () => {
    expect(
      unsearchableDirectory('/home/ada/.cache/testbed/runs', user, home(0o711)),
    ).toBeUndefined();
  });

  it('counts group permissions for a group the QEMU user is in, not for others', () => {
    const viaGroup = (gid: number) =>
      fakeHost({ '/': { mode: 0o755, uid: 0, gid: 0 }, '/srv': { mode: 0o750, uid: 0, gid } });
    expect(unsearchableDirectory('/srv', user, viaGroup(2000))).toBeUndefined();
    expect(unsearchableDirectory('/srv', user, viaGroup(1000))).toEqual({
      directory: '/srv',
      mode: 0o750,
    });
  });
});

describe('checkQemuCanReach', () => {
  it('throws a coded error naming the directory, the QEMU user and the fixes', () => {
    const dirs = [
      {
        path: '/home/ada/.cache/testbed/runs',
        what: "testbed's state directory",
        variable: 'TESTBED_STATE_DIR',
      },
    ];
    let error: unknown;
    try {
      checkQemuCanReach(dirs, home(0o700));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(QemuCannotReachError);
    expect(error).toMatchObject({
      code: 'TESTBED_QEMU_CANNOT_REACH',
      directory: '/home/ada',
      qemuUser: 'libvirt-qemu',
    });
    const message = (error as Error).message;
    expect(message).toMatch(/libvirt-qemu cannot enter \/home\/ada \(mode 0700\)/);
    expect(message).toMatch(/chmod o\+x \/home\/ada/);
    expect(message).toMatch(/TESTBED_LIBVIRT_URI=qemu:\/\/\/session/);
    expect(message).toMatch(/TESTBED_STATE_DIR/);
    expect(() => checkQemuCanReach(dirs, home(0o751))).not.toThrow();
  });
});
