import { createWriteStream } from 'node:fs';
import { chmod, utimes } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parseTarHeader, TAR_BLOCK } from './tar-header.js';

/** File bytes queued for the disk before reading pauses; one `writev` takes all that is queued. */
const WRITE_QUEUE = 4 * 1024 * 1024;

/** The bytes of `first` and then of the rest of `chunks`, ending (and destroying) the source when it ends early. */
async function* replay(first: Buffer, chunks: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  try {
    if (first.length > 0) yield first;
    for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
  } finally {
    await chunks.return?.();
  }
}

/** The `size` data bytes that start `first` and go on in `chunks`; only zero blocks may follow them. */
async function* fileData(
  first: Buffer,
  chunks: AsyncIterator<Buffer>,
  size: number,
): AsyncGenerator<Buffer> {
  let left = size;
  for (let chunk: Buffer | undefined = first; chunk; ) {
    const data = chunk.subarray(0, left);
    left -= data.length;
    if (data.length > 0) yield data;
    for (let i = data.length; i < chunk.length; i++) {
      if (chunk[i] !== 0)
        throw new Error('the archive holds more entries after its one regular file');
    }
    const next = await chunks.next();
    chunk = next.done ? undefined : next.value;
  }
  if (left > 0) throw new Error(`the archive ended ${left} bytes short of the file's end`);
}

/**
 * Writes the archive's entry to `target` itself when it is a lone regular file (what Docker and
 * `tar -c` give for a file): its data goes to disk in large writes, without tar-fs's stream per
 * entry and write per 32 KiB chunk. Any other archive comes back, as read so far and the rest, for a general
 * extractor; undefined means the file is in place, with its mode and mtime.
 */
export async function extractLoneFile(
  tar: Readable,
  target: string,
): Promise<Readable | undefined> {
  const chunks = tar[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const seen: Buffer[] = [];
  let length = 0;
  while (length < TAR_BLOCK) {
    const next = await chunks.next();
    if (next.done) break;
    seen.push(next.value);
    length += next.value.length;
  }
  const start = seen.length === 1 ? (seen[0] as Buffer) : Buffer.concat(seen, length);
  const header = parseTarHeader(start);
  // The name is the top-level one alone, as extractToHost's renaming takes it (`./x`, `x`, `/x`).
  const lone = header?.name.replace(/^\.?\/*[^/]*/, '') === '';
  if (!header || !lone || (header.type !== '0' && header.type !== '\0')) {
    return Readable.from(replay(start, chunks), { objectMode: false });
  }
  try {
    await pipeline(
      fileData(start.subarray(TAR_BLOCK), chunks, header.size),
      createWriteStream(target, { flags: 'wx', mode: 0o600, highWaterMark: WRITE_QUEUE }),
    );
  } finally {
    await chunks.return?.();
  }
  await chmod(target, header.mode & 0o777);
  await utimes(target, new Date(), header.mtime);
  return undefined;
}
