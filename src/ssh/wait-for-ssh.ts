import pRetry from 'p-retry';
import { TimeoutError } from '../core/errors.js';
import { withTimeout } from '../core/with-timeout.js';
import { sshExec } from './ssh-exec.js';
import type { SshTarget } from './ssh-target.js';

/** Options for `waitForSsh`. */
export interface WaitForSshOptions {
  /** Overall bound; rejects with `TimeoutError` (the last attempt's error as `cause`). Default 60 s. */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Bound on one attempt once the server has identified itself. Default 10 s. */
  attemptTimeoutMs?: number;
  /** Bound on the server's identification in the first attempt, growing by 10% per attempt. Default 1 s. */
  identTimeoutMs?: number;
}

/**
 * Resolves once `true` runs over SSH with exit code 0, retrying (p-retry) until then. Before a
 * guest's network is up, its forwarded port accepts the TCP connection and then stays silent
 * (QEMU's user-mode stack retries the guest side with growing delays), so an attempt whose server
 * has not identified itself within a second is dropped and a fresh one started; an attempt whose
 * server did answer gets the whole `attemptTimeoutMs`, however slow the guest.
 */
export async function waitForSsh(
  target: SshTarget,
  options: WaitForSshOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000;
  const identTimeoutMs = options.identTimeoutMs ?? 1_000;
  const operation = `waiting for SSH on ${target.host}:${target.port}`;
  let lastError: unknown;
  try {
    await withTimeout(
      operation,
      timeoutMs,
      (signal) =>
        pRetry(
          async (attempt) => {
            const result = await sshExec(target, 'true', {
              signal,
              timeoutMs: attemptTimeoutMs,
              identTimeoutMs: Math.min(attemptTimeoutMs, identTimeoutMs * 1.1 ** (attempt - 1)),
            });
            if (result.exitCode !== 0) {
              throw new Error(`\`true\` exited with ${result.exitCode}: ${result.stderr.trim()}`);
            }
          },
          {
            signal,
            retries: Number.POSITIVE_INFINITY,
            minTimeout: 100,
            maxTimeout: 500,
            factor: 1.5,
            randomize: false,
            onFailedAttempt: ({ error }) => {
              lastError = error;
            },
          },
        ),
      options.signal,
    );
  } catch (error) {
    if (error instanceof TimeoutError && !options.signal?.aborted) {
      throw new TimeoutError(operation, timeoutMs, {
        cause: lastError ?? error,
        fix: 'Check the machine console: did it boot, get the key and start its SSH server?',
      });
    }
    throw error;
  }
}
