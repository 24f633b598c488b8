import { describe, expect, it } from 'vitest';
import { archiveError } from '../../src/providers/docker/archive-error.js';
import { machinePort } from '../../src/providers/docker/machine-port.js';

const engine = (status: number, label: string, message: string) =>
  Object.assign(new Error(`(HTTP code ${status}) ${label} - ${message} `), { statusCode: status });

describe('archiveError', () => {
  it.each([
    [
      'Error processing tar file(exit status 1): write /small/a: no space left on device',
      'no-space',
    ],
    ['Error processing tar file(exit status 1): open /ro/x: read-only file system', 'permission'],
    ['container rootfs is marked read-only', 'permission'],
    [
      'Error processing tar file(exit status 1): mkdir /etc/passwd/x: not a directory',
      'not-a-directory',
    ],
    ['Could not find the file /nope in container c', 'not-found'],
    ['something else entirely', 'failed'],
  ])('reads %j as %s, naming the path and the fix', (message, reason) => {
    const error = archiveError(engine(500, 'server error', message), '/p', 'copyTo', 'm1');
    expect(error).toMatchObject({ reason, path: '/p', code: 'TESTBED_FILE_TRANSFER_FAILED' });
    expect(error.message).toContain(`copyTo: guest path /p in m1: ${message}\n  Fix: `);
    expect(error.message).not.toContain('HTTP code');
  });
});

describe('machinePort', () => {
  it('gives the published host port, and PortNotForwardedError listing the published ones otherwise', () => {
    expect(machinePort('m1', { '8080': 32768 }, 8080)).toBe(32768);
    expect(() => machinePort('m1', { '8080': 32768 }, 9999)).toThrow(
      /Port 9999 of m1 is not forwarded to this host \(forwarded: 8080\)[\s\S]*ports: \[8080, 9999\]/,
    );
  });
});
