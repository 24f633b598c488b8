import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ensureRunDirectory,
  RUN_MANIFEST,
  readRunManifest,
} from '../../src/providers/libvirt/run-directory.js';

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
