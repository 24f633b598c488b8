import { connect } from 'node:net';
import { Readable } from 'node:stream';
import { type ChunkUser, LEND_CHUNKS } from '../../files/lend-chunks.js';
import { ChunkedDecoder } from './chunked-decoder.js';
import { engineError, type Framing, parseHead } from './engine-response.js';

/** Bytes a socket read may take (Node's own reads take at most 64 KiB): fewer, larger reads when the engine is ahead. */
const READ_BUFFER = 1024 * 1024;
/** Body bytes queued for the consumer before the socket is paused. */
const QUEUE = 4 * 1024 * 1024;

/**
 * GETs `url` from the engine at the Unix socket `socketPath` and resolves with the body as a
 * stream once a 2xx head arrived (rejects with a dockerode-style error otherwise). The body is
 * read in 1 MiB reads straight off the socket and de-chunked in place: through Node's HTTP client
 * the same 50 MiB archive cost ≈ 3× the CPU, which on a busy host made copies slower than `docker cp`.
 */
export function socketGet(
  socketPath: string,
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<Readable> {
  return new Promise((resolve, reject) => {
    let head: Buffer = Buffer.alloc(0);
    let response: { status: number; framing: Framing } | undefined;
    let complete = false;
    let stopped = false;
    let handedOn = false;
    /** The consumer took the lending path: the body's own errors have no listener any more. */
    let lending = false;
    /** Why the transfer failed, for a lending that starts or resumes after the failure. */
    let failure: Error | undefined;
    /** The engine closed a connection-framed body: nothing more will come. */
    let ended = false;
    /** Who the body is lent to, once it is (see `LEND_CHUNKS`). */
    let lender: { use: ChunkUser; done: () => void; failed: (error: Error) => void } | undefined;
    const errorBody: Buffer[] = [];
    const body = new Readable({
      highWaterMark: QUEUE,
      read: () => {
        // A read callback returning false stops reading without marking the socket paused.
        if (stopped) socket.resume();
        stopped = false;
      },
      destroy: (error, callback) => {
        socket.destroy();
        callback(error);
      },
    });

    /** Hands on `input` (a view of the reused read buffer) as body bytes; false pauses the socket. */
    const deliver = (input: Buffer): boolean => {
      if (!response || complete || input.length === 0) return true;
      const { framing } = response;
      const pieces: Buffer[] = [];
      if (framing instanceof ChunkedDecoder) {
        framing.push(input, (piece) => pieces.push(piece));
        complete = framing.done;
      } else if (framing === 'close') {
        pieces.push(input);
      } else {
        pieces.push(input.subarray(0, framing.left));
        framing.left -= pieces[0]?.length ?? 0;
        complete = framing.left === 0;
      }
      if (lender && response.status < 300) {
        const { use, done } = lender;
        const pending = pieces.map(use).filter((result) => result instanceof Promise);
        const finish = () => {
          if (!complete) return true;
          done();
          socket.end();
          return true;
        };
        if (pending.length === 0) return finish();
        // The pieces are views of the read buffer: no read until the user is done with them.
        Promise.all(pending).then(
          () => {
            if (finish() && !complete) socket.resume();
          },
          (error: Error) => socket.destroy(error),
        );
        return false;
      }
      // One copy per read: the read buffer is reused for the next read.
      const copy = Buffer.concat(pieces);
      if (response.status >= 300) {
        errorBody.push(copy);
        if (complete) socket.end();
        return true;
      }
      const more = copy.length === 0 || body.push(copy);
      if (complete) {
        body.push(null);
        socket.end();
      }
      return more;
    };

    /** Lends what the body holds, then every later piece straight from the read buffer. */
    const lend = async (use: ChunkUser): Promise<void> => {
      lending = true;
      for (let chunk = body.read() as Buffer | null; chunk; chunk = body.read() as Buffer | null) {
        await use(chunk);
      }
      // The socket may have failed or ended while the queued chunks were being used.
      if (failure) throw failure;
      if (complete || ended) return;
      await new Promise<void>((done, failed) => {
        lender = { use, done, failed };
        if (stopped) socket.resume();
        stopped = false;
      });
    };
    Object.assign(body, { [LEND_CHUNKS]: lend });
    // The consumer may still be on its way to reading (an await between getting the stream and
    // its first read) when the engine cuts the connection: the error then stays in
    // `body.errored`, which reads, pipelines and lending all report, instead of crashing the
    // process as an 'error' event nobody listens to yet.
    body.on('error', () => {});

    const keepReading = (more: boolean): boolean => {
      stopped = !more;
      return more;
    };

    const onRead = (size: number, buffer: Buffer): boolean => {
      try {
        const input = buffer.subarray(0, size);
        if (response) return keepReading(deliver(input));
        head = Buffer.concat([head, input]);
        const parsed = parseHead(head);
        if (!parsed) return true;
        response = parsed;
        head = Buffer.alloc(0);
        if (parsed.status < 300) {
          handedOn = true;
          resolve(body);
        }
        complete =
          typeof parsed.framing === 'object' && 'left' in parsed.framing && !parsed.framing.left;
        if (complete && parsed.status < 300) body.push(null);
        return complete || keepReading(deliver(parsed.body));
      } catch (error) {
        socket.destroy(error as Error);
        return false;
      }
    };

    const socket = connect({
      path: socketPath,
      onread: { buffer: Buffer.allocUnsafe(READ_BUFFER), callback: onRead },
    });
    const onAbort = () => socket.destroy(signal.reason as Error);
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('connect', () => {
      const lines = Object.entries({ ...headers, Host: 'docker', Connection: 'close' }).map(
        ([name, value]) => `${name}: ${value}\r\n`,
      );
      socket.write(`GET ${url} HTTP/1.1\r\n${lines.join('')}\r\n`);
    });
    /** Fails the call, the lending, or the body once it is handed on (only then does anyone listen for its errors). */
    const fail = (error: Error) => {
      failure ??= error;
      reject(error);
      lender?.failed(error);
      body.destroy(handedOn && !lending ? error : undefined);
    };
    socket.on('error', fail);
    socket.on('close', () => {
      signal.removeEventListener('abort', onAbort);
      if (response && response.status >= 300) {
        reject(engineError(response.status, Buffer.concat(errorBody)));
      } else if (!complete && !(response?.framing === 'close')) {
        fail(new Error('the engine closed the connection before the archive ended'));
      } else if (response?.framing === 'close') {
        ended = true;
        if (lender) lender.done();
        else body.push(null);
      }
    });
  });
}
