import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';

const hashes = new Map<string, Promise<string>>();

/** A file's SHA-256 (hex) and size, hashed once per process for each size and modification time. */
export async function contentHash(path: string): Promise<{ sha256: string; sizeBytes: number }> {
  const info = await stat(path);
  const key = `${path}\0${info.size}\0${info.mtimeMs}`;
  let hash = hashes.get(key);
  if (!hash) {
    const digest = createHash('sha256');
    hash = pipeline(createReadStream(path), digest).then(() => digest.digest('hex'));
    hashes.set(key, hash);
    hash.catch(() => hashes.delete(key));
  }
  return { sha256: await hash, sizeBytes: info.size };
}
