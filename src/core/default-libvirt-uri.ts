import { accessSync, constants, readFileSync, statSync } from 'node:fs';

/** The system daemon's socket (monolithic libvirtd), the one group permissions apply to. */
const SYSTEM_SOCKET = '/var/run/libvirt/libvirt-sock';

/** What decides a non-root user's default libvirt URI, read from the host (injected in tests). */
export interface LibvirtAccess {
  /** Names of this process's groups. */
  groups: readonly string[];
  /**
   * The system socket: `restricted` when its mode lets only some users in and this one may open
   * it, `open` when anyone may open it (polkit then decides), `denied` or `missing`.
   */
  systemSocket: 'restricted' | 'open' | 'denied' | 'missing';
}

/** This process's groups by name, from /etc/group; empty when it cannot be read. */
function groupNames(): string[] {
  const gids = new Set(process.getgroups?.() ?? []);
  try {
    return readFileSync('/etc/group', 'utf8')
      .split('\n')
      .map((line) => line.split(':'))
      .filter((fields) => fields.length >= 3 && gids.has(Number(fields[2])))
      .map((fields) => fields[0] ?? '');
  } catch {
    return [];
  }
}

/** Reads `LibvirtAccess` from this host without connecting; never throws. */
export function hostLibvirtAccess(): LibvirtAccess {
  let systemSocket: LibvirtAccess['systemSocket'];
  try {
    const mode = statSync(SYSTEM_SOCKET).mode;
    try {
      accessSync(SYSTEM_SOCKET, constants.W_OK);
      systemSocket = (mode & 0o002) !== 0 ? 'open' : 'restricted';
    } catch {
      systemSocket = 'denied';
    }
  } catch {
    systemSocket = 'missing';
  }
  return { groups: groupNames(), systemSocket };
}

/**
 * The libvirt URI when none is configured: `qemu:///system` for root and for a user the system
 * daemon lets in (group libvirt, which Debian's polkit rule admits, or a socket restricted to a
 * group this user is in); otherwise `qemu:///session`, libvirt's per-user daemon, which needs no
 * privilege at all. Decided without connecting, so every process of a run agrees.
 */
export function defaultLibvirtUri(
  uid: number | undefined,
  access: () => LibvirtAccess = hostLibvirtAccess,
): 'qemu:///system' | 'qemu:///session' {
  if (uid === undefined || uid === 0) return 'qemu:///system';
  const { groups, systemSocket } = access();
  if (systemSocket === 'restricted' || groups.includes('libvirt')) return 'qemu:///system';
  return 'qemu:///session';
}
