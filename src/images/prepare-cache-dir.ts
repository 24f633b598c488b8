import { access, chmod, constants, mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { ImageBuildError } from '../core/errors.js';

/**
 * Creates `dir` and any missing parents with mode 0755, so libvirt's qemu user can reach base
 * images, and checks it is writable; a permission problem names the directory and the way out.
 */
export async function prepareCacheDir(dir: string): Promise<void> {
  try {
    const first = await mkdir(dir, { recursive: true, mode: 0o755 });
    // mkdir's mode is filtered by the umask; set it on every directory this call created.
    for (let path = dir; first && path.length >= first.length; path = dirname(path)) {
      await chmod(path, 0o755);
      if (path === first) break;
    }
    await access(dir, constants.W_OK | constants.X_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM' && code !== 'EROFS') throw error;
    throw new ImageBuildError(
      `Cannot write the image cache ${dir} as user id ${process.getuid?.() ?? '?'} (${code}).`,
      {
        cause: error,
        fix: 'Run as root (e.g. `sudo npx testbed images build`), or set TESTBED_BASE_IMAGE_PATH to a directory you can write.',
      },
    );
  }
}
