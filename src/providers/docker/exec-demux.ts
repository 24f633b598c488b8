import { Writable } from 'node:stream';

const HEADER_BYTES = 8;
const STDERR = 2;

/** Resolves once `target` drains, or closes (a consumer that destroyed its stream must not stall others). */
export function drained(target: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      target.removeListener('drain', done);
      target.removeListener('close', done);
      resolve();
    };
    target.once('drain', done);
    target.once('close', done);
  });
}

/**
 * Splits Docker's multiplexed attach stream (frames of an 8-byte header: stream id, 3 zero bytes,
 * big-endian length) into stdout and stderr, passing on backpressure from either. Binary-safe:
 * payload bytes are never decoded.
 */
export class ExecDemux extends Writable {
  #header: Buffer = Buffer.alloc(0);
  #left = 0;
  #target: NodeJS.WritableStream;

  constructor(
    private readonly stdout: NodeJS.WritableStream,
    private readonly stderr: NodeJS.WritableStream,
  ) {
    super();
    this.#target = stdout;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error) => void) {
    // Only an incomplete header is ever kept across chunks; payload goes out as it arrives.
    const data = this.#header.length > 0 ? Buffer.concat([this.#header, chunk]) : chunk;
    this.#header = Buffer.alloc(0);
    const full = new Set<NodeJS.WritableStream>();
    let offset = 0;
    while (offset < data.length) {
      if (this.#left === 0) {
        if (data.length - offset < HEADER_BYTES) {
          this.#header = Buffer.from(data.subarray(offset));
          break;
        }
        this.#target = data[offset] === STDERR ? this.stderr : this.stdout;
        this.#left = data.readUInt32BE(offset + 4);
        offset += HEADER_BYTES;
        continue;
      }
      const size = Math.min(this.#left, data.length - offset);
      if (!this.#target.write(data.subarray(offset, offset + size))) full.add(this.#target);
      this.#left -= size;
      offset += size;
    }
    if (full.size === 0) return callback();
    Promise.all([...full].map(drained)).then(() => callback());
  }
}
