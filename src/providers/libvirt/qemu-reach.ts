import { readFileSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { QemuCannotReachError } from '../../core/errors.js';

/** The account libvirt's system daemon runs QEMU as. */
export interface QemuUser {
  /** Its name, e.g. `libvirt-qemu`. */
  name: string;
  /** Its uid. */
  uid: number;
  /** Its primary and supplementary gids. */
  gids: readonly number[];
}

/** What the reach check reads from the host; injected in tests. */
export interface HostFiles {
  /** A text file's content, or undefined when it is missing or unreadable. */
  readText(path: string): string | undefined;
  /** A path's mode and owner, or undefined when it does not exist. */
  stat(path: string): { mode: number; uid: number; gid: number } | undefined;
}

/** The host's real files. */
export const hostFiles: HostFiles = {
  readText: (path) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return undefined;
    }
  },
  stat: (path) => {
    try {
      const { mode, uid, gid } = statSync(path);
      return { mode, uid, gid };
    } catch {
      return undefined;
    }
  },
};

/**
 * The user QEMU runs as under qemu:///system: `user = "..."` of qemu.conf when readable (it is
 * root's, 0600, on Debian), else the distribution's account (`libvirt-qemu`, then `qemu`).
 * Undefined when QEMU runs as root or no such account exists: nothing to check then.
 */
export function qemuUser(files: HostFiles = hostFiles): QemuUser | undefined {
  const configured = /^\s*user\s*=\s*"([^"]+)"/m.exec(
    files.readText('/etc/libvirt/qemu.conf') ?? '',
  )?.[1];
  const passwd = (files.readText('/etc/passwd') ?? '').split('\n').map((l) => l.split(':'));
  const candidates = configured ? [configured] : ['libvirt-qemu', 'qemu'];
  for (const name of candidates) {
    const byUid = name.startsWith('+') ? Number(name.slice(1)) : undefined;
    const entry = passwd.find((f) =>
      byUid !== undefined ? Number(f[2]) === byUid : f[0] === name,
    );
    if (!entry || entry.length < 4) continue;
    const uid = Number(entry[2]);
    if (uid === 0) return undefined;
    const gids = new Set([Number(entry[3])]);
    for (const group of (files.readText('/etc/group') ?? '').split('\n')) {
      const fields = group.split(':');
      if (fields.length >= 4 && (fields[3] ?? '').split(',').includes(entry[0] ?? '')) {
        gids.add(Number(fields[2]));
      }
    }
    return { name: entry[0] ?? name, uid, gids: [...gids] };
  }
  return undefined;
}

/** Whether `user` may search (enter) a directory of this mode and owner. */
function maySearch(info: { mode: number; uid: number; gid: number }, user: QemuUser): boolean {
  if (info.uid === user.uid) return (info.mode & 0o100) !== 0;
  if (user.gids.includes(info.gid)) return (info.mode & 0o010) !== 0;
  return (info.mode & 0o001) !== 0;
}

/**
 * The first existing directory on the way to `path` (itself included) that `user` may not enter,
 * with its mode; undefined when every one is enterable. Directories testbed has yet to create
 * are skipped: it creates them enterable.
 */
export function unsearchableDirectory(
  path: string,
  user: QemuUser,
  files: HostFiles = hostFiles,
): { directory: string; mode: number } | undefined {
  const chain: string[] = [];
  for (let dir = resolve(path); ; dir = dirname(dir)) {
    chain.unshift(dir);
    if (dir === dirname(dir)) break;
  }
  for (const dir of chain) {
    const info = files.stat(dir);
    if (!info) return undefined;
    if (!maySearch(info, user)) return { directory: dir, mode: info.mode & 0o7777 };
  }
  return undefined;
}

/**
 * Throws `QemuCannotReachError` when libvirt's QEMU user could not enter a directory on the way
 * to one of `dirs` (testbed's state directory and image cache): a home of mode 0700 is the usual
 * trap for a non-root user on qemu:///system, where QEMU runs as `libvirt-qemu`, not as the user.
 */
export function checkQemuCanReach(
  dirs: readonly { path: string; what: string; variable: string }[],
  files: HostFiles = hostFiles,
): void {
  const user = qemuUser(files);
  if (!user) return;
  for (const { path, what, variable } of dirs) {
    const blocked = unsearchableDirectory(path, user, files);
    if (!blocked) continue;
    throw new QemuCannotReachError(
      blocked.directory,
      user.name,
      `libvirt's QEMU user ${user.name} cannot enter ${blocked.directory} (mode ${blocked.mode.toString(8).padStart(4, '0')}), on the way to ${what} ${path}: on qemu:///system QEMU runs as ${user.name}, not as you, and opens the disks and logs there.`,
      {
        fix: `Let it pass through (not list): \`chmod o+x ${blocked.directory}\`; or run QEMU as yourself with TESTBED_LIBVIRT_URI=qemu:///session; or set ${variable} to a directory ${user.name} can reach.`,
      },
    );
  }
}
