/**
 * Decodes an HTTP/1.1 `Transfer-Encoding: chunked` body fed in arbitrary pieces, handing on views
 * of the data (no copies): the engine's archive responses come in 32 KiB chunks, and Node's HTTP
 * client spent more CPU on them than the transfer itself (≈ 3× a plain socket read).
 */
export class ChunkedDecoder {
  /** Bytes of the current chunk's data still to come. */
  #remaining = 0;
  /** The part of a size line (or of the CRLF after a chunk's data) read so far. */
  #line = '';
  #state: 'size' | 'data' | 'data-end' | 'trailer' | 'done' = 'size';

  /** True once the last chunk and its trailer have been read. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** Reads `input`, calling `data` with each piece of body in it; returns the bytes after the body, if any. */
  push(input: Buffer, data: (piece: Buffer) => void): Buffer {
    let at = 0;
    while (at < input.length && this.#state !== 'done') {
      if (this.#state === 'data') {
        const end = Math.min(input.length, at + this.#remaining);
        data(input.subarray(at, end));
        this.#remaining -= end - at;
        at = end;
        if (this.#remaining === 0) this.#state = 'data-end';
        continue;
      }
      const newline = input.indexOf(10, at);
      const end = newline === -1 ? input.length : newline + 1;
      this.#line += input.toString('latin1', at, end);
      at = end;
      if (newline !== -1) this.#endLine(this.#line.replace(/\r?\n$/, ''));
    }
    return input.subarray(at);
  }

  #endLine(line: string): void {
    this.#line = '';
    if (this.#state === 'data-end') {
      if (line !== '') throw new Error('chunked body: missing CRLF after a chunk');
      this.#state = 'size';
    } else if (this.#state === 'trailer') {
      if (line === '') this.#state = 'done';
    } else {
      const hex = (line.split(';', 1)[0] ?? '').trim();
      if (!/^[0-9a-f]{1,12}$/i.test(hex)) {
        throw new Error(`chunked body: bad chunk size line ${JSON.stringify(line)}`);
      }
      this.#remaining = Number.parseInt(hex, 16);
      this.#state = this.#remaining === 0 ? 'trailer' : 'data';
    }
  }
}
