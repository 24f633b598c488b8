import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** Digest of a recipe folder: every file's path, executable bit and content. */
export interface RecipeDigest {
  /** Relative path to `<sha256>` (with ` +x` for executables), sorted by path. */
  files: Record<string, string>;
  /** SHA-256 over all of the above. */
  sha256: string;
}

/** Hashes every file under `dir`; a changed, added, removed or chmod-ed file changes the digest. */
export async function hashRecipeFiles(dir: string): Promise<RecipeDigest> {
  const paths = (await readdir(dir, { recursive: true })).sort();
  const files: Record<string, string> = {};
  for (const path of paths) {
    const info = await stat(join(dir, path));
    if (!info.isFile()) continue;
    const digest = createHash('sha256')
      .update(await readFile(join(dir, path)))
      .digest('hex');
    files[path] = info.mode & 0o111 ? `${digest} +x` : digest;
  }
  const sha256 = createHash('sha256').update(JSON.stringify(files)).digest('hex');
  return { files, sha256 };
}

/** A short cache key: the first 16 hex digits of the SHA-256 of `inputs` as JSON. */
export function cacheKey(inputs: unknown): string {
  return createHash('sha256').update(JSON.stringify(inputs)).digest('hex').slice(0, 16);
}

/** A version-4-shaped UUID derived from `key`: the same build gets the same filesystem UUID. */
export function uuidFromKey(key: string): string {
  const h = createHash('sha256').update(key).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
