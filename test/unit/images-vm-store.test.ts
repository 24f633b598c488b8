import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ImageBuildError } from '../../src/core/errors.js';
import type { RunCommand } from '../../src/core/run-command.js';
import type { ImageBuildContext, VmImageRecipe } from '../../src/images/image-recipe.js';
import { ensureVmImage } from '../../src/images/vm-image-store.js';

const noRun: RunCommand = async () => {
  throw new Error('no tools in this test');
};

/** A recipe whose key and build are under the test's control. */
function fakeRecipe(state: { key: string; builds: number; fail?: boolean }): VmImageRecipe {
  return {
    kind: 'vm',
    name: 'fake-vm',
    description: 'test',
    prepare: async () => ({ key: state.key, inputs: {} }),
    build: async (_context, _prepared, { outDir }) => {
      state.builds++;
      await writeFile(join(outDir, 'base.qcow2'), 'half');
      await new Promise((resolve) => setTimeout(resolve, 30));
      if (state.fail) throw new ImageBuildError('mkfs.ext4 failed');
      await writeFile(join(outDir, 'manifest.json'), '{}');
    },
  };
}

describe('ensureVmImage', () => {
  let context: ImageBuildContext;
  beforeEach(async () => {
    const cacheDir = await mkdtemp(join(tmpdir(), 'testbed-cache-'));
    context = { cacheDir, run: noRun, progress: () => {}, env: {} };
  });
  afterEach(async () => {
    await rm(context.cacheDir, { recursive: true, force: true });
  });

  it('builds once, then reuses the build while the key is unchanged', async () => {
    const state = { key: 'aaaa', builds: 0 };
    const first = await ensureVmImage(fakeRecipe(state), context);
    const second = await ensureVmImage(fakeRecipe(state), context);
    expect(first).toEqual({
      key: 'aaaa',
      location: join(context.cacheDir, 'fake-vm/aaaa'),
      built: true,
    });
    expect(second).toEqual({ ...first, built: false });
    expect(state.builds).toBe(1);
    expect(await readlink(join(context.cacheDir, 'fake-vm/current'))).toBe('aaaa');
  });

  it('rebuilds for a new key and keeps the old build for machines still using it', async () => {
    const state = { key: 'aaaa', builds: 0 };
    await ensureVmImage(fakeRecipe(state), context);
    state.key = 'bbbb';
    expect((await ensureVmImage(fakeRecipe(state), context)).built).toBe(true);
    expect((await readdir(join(context.cacheDir, 'fake-vm'))).sort()).toEqual([
      'aaaa',
      'bbbb',
      'current',
    ]);
    expect(await readlink(join(context.cacheDir, 'fake-vm/current'))).toBe('bbbb');
  });

  it('builds once when several callers race', async () => {
    const state = { key: 'aaaa', builds: 0 };
    const results = await Promise.all(
      [1, 2, 3].map(() => ensureVmImage(fakeRecipe(state), context)),
    );
    expect(state.builds).toBe(1);
    expect(results.filter((r) => r.built)).toHaveLength(1);
  });

  it('leaves nothing of a failed build in the cache', async () => {
    const state = { key: 'aaaa', builds: 0, fail: true };
    await expect(ensureVmImage(fakeRecipe(state), context)).rejects.toThrow('mkfs.ext4 failed');
    expect(await readdir(join(context.cacheDir, 'fake-vm'))).toEqual([]);
  });

  it('clears a build directory left by a builder that died', async () => {
    const state = { key: 'aaaa', builds: 0 };
    await mkdir(join(context.cacheDir, 'fake-vm/.build-dead/out'), { recursive: true });
    await ensureVmImage(fakeRecipe(state), context);
    expect((await readdir(join(context.cacheDir, 'fake-vm'))).sort()).toEqual(['aaaa', 'current']);
  });
});
