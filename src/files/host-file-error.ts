import { FileTransferError, type FileTransferFailure } from '../core/errors.js';

const REASONS: Record<string, FileTransferFailure> = {
  ENOENT: 'not-found',
  EACCES: 'permission',
  EPERM: 'permission',
  EROFS: 'permission',
  ENOSPC: 'no-space',
  EDQUOT: 'no-space',
  ENOTDIR: 'not-a-directory',
};

const FIXES: Record<FileTransferFailure, string> = {
  'not-found': 'Check the path; parent directories on the host must exist.',
  permission: 'Choose a path this process may read or write, or change its permissions.',
  'no-space': 'Free space on that filesystem; nothing half-written was kept.',
  'not-a-directory': 'A component of the path is a file, not a directory.',
  failed: 'See the cause.',
};

/** A `FileTransferError` for a failed host-side file operation (`ENOENT`, `EACCES`, `ENOSPC`, ...). */
export function hostFileError(
  error: unknown,
  hostPath: string,
  operation: string,
): FileTransferError {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  const reason = REASONS[code] ?? 'failed';
  const what = reason === 'failed' ? (error as Error).message : code;
  return new FileTransferError(reason, hostPath, `${operation}: host path ${hostPath}: ${what}`, {
    cause: error,
    fix: FIXES[reason],
  });
}

/** The fix text for a failure reason, for providers reporting guest-side failures. */
export function transferFix(reason: FileTransferFailure, side: 'host' | 'guest'): string {
  if (side === 'host') return FIXES[reason];
  switch (reason) {
    case 'not-found':
      return 'Check the guest path (parent directories of a copy target are created; the source must exist).';
    case 'permission':
      return "The machine's login user may not write there: choose another path, or copy as root.";
    case 'no-space':
      return "The guest's filesystem is full: free space or give the machine a bigger disk; the partial copy was removed.";
    default:
      return FIXES[reason];
  }
}
