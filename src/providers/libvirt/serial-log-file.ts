import { chmod, writeFile } from 'node:fs/promises';

/**
 * Creates the empty serial log a domain will append to, owned by this user and readable. On
 * qemu:///system libvirtd opens the file as root and hands it to QEMU; a file it creates itself
 * is root's, mode 0600, so a non-root user could never read its own machine's console.
 */
export async function createSerialLogFile(path: string): Promise<void> {
  await writeFile(path, '', { flag: 'a' });
  // writeFile's mode is filtered by the umask (0600 under umask 077).
  await chmod(path, 0o644);
}
