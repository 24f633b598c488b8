import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { cacheKey, hashRecipeFiles } from '../../src/images/hash-recipe-files.js';

describe('recipe cache key', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-recipe-'));
    await writeFile(join(dir, 'recipe.json'), '{"v":1}');
    await writeFile(join(dir, 'init'), '#!/bin/sh\n');
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const key = async () => cacheKey({ recipe: (await hashRecipeFiles(dir)).sha256, packages: [] });

  it('is stable for unchanged files', async () => {
    expect(await key()).toBe(await key());
    expect(await key()).toMatch(/^[0-9a-f]{16}$/);
  });

  it('changes when a file changes, is added, or becomes executable', async () => {
    const original = await key();
    await writeFile(join(dir, 'init'), '#!/bin/sh\necho changed\n');
    const changed = await key();
    await writeFile(join(dir, 'extra'), 'x');
    const added = await key();
    await chmod(join(dir, 'extra'), 0o755);
    const executable = await key();
    expect(new Set([original, changed, added, executable]).size).toBe(4);
  });

  it('changes when an input such as a package version changes', () => {
    const a = cacheKey({ recipe: 'r', packages: [['busybox-static', '1.35.0-4', 'aa']] });
    const b = cacheKey({ recipe: 'r', packages: [['busybox-static', '1.36.1-1', 'bb']] });
    expect(a).not.toBe(b);
  });

  it('lists every file with its hash and executable bit', async () => {
    const digest = await hashRecipeFiles(dir);
    expect(Object.keys(digest.files)).toEqual(['init', 'recipe.json']);
    await chmod(join(dir, 'init'), 0o755);
    expect((await hashRecipeFiles(dir)).files.init).toMatch(/^[0-9a-f]{64} \+x$/);
  });
});
