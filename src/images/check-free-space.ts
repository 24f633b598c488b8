import { statfs } from 'node:fs/promises';
import { ImageBuildError } from '../core/errors.js';

const MiB = 1024 * 1024;

/** Throws `ImageBuildError` before a build starts when `dir`'s filesystem has less than `neededBytes` free. */
export async function checkFreeSpace(
  dir: string,
  neededBytes: number,
  purpose: string,
  stat: (path: string) => Promise<{ bavail: number; bsize: number }> = statfs,
): Promise<void> {
  const { bavail, bsize } = await stat(dir);
  const free = bavail * bsize;
  if (free < neededBytes) {
    throw new ImageBuildError(
      `Only ${Math.floor(free / MiB)} MiB are free in ${dir}; ${purpose} needs about ${Math.ceil(neededBytes / MiB)} MiB.`,
      {
        fix: `Free space on that filesystem, or set TESTBED_BASE_IMAGE_PATH to a directory on a larger one.`,
      },
    );
  }
}
