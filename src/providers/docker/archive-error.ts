import { FileTransferError, type FileTransferFailure } from '../../core/errors.js';
import { transferFix } from '../../files/host-file-error.js';

/** The engine's words for each failure, as its archive API reports them (from the extracting tar or a stat). */
const REASONS: [RegExp, FileTransferFailure][] = [
  [/no space left on device|disk quota exceeded/i, 'no-space'],
  [
    /read-only file system|marked read-only|permission denied|operation not permitted/i,
    'permission',
  ],
  [/not a directory/i, 'not-a-directory'],
  [/could not find the file|no such file or directory/i, 'not-found'],
];

/** The engine's message without dockerode's `(HTTP code 500) server error - ` prefix. */
function engineMessage(error: unknown): string {
  return String((error as Error)?.message ?? error)
    .replace(/^\(HTTP code \d+\) [^-]*- /, '')
    .trim();
}

/** A `FileTransferError` for a failed archive call on the guest side, naming the path and the fix. */
export function archiveError(
  error: unknown,
  guestPath: string,
  operation: string,
  machine: string,
): FileTransferError {
  const detail = engineMessage(error);
  const reason = REASONS.find(([pattern]) => pattern.test(detail))?.[1] ?? 'failed';
  return new FileTransferError(
    reason,
    guestPath,
    `${operation}: guest path ${guestPath} in ${machine}: ${detail}`,
    { cause: error, fix: transferFix(reason, 'guest') },
  );
}
