import { ImageBuildError } from '../core/errors.js';
import { findTool } from '../core/find-tool.js';

/** The Debian package that provides each tool a recipe runs. */
export const TOOL_PACKAGES: Readonly<Record<string, string>> = {
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'apt-config': 'apt',
  busybox: 'busybox-static',
  chroot: 'coreutils',
  cpio: 'cpio',
  docker: 'docker.io',
  'dpkg-deb': 'dpkg',
  e2fsck: 'e2fsprogs',
  env: 'coreutils',
  fstrim: 'util-linux',
  dropbear: 'dropbear-bin',
  gzip: 'gzip',
  losetup: 'mount',
  'mkfs.ext4': 'e2fsprogs',
  mmdebstrap: 'mmdebstrap',
  mount: 'mount',
  partx: 'util-linux',
  'qemu-img': 'qemu-utils',
  sfdisk: 'fdisk',
  sh: 'dash',
  truncate: 'coreutils',
  umount: 'mount',
  unshare: 'util-linux',
  xorriso: 'xorriso',
};

/**
 * Resolves each tool to its absolute path; throws one `ImageBuildError` naming every missing tool
 * and the `apt-get install` line that provides them all.
 */
export async function requireTools(
  tools: readonly string[],
  purpose: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, string>> {
  const found: Record<string, string> = {};
  const missing: string[] = [];
  for (const tool of tools) {
    const path = await findTool(tool, env);
    if (path) found[tool] = path;
    else missing.push(tool);
  }
  if (missing.length > 0) {
    const packages = [...new Set(missing.map((tool) => TOOL_PACKAGES[tool] ?? tool))];
    throw new ImageBuildError(`${purpose} needs ${missing.join(', ')}, which is not installed.`, {
      fix: `apt-get install -y --no-install-recommends ${packages.join(' ')}`,
    });
  }
  return found;
}
