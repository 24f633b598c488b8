import { chmod, writeFile } from 'node:fs/promises';

/**
 * Creates an empty file libvirtd will write (a serial log, a save image), owned by this user and
 * readable. On qemu:///system libvirtd opens such files as root; one it creates itself is root's,
 * mode 0600, so a non-root user could never read its own machine's console or snapshot.
 */
export async function createReadableFile(path: string): Promise<void> {
  await writeFile(path, '', { flag: 'a' });
  // writeFile's mode is filtered by the umask (0600 under umask 077).
  await chmod(path, 0o644);
}
