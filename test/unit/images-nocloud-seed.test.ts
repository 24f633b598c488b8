import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CommandFailedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import {
  createNoCloudSeed,
  renderMetaData,
  renderUserData,
} from '../../src/images/nocloud-seed.js';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN0cBp18vV5a17XXLDvcS11oecvuULjX8tptrrHVVMMU a@b';

describe('NoCloud seed files', () => {
  it('renders meta-data with the instance id and hostname', () => {
    expect(renderMetaData('i-1', 'web')).toBe('instance-id: "i-1"\nlocal-hostname: "web"\n');
  });

  it('renders #cloud-config user-data with hostname and every key', () => {
    expect(renderUserData('web', [key, key])).toBe(
      `#cloud-config\nhostname: "web"\nssh_authorized_keys:\n  - "${key}"\n  - "${key}"\n`,
    );
  });
});

describe('createNoCloudSeed', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-seed-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs xorriso with label cidata and both files as graft points', async () => {
    const calls: { file: string; args: readonly string[]; files: Record<string, string> }[] = [];
    const run: RunCommand = async (file, args) => {
      const files: Record<string, string> = {};
      for (const arg of args.filter((a) => a.includes('-data='))) {
        const [name, source] = arg.split('=') as [string, string];
        files[name] = await readFile(source, 'utf8');
      }
      calls.push({ file, args, files });
      return { stdout: '', stderr: '', exitCode: 0 };
    };
    const path = join(dir, 'seed.iso');
    const opts = { path, instanceId: 'i-1', hostname: 'web', authorizedKeys: [key] };
    await expect(createNoCloudSeed(opts, run)).resolves.toBe(path);
    expect(calls).toHaveLength(1);
    expect(calls[0]?.file).toMatch(/xorriso$/);
    expect(calls[0]?.args).toEqual(expect.arrayContaining(['-V', 'cidata', '-o', path]));
    expect(calls[0]?.files).toEqual({
      'user-data': renderUserData('web', [key]),
      'meta-data': renderMetaData('i-1', 'web'),
    });
    // The staging directory next to the ISO is gone (the fake xorriso wrote no ISO).
    expect(await readdir(dir)).toEqual([]);
  });

  it('reports every bad field at once', async () => {
    const bad = { path: '', instanceId: 'a"b', hostname: '-x_', authorizedKeys: ['not a key'] };
    const error = await createNoCloudSeed(bad).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'TESTBED_INVALID_SPEC' });
    const paths = (error as { problems: { path: string }[] }).problems.map((p) => p.path);
    expect(paths).toEqual([
      'seed.path',
      'seed.instanceId',
      'seed.hostname',
      'seed.authorizedKeys.0',
    ]);
  });

  it('names xorriso and the apt-get line when xorriso is missing', async () => {
    const opts = {
      path: join(dir, 's.iso'),
      instanceId: 'i',
      hostname: 'h',
      authorizedKeys: [key],
    };
    await expect(createNoCloudSeed(opts, undefined, { PATH: dir })).rejects.toMatchObject({
      code: 'TESTBED_IMAGE_BUILD_FAILED',
      message: expect.stringContaining('apt-get install -y --no-install-recommends xorriso'),
    });
  });

  it('leaves no partial ISO behind when xorriso fails', async () => {
    const path = join(dir, 'seed.iso');
    const run: RunCommand = async () => {
      await writeFile(path, 'half');
      throw new CommandFailedError('xorriso', 5, 'disk full');
    };
    const opts = { path, instanceId: 'i', hostname: 'h', authorizedKeys: [key] };
    await expect(createNoCloudSeed(opts, run)).rejects.toThrow(/disk full/);
    await expect(stat(path)).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});
