import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { RunCommand } from '../../src/core/run-command.js';
import {
  ensureRunDirectory,
  RUN_MANIFEST,
  readRunManifest,
} from '../../src/providers/libvirt/run-directory.js';
import { listRunResources, removeRunResources } from '../../src/providers/libvirt/run-resources.js';
import { Virsh } from '../../src/providers/libvirt/virsh.js';

const roots: string[] = [];

async function runDir(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'testbed-run-directory-'));
  roots.push(root);
  return join(root, 'state', 'abcd1234');
}

afterEach(async () => {
  for (const root of roots.splice(0)) await rm(root, { recursive: true, force: true });
});

describe('run directory manifest', () => {
  it('records the owner with its host and reads it back', async () => {
    const dir = await runDir();
    const owner = { pid: 4242, startTime: 9999, host: 'boot-1/pid:[4026531836]' };
    await ensureRunDirectory(dir, { runId: 'abcd1234', owner });
    expect(await readRunManifest(dir)).toEqual({
      runId: 'abcd1234',
      owner,
      createdAt: expect.any(Number),
    });
  });

  it('reads a manifest written before hosts were recorded with no owner host', async () => {
    const dir = await runDir();
    await mkdir(dir, { recursive: true });
    const old = { runId: 'abcd1234', owner: { pid: 7, startTime: 8 }, createdAt: 9 };
    await writeFile(join(dir, RUN_MANIFEST), JSON.stringify(old));
    expect((await readRunManifest(dir))?.owner).toStrictEqual({ pid: 7, startTime: 8 });
  });
});

describe('run directories as resources', () => {
  const noDomains: RunCommand = async () => ({ stdout: '', stderr: '', exitCode: 0 });

  it('keeps the first manifest and leaves no temporary file behind', async () => {
    const dir = await runDir();
    const first = { runId: 'abcd1234', owner: { pid: 1, startTime: 1 } };
    await ensureRunDirectory(dir, first);
    await ensureRunDirectory(dir, { runId: 'abcd1234', owner: { pid: 2, startTime: 2 } });
    expect((await readRunManifest(dir))?.owner).toEqual(first.owner);
    expect(await readdir(dir)).toEqual([RUN_MANIFEST]);
  });

  it('lists a directory whose manifest was never written (its creator was killed), with an unknown owner, and removeRun removes it', async () => {
    const dir = await runDir();
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, RUN_MANIFEST), '');
    const stateDir = join(dir, '..');
    const virsh = new Virsh('qemu:///system', noDomains);
    expect(await listRunResources(virsh, stateDir)).toEqual([
      {
        providerId: 'libvirt',
        kind: 'directory',
        name: dir,
        runId: 'abcd1234',
        owner: { pid: 0, startTime: 0 },
        createdAt: expect.any(Number),
        kept: false,
      },
    ]);
    const report = await removeRunResources(virsh, stateDir, 'abcd1234');
    expect(report.failed).toEqual([]);
    expect(existsSync(dir)).toBe(false);
  });
});

describe('run directory creation', () => {
  it('keeps one manifest and no temporary file when many provisions create it at once', async () => {
    const dir = await runDir();
    const owners = Array.from({ length: 8 }, (_, i) => ({ pid: i + 1, startTime: 1 }));
    await Promise.all(owners.map((owner) => ensureRunDirectory(dir, { runId: 'abcd1234', owner })));
    expect(await readdir(dir)).toEqual([RUN_MANIFEST]);
    expect((await readRunManifest(dir))?.runId).toBe('abcd1234');
  });
});
