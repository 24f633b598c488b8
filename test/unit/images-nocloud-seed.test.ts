import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CommandFailedError, isTestbedError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import { renderCloudUserData } from '../../src/images/cloud-user-data.js';
import { createNoCloudSeed, renderMetaData } from '../../src/images/nocloud-seed.js';

const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIN0cBp18vV5a17XXLDvcS11oecvuULjX8tptrrHVVMMU a@b';

describe('NoCloud seed files', () => {
  it('renders meta-data with the instance id and hostname', () => {
    expect(renderMetaData('i-1', 'web')).toBe('instance-id: "i-1"\nlocal-hostname: "web"\n');
  });

  const own = { hostname: 'web', authorizedKeys: [key], loginUser: 'debian' };

  it('renders #cloud-config with the hostname, the keys, and the login user with sudo', () => {
    const text = renderCloudUserData(own);
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    // The tiny image's shell parser reads these two as plain top-level lines.
    expect(text).toContain('\nhostname: web\n');
    expect(text).toContain(`\nssh_authorized_keys:\n  - ${key}\n`);
    expect(parse(text)).toEqual({
      hostname: 'web',
      ssh_authorized_keys: [key],
      users: [
        'default',
        {
          name: 'debian',
          sudo: 'ALL=(ALL) NOPASSWD:ALL',
          lock_passwd: true,
          ssh_authorized_keys: [key],
        },
      ],
    });
  });

  it('opens root when root is the login user', () => {
    const config = parse(renderCloudUserData({ ...own, loginUser: 'root' }));
    expect(config).toMatchObject({ disable_root: false, users: ['default'] });
  });

  it("merges the user's cloud-config, object or YAML string, keeping testbed's login", () => {
    const fromObject = parse(
      renderCloudUserData(own, {
        hostname: 'theirs',
        write_files: [{ path: '/etc/motd', content: 'hi' }],
        users: [{ name: 'app' }],
      }),
    );
    expect(fromObject.hostname).toBe('web');
    expect(fromObject.write_files).toEqual([{ path: '/etc/motd', content: 'hi' }]);
    expect(fromObject.users.map((u: { name?: string }) => u.name)).toEqual(['app', 'debian']);
    const fromYaml = parse(renderCloudUserData(own, '#cloud-config\nruncmd:\n  - [touch, /x]\n'));
    expect(fromYaml.runcmd).toEqual([['touch', '/x']]);
    expect(fromYaml.users.at(-1).name).toBe('debian');
  });

  it("sends a script as a second MIME part after testbed's cloud-config", () => {
    const text = renderCloudUserData(own, '#!/bin/sh\necho hi > /x\n');
    expect(text).toMatch(/^Content-Type: multipart\/mixed; boundary="(.+)"\n/);
    expect(text).toContain('Content-Type: text/cloud-config');
    expect(text).toContain('Content-Type: text/x-shellscript');
    expect(text).toContain('\nhostname: web\n');
  });

  it('rejects invalid user-data with a spec error naming it', () => {
    for (const bad of [
      '#cloud-config\nfoo: [unclosed',
      '#cloud-config\n- a list',
      'just text',
      42,
    ]) {
      let error: unknown;
      try {
        renderCloudUserData(own, bad as never);
      } catch (e) {
        error = e;
      }
      expect(isTestbedError(error, 'TESTBED_INVALID_SPEC'), String(bad)).toBe(true);
      expect((error as Error).message).toContain('userData:');
    }
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
      'user-data': renderCloudUserData({
        hostname: 'web',
        authorizedKeys: [key],
        loginUser: 'root',
      }),
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
