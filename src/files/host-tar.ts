import type { Stats } from 'node:fs';
import { lstat, mkdtemp, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-fs';
import { InvalidSpecError } from '../core/errors.js';
import { extractLoneFile } from './extract-lone-file.js';
import { hostFileError } from './host-file-error.js';
import { packLoneFile } from './pack-lone-file.js';
import { tarFsIo } from './tar-fs-io.js';

/** Rejects a guest path that is not absolute or names the root itself. */
export function checkGuestPath(guestPath: string, option = 'guestPath'): string {
  const normal = posix.normalize(guestPath);
  if (!posix.isAbsolute(normal) || normal === '/') {
    throw new InvalidSpecError(
      [
        {
          path: option,
          message: `must be an absolute path below / (got ${JSON.stringify(guestPath)})`,
        },
      ],
      { fix: 'Name the file or directory inside the machine by its absolute path, e.g. /srv/app.' },
    );
  }
  return normal.replace(/\/+$/, '');
}

/**
 * A tar stream of the host file or directory `hostPath` whose entries are named as `guestPath`
 * relative to `/` (no entries for its parents, which extraction creates): extract it at the
 * guest's `/`. Modes and symlinks are kept; owners become root (as `docker cp` does).
 */
export async function packHostPath(hostPath: string, guestPath: string): Promise<Readable> {
  const target = checkGuestPath(guestPath).slice(1);
  let stats: Stats;
  try {
    stats = await lstat(hostPath);
  } catch (error) {
    throw hostFileError(error, hostPath, 'copyTo');
  }
  const lone = stats.isFile() ? packLoneFile(hostPath, target, stats) : undefined;
  if (lone) return lone;
  const top = basename(hostPath);
  return pack(dirname(hostPath), {
    entries: [top],
    fs: tarFsIo,
    umask: 0,
    map: (header) => {
      header.name = target + header.name.slice(top.length);
      header.uid = 0;
      header.gid = 0;
      return header;
    },
  } as Parameters<typeof pack>[1]) as unknown as Readable;
}

/**
 * Extracts a tar stream whose entries sit under one top-level name (as `tar -c -C dir name` and
 * Docker's archive API produce) to `hostPath`, replacing what is there. It is written to a
 * temporary sibling first and renamed into place, so a failure leaves nothing half-written.
 */
export async function extractToHost(tar: Readable, hostPath: string): Promise<void> {
  const parent = dirname(hostPath);
  let staging: string;
  try {
    staging = await mkdtemp(join(parent, `.${basename(hostPath)}.testbed-`));
  } catch (error) {
    tar.destroy();
    throw hostFileError(error, parent, 'copyFrom');
  }
  try {
    const rest = await extractLoneFile(tar, join(staging, 'root'));
    if (rest) await extractEntries(rest, staging);
    await rm(hostPath, { recursive: true, force: true });
    await rename(join(staging, 'root'), hostPath);
  } catch (error) {
    throw (error as { code?: string }).code ? hostFileError(error, hostPath, 'copyFrom') : error;
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Extracts any archive under one top-level name to `staging/root`, through tar-fs. */
async function extractEntries(tar: Readable, staging: string): Promise<void> {
  let entries = 0;
  await pipeline(
    tar,
    extract(staging, {
      fs: tarFsIo,
      umask: 0,
      chown: false,
      map: (header) => {
        entries++;
        header.name = `root${header.name.replace(/^\.?\/*[^/]*/, '')}`;
        return header;
      },
    } as Parameters<typeof extract>[1]),
  );
  if (entries === 0) throw Object.assign(new Error('the archive was empty'), { code: 'ENOENT' });
}
