import { FileTransferError, type FileTransferFailure } from '../core/errors.js';
import { transferFix } from '../files/host-file-error.js';

/** What GNU and busybox tar, cat, mkdir and mv print (strerror texts), most telling first. */
const FAILURES: readonly [RegExp, FileTransferFailure][] = [
  [/No space left on device|Disk quota exceeded|File too large/i, 'no-space'],
  [/Permission denied|Read-only file system|Operation not permitted/i, 'permission'],
  [/Not a directory|Is a directory/i, 'not-a-directory'],
  [/No such file or directory|Cannot stat/i, 'not-found'],
];

/** Lines that say nothing about the cause (tar's summary of earlier errors). */
const NOISE = /error exit delayed|Exiting with failure status/i;

/** The `FileTransferError` for a guest-side command of a transfer that exited with `exitCode`. */
export function guestTransferError(
  operation: string,
  guestPath: string,
  stderr: string,
  exitCode: number,
): FileTransferError {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !NOISE.test(line));
  const reason = FAILURES.find(([pattern]) => pattern.test(stderr))?.[1] ?? 'failed';
  const telling = lines.find((line) => FAILURES.some(([pattern]) => pattern.test(line)));
  const detail = telling ?? lines[0] ?? `exit ${exitCode}`;
  return new FileTransferError(
    reason,
    guestPath,
    `${operation}: guest path ${guestPath}: ${detail}`,
    {
      fix: transferFix(reason, 'guest'),
    },
  );
}
