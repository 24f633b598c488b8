import { once } from 'node:events';
import { connect } from 'node:net';
import type { Readable } from 'node:stream';
import { eachChunk } from '../../files/lend-chunks.js';
import { ChunkedDecoder } from './chunked-decoder.js';
import { engineError, parseHead } from './engine-response.js';

/** The status and body of the whole response in `answer`, or undefined when there is none. */
function response(answer: Buffer): { status: number; body: Buffer } | undefined {
  const head = parseHead(answer);
  if (!head) return undefined;
  const { status, framing, body } = head;
  if (framing instanceof ChunkedDecoder) {
    const pieces: Buffer[] = [];
    framing.push(body, (piece) => pieces.push(piece));
    return { status, body: Buffer.concat(pieces) };
  }
  return { status, body: framing === 'close' ? body : body.subarray(0, framing.left) };
}

/**
 * PUTs the tar stream `tar` to `url` at the engine's Unix socket, chunk-encoded, and resolves on
 * a 2xx answer; rejects with the source's error, or a dockerode-style error for the engine's. A
 * lending source (a lone host file) is sent from its own two read buffers, each chunk written
 * before its buffer is read into again: no memory is allocated per chunk.
 */
export async function socketPut(
  socketPath: string,
  url: string,
  headers: Record<string, string>,
  tar: Readable,
  signal: AbortSignal,
): Promise<void> {
  const socket = connect(socketPath);
  const answer: Buffer[] = [];
  let socketError: Error | undefined;
  socket.on('data', (data: Buffer) => answer.push(data));
  socket.on('error', (error) => {
    socketError = error;
  });
  // Not once(): it would reject on a write error (EPIPE) and lose the answer the engine sent first.
  const closed = new Promise<void>((done) => socket.once('close', () => done()));
  const onAbort = () => socket.destroy(signal.reason as Error);
  if (signal.aborted) onAbort();
  signal.addEventListener('abort', onAbort, { once: true });
  /** True once sending stopped because the engine answered early or hung up (its answer says why). */
  let cut = false;
  const send = (piece: Buffer) =>
    new Promise<void>((done, failed) => {
      if (answer.length > 0) {
        // The engine answered before the end of the archive: it has stopped reading.
        cut = true;
        return failed(new Error('the engine answered before the archive was sent'));
      }
      if (piece.length === 0) return done();
      socket.cork();
      socket.write(`${piece.length.toString(16)}\r\n`);
      socket.write(piece);
      socket.write('\r\n', (error) => {
        if (!error) return done();
        cut = true;
        failed(error);
      });
      socket.uncork();
    });
  try {
    await once(socket, 'connect');
    const lines = Object.entries({
      ...headers,
      Host: 'docker',
      'Content-Type': 'application/x-tar',
      'Transfer-Encoding': 'chunked',
      Connection: 'close',
    }).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`PUT ${url} HTTP/1.1\r\n${lines.join('')}\r\n`);
    await eachChunk(tar, send);
    socket.write('0\r\n\r\n');
    await closed;
  } catch (error) {
    if (!cut) {
      socket.destroy();
      tar.destroy();
      throw signal.aborted ? signal.reason : error;
    }
    await closed;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
  if (signal.aborted) throw signal.reason;
  const answered = response(Buffer.concat(answer));
  if (!answered) throw socketError ?? new Error('the engine hung up without answering');
  if (answered.status >= 300) throw engineError(answered.status, answered.body);
}
