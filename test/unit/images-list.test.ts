import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { CommandFailedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import { listImages } from '../../src/images/list-images.js';
import { removeImage } from '../../src/images/remove-image.js';

const dockerDown: RunCommand = async (file, args) => {
  throw new CommandFailedError([file, ...args].join(' '), 1, 'Cannot connect to the Docker daemon');
};

describe('listImages', () => {
  let cacheDir: string | undefined;
  afterEach(async () => {
    if (cacheDir) await rm(cacheDir, { recursive: true, force: true });
  });

  it('lists what it can and reports a Docker engine that is down, instead of failing', async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'testbed-images-'));
    const listing = await listImages({
      cacheDir,
      run: dockerDown,
      env: { PATH: process.env.PATH },
    });
    expect(listing.images).toEqual([]);
    expect(listing.problems).toHaveLength(1);
    expect(listing.problems[0]).toMatch(
      /^tiny-container: could not list \(.*Cannot connect to the Docker daemon.*\); is the Docker engine running\?/,
    );
  });

  it('refuses to remove a container image it cannot see, naming the problem', async () => {
    cacheDir = await mkdtemp(join(tmpdir(), 'testbed-images-'));
    await expect(
      removeImage('tiny-container', { cacheDir, run: dockerDown, env: { PATH: process.env.PATH } }),
    ).rejects.toThrow(/Cannot remove tiny-container: tiny-container: could not list/);
  });
});
