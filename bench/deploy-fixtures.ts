import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A temporary directory holding one 50 MiB random file, for copy benchmarks. */
export async function withBigFile<T>(work: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'testbed-bench-'));
  try {
    const path = join(dir, 'big.bin');
    await writeFile(path, randomBytes(50 * 1024 * 1024));
    return await work(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Starts busybox httpd on guest port 8080 serving one small page. */
export const SERVE_8080 =
  'mkdir -p /tmp/www && echo bench > /tmp/www/index.html && httpd -p 8080 -h /tmp/www';
