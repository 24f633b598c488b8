import type { Readable } from 'node:stream';

/**
 * The method by which a stream lends its bytes in place: `stream[LEND_CHUNKS](use)` hands what
 * it has buffered and then each later piece to `use`, valid only during that call, and resolves
 * at the end of the stream. A 50 MiB copy then allocates nothing per read: as `Buffer` chunks it
 * allocated 50 MiB of external memory, whose garbage collections (in a test runner's large heap)
 * cost more than the copy itself.
 */
export const LEND_CHUNKS = Symbol('testbed.lendChunks');

/** A stream that can also lend its bytes in place (see `LEND_CHUNKS`). */
export interface LendingReadable extends Readable {
  [LEND_CHUNKS](use: (piece: Buffer) => void): Promise<void>;
}

/** Calls `use` with every remaining byte of `stream`, lent in place when the stream can. */
export async function eachChunk(stream: Readable, use: (piece: Buffer) => void): Promise<void> {
  if (LEND_CHUNKS in stream) return (stream as LendingReadable)[LEND_CHUNKS](use);
  for await (const chunk of stream) use(chunk as Buffer);
}
