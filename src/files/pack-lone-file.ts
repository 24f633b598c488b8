import type { Stats } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { type ChunkUser, LEND_CHUNKS, type LendingReadable } from './lend-chunks.js';
import { encodeFileHeader, TAR_BLOCK } from './tar-header.js';

/** Bytes per read of the file. */
const CHUNK = 1024 * 1024;

/**
 * The tar archive of one regular file, piece by piece: header, data read into `buffer()` (which
 * must not be read into again until the piece before the last is used), then the zero padding
 * and end-of-archive blocks.
 */
async function* loneFileTar(
  path: string,
  header: Buffer,
  size: number,
  buffer: () => Buffer,
): AsyncGenerator<Buffer> {
  yield header;
  const file = await open(path, 'r');
  try {
    for (let at = 0; at < size; ) {
      const into = buffer();
      const { bytesRead } = await file.read(into, 0, Math.min(into.length, size - at), at);
      if (bytesRead === 0) {
        throw Object.assign(new Error(`${path} shrank while it was copied`), { code: 'EIO', path });
      }
      at += bytesRead;
      yield into.subarray(0, bytesRead);
    }
  } finally {
    await file.close();
  }
  yield Buffer.alloc(((TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK) + 2 * TAR_BLOCK);
}

/**
 * The tar stream of the regular file at `path` (`stats` its lstat) as the entry `name`, which
 * also lends its bytes from two reused buffers (see `LEND_CHUNKS`); undefined when ustar cannot
 * name it, for tar-fs to pack.
 */
export function packLoneFile(
  path: string,
  name: string,
  stats: Stats,
): LendingReadable | undefined {
  const header = encodeFileHeader(name, stats.mode, stats.size, stats.mtime);
  if (!header) return undefined;
  const stream = Readable.from(
    loneFileTar(path, header, stats.size, () => Buffer.allocUnsafe(CHUNK)),
    { objectMode: false },
  );
  const lend = async (use: ChunkUser): Promise<void> => {
    const buffers = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let turn = 0;
    // One piece is used while the next is read: two buffers, each reused once its piece is done.
    let using: void | Promise<void> = Promise.resolve();
    for await (const piece of loneFileTar(path, header, stats.size, () => {
      turn ^= 1;
      return buffers[turn] as Buffer;
    })) {
      await using;
      using = use(piece);
      // Awaited in the next round; until then its failure must not count as unhandled.
      using?.catch(() => undefined);
    }
    await using;
  };
  return Object.assign(stream, { [LEND_CHUNKS]: lend });
}
