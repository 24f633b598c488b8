import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import { AbortedError, FileTransferError, TimeoutError } from '../../core/errors.js';
import type { TransferOptions } from '../../core/provider.js';
import { hostFileError } from '../../files/host-file-error.js';
import { checkGuestPath } from '../../files/host-tar.js';
import { archiveError } from './archive-error.js';
import { archiveStream } from './archive-stream.js';
import { uploadArchive } from './archive-upload.js';
import { isNoSuchContainer } from './docker-errors.js';
import { startExec } from './exec-stream.js';

const DEFAULT_TRANSFER_MS = 600_000;
/** Go's `os.ModeDir`, in the mode of Docker's path stat. */
const GO_MODE_DIR = 2 ** 31;

/** The container a transfer talks to, and how it is named in messages. */
export interface TransferTarget {
  docker: Dockerode;
  containerId: string;
  machine: string;
}

interface ContainerFacts {
  running: boolean;
  tmpfs: string[];
}

async function facts(target: TransferTarget, signal: AbortSignal): Promise<ContainerFacts> {
  const info = await target.docker
    .getContainer(target.containerId)
    .inspect({ abortSignal: signal });
  const mounts = (info.Mounts ?? []) as { Type?: string; Destination: string }[];
  return {
    running: Boolean(info.State?.Running),
    tmpfs: [
      ...Object.keys(info.HostConfig?.Tmpfs ?? {}),
      ...mounts.filter((m) => m.Type === 'tmpfs').map((m) => m.Destination),
    ],
  };
}

/** Docker's archive API reads and writes below tmpfs mounts, on the image layer they hide: refuse instead. */
function refuseTmpfs(facts: ContainerFacts, guestPath: string, operation: string, machine: string) {
  const mount = facts.tmpfs.find((m) => guestPath === m || guestPath.startsWith(`${m}/`));
  if (mount === undefined) return;
  throw new FileTransferError(
    'failed',
    guestPath,
    `${operation}: guest path ${guestPath} in ${machine} is on the tmpfs mount ${mount}, which Docker's archive API cannot reach (it would use the directory hidden under the mount).`,
    {
      fix: `Use a path outside ${mount}, or write it with exec (e.g. exec(['sh', '-c', 'cat > ${guestPath}'], { input })).`,
    },
  );
}

/** An error of the host side (reading the source), not of the engine. */
function isHostError(error: unknown): boolean {
  // fs errors name the path they failed on; socket errors to the engine (EPIPE) do not.
  return typeof (error as { path?: unknown }).path === 'string';
}

/** Runs one bounded transfer; an abort or timeout says which. */
async function bounded<T>(
  operation: string,
  options: TransferOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TRANSFER_MS;
  if (options.signal?.aborted) throw new AbortedError(operation, options.signal.reason);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  try {
    return await work(signal);
  } catch (error) {
    if (options.signal?.aborted) throw new AbortedError(operation, options.signal.reason);
    if (timeout.aborted) throw new TimeoutError(operation, timeoutMs, { cause: error });
    throw error;
  }
}

/** Whether `path` exists in the container (stat through the archive API, which works stopped too), and is a directory. */
async function stat(
  target: TransferTarget,
  path: string,
  signal: AbortSignal,
): Promise<{ directory: boolean } | undefined> {
  try {
    const response = (await target.docker
      .getContainer(target.containerId)
      .infoArchive({ path, abortSignal: signal })) as unknown as {
      headers: Record<string, string>;
      resume(): void;
    };
    response.resume();
    const header = response.headers['x-docker-container-path-stat'] ?? '';
    const { mode } = JSON.parse(Buffer.from(header, 'base64').toString('utf8') || '{}') as {
      mode?: number;
    };
    return { directory: ((mode ?? 0) & GO_MODE_DIR) !== 0 };
  } catch (error) {
    if ((error as { statusCode?: number }).statusCode === 404 && !isNoSuchContainer(error)) {
      return undefined;
    }
    throw error;
  }
}

/** What a failed copy to `guestPath` should take away: the first directory it created, or the file it overwrote. */
async function leftoverOf(
  target: TransferTarget,
  guestPath: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  let path = guestPath;
  const found = await stat(target, path, signal);
  if (found) return found.directory ? undefined : guestPath;
  for (;;) {
    const parent = posix.dirname(path);
    if (parent === '/' || (await stat(target, parent, signal))) return path;
    path = parent;
  }
}

async function removeLeftover(target: TransferTarget, path: string): Promise<boolean> {
  const removal = startExec(target.docker, target.containerId, ['rm', '-rf', '--', path]);
  removal.stdin.end();
  removal.stdout.resume();
  removal.stderr.resume();
  return (await removal.exited.catch(() => 1)) === 0;
}

/**
 * Extracts `tar` (entries named relative to `/`) at the container's `/` through the archive API,
 * running or stopped. When it fails, whatever it half-wrote at `guestPath` is removed (a stopped
 * container cannot run the removal: the error says so).
 */
export function putTar(
  target: TransferTarget,
  tar: Readable,
  guestPath: string,
  operation: string,
  options: TransferOptions & { hostPath?: string } = {},
): Promise<void> {
  return bounded(`${operation} ${guestPath} in ${target.machine}`, options, async (signal) => {
    const known = await facts(target, signal);
    refuseTmpfs(known, guestPath, operation, target.machine);
    const leftover = await leftoverOf(target, guestPath, signal);
    try {
      await uploadArchive(target.docker, target.containerId, tar, signal);
    } catch (error) {
      tar.destroy();
      const removed = leftover && known.running ? await removeLeftover(target, leftover) : false;
      if (isNoSuchContainer(error)) throw error;
      if (options.hostPath && isHostError(error)) {
        throw hostFileError(error, options.hostPath, operation);
      }
      const failure = archiveError(error, guestPath, operation, target.machine);
      if (leftover && !removed && !signal.aborted) {
        failure.message += `\n  The partial copy at ${leftover} is still there (the container is not running, so it could not be removed).`;
      }
      throw failure;
    }
  });
}

/** A tar stream of `guestPath` (one top-level entry, its base name) from the archive API, running or stopped. */
export function getTar<T>(
  target: TransferTarget,
  guestPath: string,
  operation: string,
  options: TransferOptions,
  consume: (tar: Readable) => Promise<T>,
): Promise<T> {
  const path = checkGuestPath(guestPath);
  return bounded(`${operation} ${path} from ${target.machine}`, options, async (signal) => {
    refuseTmpfs(await facts(target, signal), path, operation, target.machine);
    let tar: Readable;
    try {
      tar = await archiveStream(target.docker, target.containerId, path, signal);
    } catch (error) {
      if (isNoSuchContainer(error)) throw error;
      throw archiveError(error, path, operation, target.machine);
    }
    return consume(tar);
  });
}
