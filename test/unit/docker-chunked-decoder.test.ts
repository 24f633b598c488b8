import { describe, expect, it } from 'vitest';
import { ChunkedDecoder } from '../../src/providers/docker/chunked-decoder.js';

/** Feeds `wire` to a decoder `size` bytes at a time; the body and what came after it. */
function decode(wire: string, size: number): { body: string; after: string; done: boolean } {
  const decoder = new ChunkedDecoder();
  const body: Buffer[] = [];
  const after: Buffer[] = [];
  const bytes = Buffer.from(wire, 'latin1');
  for (let at = 0; at < bytes.length; at += size) {
    after.push(
      decoder.push(bytes.subarray(at, at + size), (piece) => body.push(Buffer.from(piece))),
    );
  }
  return {
    body: Buffer.concat(body).toString('latin1'),
    after: Buffer.concat(after).toString('latin1'),
    done: decoder.done,
  };
}

describe('ChunkedDecoder', () => {
  const wire =
    '5\r\nhello\r\n1a;ext=1\r\n abcdefghijklmnopqrstuvwxy\r\n0\r\nX-Trailer: 1\r\n\r\nNEXT';

  it.each([1, 2, 3, 7, 1000])('joins the chunks fed %i bytes at a time', (size) => {
    expect(decode(wire, size)).toEqual({
      body: 'hello abcdefghijklmnopqrstuvwxy',
      after: 'NEXT',
      done: true,
    });
  });

  it('is not done before the last chunk', () => {
    expect(decode('5\r\nhello\r\n', 4)).toMatchObject({ body: 'hello', done: false });
  });

  it('refuses a bad size line or a chunk without its CRLF', () => {
    expect(() => decode('zz\r\n', 10)).toThrow(/bad chunk size/);
    expect(() => decode('2\r\nabXY\r\n', 10)).toThrow(/missing CRLF/);
  });
});
