import { once } from 'node:events';
import { closeSync, openSync, writeSync } from 'node:fs';
import { chmod, utimes } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { eachChunk } from './lend-chunks.js';
import { parseTarHeader, TAR_BLOCK } from './tar-header.js';

/** The first `size` bytes of `stream` (fewer when it ends before), read without flowing it. */
async function readHead(stream: Readable, size: number): Promise<Buffer> {
  for (;;) {
    const head = stream.read(size) as Buffer | null;
    if (head !== null) return head;
    if (stream.errored) throw stream.errored;
    if (stream.readableEnded || stream.destroyed) return Buffer.alloc(0);
    await Promise.race([once(stream, 'readable'), once(stream, 'end')]);
  }
}

/** Writes the `size` data bytes of a lone file as they come, then checks only zero blocks follow. */
class LoneFileWriter {
  #left: number;
  constructor(
    private readonly fd: number,
    size: number,
  ) {
    this.#left = size;
  }

  write(piece: Buffer): void {
    const data = piece.subarray(0, this.#left);
    // Synchronous, as docker cp's own loop: the piece may be a lent read buffer, and page-cache
    // writes of these sizes take microseconds.
    for (let at = 0; at < data.length; ) at += writeSync(this.fd, data, at);
    this.#left -= data.length;
    for (let i = data.length; i < piece.length; i++) {
      if (piece[i] !== 0)
        throw new Error('the archive holds more entries after its one regular file');
    }
  }

  end(): void {
    if (this.#left > 0)
      throw new Error(`the archive ended ${this.#left} bytes short of the file's end`);
  }
}

/**
 * Writes the archive's entry to `target` itself when it is a lone regular file (what Docker and
 * `tar -c` give for a file): its data goes straight to disk, without tar-fs's stream per entry
 * and write per chunk. Any other archive comes back as it was, for a general extractor; undefined
 * means the file is in place, with its mode and mtime.
 */
export async function extractLoneFile(
  tar: Readable,
  target: string,
): Promise<Readable | undefined> {
  const head = await readHead(tar, TAR_BLOCK);
  if (head.length === 0) return tar;
  if (head.length < TAR_BLOCK) throw new Error('the archive ended inside its first header');
  const header = parseTarHeader(head);
  // The name is the top-level one alone, as extractToHost's renaming takes it (`./x`, `x`, `/x`).
  const lone = header?.name.replace(/^\.?\/*[^/]*/, '') === '';
  if (!header || !lone || (header.type !== '0' && header.type !== '\0')) {
    tar.unshift(head);
    return tar;
  }
  const fd = openSync(target, 'wx', 0o600);
  try {
    const writer = new LoneFileWriter(fd, header.size);
    await eachChunk(tar, (piece) => writer.write(piece));
    writer.end();
  } catch (error) {
    tar.destroy();
    throw error;
  } finally {
    closeSync(fd);
  }
  await chmod(target, header.mode & 0o777);
  await utimes(target, new Date(), header.mtime);
  return undefined;
}
