import pRetry, { AbortError } from 'p-retry';
import { SshAuthRefusedError, TimeoutError } from '../core/errors.js';
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
  /** How long the server may refuse the key once it answers before the wait gives up. Default 20 s. */
  authGraceMs?: number;
  /** Bound on the server's identification in the first attempt, growing by 10% per attempt. Default 1 s. */
  identTimeoutMs?: number;
}

/** Debian's and Ubuntu's answer to root when another user is the image's login user. */
const LOGIN_AS = /Please login as the user "([^"]+)"/;

/** True when ssh2 gave up on authentication somewhere in the error's cause chain. */
function isAuthFailure(error: unknown): boolean {
  for (
    let e = error as { cause?: unknown; level?: string } | undefined;
    e;
    e = e.cause as typeof e
  ) {
    if (e.level === 'client-authentication') return true;
  }
  return false;
}

function wrongUser(target: SshTarget, user: string): SshAuthRefusedError {
  return new SshAuthRefusedError(
    target.username,
    `SSH as ${target.username} on ${target.host}:${target.port} is refused by the image: it says to log in as '${user}'.`,
    { fix: `Set sshUser: '${user}' in the spec (testbed's seed gives that user the key).` },
  );
}

function keyRefused(target: SshTarget, graceMs: number, cause: unknown): SshAuthRefusedError {
  return new SshAuthRefusedError(
    target.username,
    `SSH on ${target.host}:${target.port} answers but refuses testbed's key for '${target.username}' (for ${Math.round(graceMs / 1000)} s).`,
    {
      cause,
      fix: `Set sshUser to the image's login user (Debian cloud: debian, Ubuntu: ubuntu), or use an image with cloud-init, which installs the seed's key for that user; an image without cloud-init never gets testbed's key.`,
    },
  );
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
  const operation = `waiting for SSH as ${target.username} on ${target.host}:${target.port}`;
  const authGraceMs = options.authGraceMs ?? 20_000;
  let lastError: unknown;
  let refusedSince: number | undefined;
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
            const redirect = LOGIN_AS.exec(`${result.stdout}\n${result.stderr}`);
            if (redirect) throw new AbortError(wrongUser(target, redirect[1] ?? ''));
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
              if (!isAuthFailure(error)) return;
              refusedSince ??= Date.now();
              // The server answered and keeps refusing the key: waiting longer will not help.
              if (Date.now() - refusedSince >= authGraceMs)
                throw keyRefused(target, authGraceMs, error);
            },
          },
        ),
      options.signal,
    );
  } catch (error) {
    if (error instanceof TimeoutError && !options.signal?.aborted) {
      const last = lastError instanceof Error ? lastError.message.split('\n')[0] : undefined;
      throw new TimeoutError(`${operation}${last ? ` (last attempt: ${last})` : ''}`, timeoutMs, {
        cause: lastError ?? error,
        fix: 'Check the machine console: did it boot, get the key and start its SSH server?',
      });
    }
    throw error;
  }
}
