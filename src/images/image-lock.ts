import { link, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { TimeoutError } from '../core/errors.js';
import {
  currentHost,
  isOwnerAlive,
  processStartTime,
  type RunOwner,
  shortId,
} from '../core/run-context.js';

/** Options for `acquireImageLock`. */
export interface ImageLockOptions {
  /** Gives up with `TimeoutError` after this long. Default 15 minutes (a cold build plus slack). */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Called once when another live process holds the lock. */
  onWait?: (holder: RunOwner) => void;
  /** How often to look again. Default 200 ms. */
  pollMs?: number;
  /** Whether a lock's owner is still alive; injected for tests. */
  isAlive?: (owner: RunOwner) => boolean;
}

/** A held lock; release it exactly once. */
export interface ImageLock {
  /** Removes the lock file if this process still holds it. */
  release(): Promise<void>;
}

async function readOwner(path: string): Promise<{ text: string; owner?: RunOwner } | undefined> {
  try {
    const text = await readFile(path, 'utf8');
    try {
      const parsed = JSON.parse(text) as Partial<RunOwner>;
      if (typeof parsed.pid === 'number' && typeof parsed.startTime === 'number') {
        const host = typeof parsed.host === 'string' ? { host: parsed.host } : {};
        return { text, owner: { pid: parsed.pid, startTime: parsed.startTime, ...host } };
      }
    } catch {}
    return { text };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Takes an exclusive lock file holding this process's pid and start time. A lock whose owner is
 * dead (or unreadable after a crash mid-write) is broken: it is renamed away, and restored if it
 * turns out another process replaced it in between.
 */
export async function acquireImageLock(
  path: string,
  options: ImageLockOptions = {},
): Promise<ImageLock> {
  const { timeoutMs = 15 * 60_000, pollMs = 200, isAlive = isOwnerAlive } = options;
  const me: RunOwner = {
    pid: process.pid,
    startTime: processStartTime(process.pid),
    host: currentHost(),
  };
  const token = JSON.stringify({ ...me, id: shortId() });
  const deadline = Date.now() + timeoutMs;
  let reportedWait = false;
  for (;;) {
    options.signal?.throwIfAborted();
    try {
      await writeFile(path, token, { flag: 'wx', mode: 0o644 });
      return {
        release: async () => {
          if ((await readOwner(path))?.text === token) await unlink(path).catch(() => {});
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = await readOwner(path);
    if (holder && (!holder.owner || !isAlive(holder.owner))) {
      await breakStaleLock(path, holder.text);
      continue;
    }
    if (holder?.owner && !reportedWait) {
      reportedWait = true;
      options.onWait?.(holder.owner);
    }
    if (Date.now() >= deadline) {
      throw new TimeoutError(`waiting for the lock ${path}`, timeoutMs, {
        fix: `Another build holds it (${holder?.text ?? 'unknown owner'}); wait for it, or remove the file if that process is gone.`,
      });
    }
    await sleep(pollMs, undefined, options.signal ? { signal: options.signal } : {}).catch(
      (error: unknown) => {
        options.signal?.throwIfAborted();
        throw error;
      },
    );
  }
}

async function breakStaleLock(path: string, staleText: string): Promise<void> {
  const aside = `${path}.stale-${shortId()}`;
  try {
    await rename(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  if ((await readOwner(aside))?.text !== staleText) {
    // A live process took the lock between our read and the rename: put its lock back.
    await link(aside, path).catch(() => {});
  }
  await unlink(aside).catch(() => {});
}
