import pRetry from 'p-retry';
import { TimeoutError } from '../core/errors.js';
import { withTimeout } from '../core/with-timeout.js';
import { sshExec } from './ssh-exec.js';
import type { SshTarget } from './ssh-target.js';

/** Options for `waitForSsh`. */
export interface WaitForSshOptions {
  /** Overall bound; rejects with `TimeoutError` (the last connection error as `cause`). Default 60 s. */
  timeoutMs?: number;
  /** Aborts the wait. */
  signal?: AbortSignal;
  /** Bound on each attempt. Default 5 s. */
  attemptTimeoutMs?: number;
}

/** Resolves once `true` runs over SSH with exit code 0, retrying with a short backoff until then. */
export async function waitForSsh(
  target: SshTarget,
  options: WaitForSshOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5_000;
  let lastError: unknown;
  const operation = `waiting for SSH on ${target.host}:${target.port}`;
  try {
    await withTimeout(
      operation,
      timeoutMs,
      (signal) =>
        pRetry(
          async () => {
            const result = await sshExec(target, 'true', {
              signal,
              timeoutMs: attemptTimeoutMs,
            });
            if (result.exitCode !== 0) {
              throw new Error(`\`true\` exited with ${result.exitCode}: ${result.stderr.trim()}`);
            }
          },
          {
            signal,
            retries: Number.POSITIVE_INFINITY,
            minTimeout: 100,
            maxTimeout: 1_000,
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
    if (error instanceof TimeoutError) {
      throw new TimeoutError(operation, timeoutMs, {
        cause: lastError ?? error,
        fix: 'Check the machine console: did it boot, get the key and start its SSH server?',
      });
    }
    throw error;
  }
}
