import type { Readable } from 'node:stream';

/**
 * The method by which a stream lends its bytes in place: `stream[LEND_CHUNKS](use)` hands what
 * it has buffered and then each later piece to `use`, valid until `use` returns (or the promise
 * it returns resolves), and resolves at the end of the stream. A 50 MiB copy then allocates
 * nothing per read: as `Buffer` chunks it allocated 50 MiB of fresh memory, whose page faults
 * and garbage collections (in a test runner's large heap) cost more than the copy itself.
 */
export const LEND_CHUNKS = Symbol('testbed.lendChunks');

/** What a lending stream hands each piece to. */
export type ChunkUser = (piece: Buffer) => void | Promise<void>;

/** A stream that can also lend its bytes in place (see `LEND_CHUNKS`). */
export interface LendingReadable extends Readable {
  [LEND_CHUNKS](use: ChunkUser): Promise<void>;
}

/** Calls `use` with every remaining byte of `stream` in order, lent in place when the stream can. */
export async function eachChunk(stream: Readable, use: ChunkUser): Promise<void> {
  if (LEND_CHUNKS in stream) return (stream as LendingReadable)[LEND_CHUNKS](use);
  for await (const chunk of stream) await use(chunk as Buffer);
}
