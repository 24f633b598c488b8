import { ChunkedDecoder } from './chunked-decoder.js';

/** dockerode's words for the statuses of the archive API, kept so errors read (and are matched) the same. */
const LABELS: Record<number, string> = {
  400: 'bad parameter',
  404: 'no such container',
  500: 'server error',
};

/** How the body of a response is delimited. */
export type Framing = ChunkedDecoder | { left: number } | 'close';

/** The status, headers and first body bytes of a response whose head is complete in `head`. */
export function parseHead(
  head: Buffer,
): { status: number; framing: Framing; body: Buffer } | undefined {
  const end = head.indexOf('\r\n\r\n');
  if (end === -1) return undefined;
  const [statusLine = '', ...lines] = head.toString('latin1', 0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1]);
  if (!status) throw new Error(`the engine answered ${JSON.stringify(statusLine)}, not HTTP/1.1`);
  const headers = new Map(
    lines.map((line) => {
      const colon = line.indexOf(':');
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as const;
    }),
  );
  const length = headers.get('content-length');
  const framing: Framing = /chunked/i.test(headers.get('transfer-encoding') ?? '')
    ? new ChunkedDecoder()
    : length !== undefined
      ? { left: Number(length) }
      : 'close';
  return { status, framing, body: head.subarray(end + 4) };
}

/** The error dockerode would give for a failed call, built from the engine's JSON answer. */
export function engineError(status: number, body: Buffer): Error {
  const text = body.toString('utf8');
  let message = text;
  try {
    message = (JSON.parse(text) as { message?: string }).message ?? text;
  } catch {
    // Not JSON: the engine's plain text is the message.
  }
  const label = LABELS[status] ?? 'unexpected';
  return Object.assign(new Error(`(HTTP code ${status}) ${label} - ${message.trim()} `), {
    statusCode: status,
    reason: label,
  });
}
