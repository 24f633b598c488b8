import { describe, expect, it } from 'vitest';
import { guestTransferError } from '../../src/ssh/guest-transfer-error.js';

describe('guestTransferError', () => {
  it.each([
    ["tar: can't change directory to '/nope': No such file or directory", 'not-found'],
    [
      'tar: ./nope: Cannot stat: No such file or directory\ntar: Exiting with failure status due to previous errors',
      'not-found',
    ],
    ["mkdir: can't create directory '/ro/x': Read-only file system", 'permission'],
    ['tar: ./f: Cannot open: Permission denied', 'permission'],
    ['tar: write error: No space left on device', 'no-space'],
    ["mkdir: can't create directory '/etc/passwd/x': Not a directory", 'not-a-directory'],
    ['cat: read error: Is a directory', 'not-a-directory'],
    ['tar: invalid tar magic', 'failed'],
  ])('classifies %j as %s', (stderr, reason) => {
    expect(guestTransferError('copyTo', '/srv/app', stderr, 1).reason).toBe(reason);
  });

  it('names the operation, the path, the telling line (not tar summary lines) and the fix', () => {
    const error = guestTransferError(
      'copyFrom',
      '/srv/app',
      'tar: ./app: No such file or directory\ntar: error exit delayed from previous errors\n',
      1,
    );
    expect(error).toMatchObject({ code: 'TESTBED_FILE_TRANSFER_FAILED', path: '/srv/app' });
    expect(error.message).toMatch(
      /^copyFrom: guest path \/srv\/app: tar: \.\/app: No such file or directory\n {2}Fix: Check the guest path/,
    );
  });

  it('falls back to the exit code when the guest said nothing', () => {
    expect(guestTransferError('readFile', '/x', '', 137).message).toMatch(
      /guest path \/x: exit 137/,
    );
  });
});
