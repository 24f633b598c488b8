import { connect } from 'node:net';

/** Opens and closes a TCP connection; resolves with what happened (`connected`, the error code). */
export function tcpConnect(
  host: string,
  port: number,
  signal: AbortSignal,
): Promise<{ ok: boolean; detail: string }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean, detail: string) => {
      signal.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve({ ok, detail });
    };
    const onAbort = () => done(false, `no answer from ${host}:${port}`);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('connect', () => done(true, `${host}:${port} accepts connections`));
    socket.once('error', (error: NodeJS.ErrnoException) =>
      done(false, `${host}:${port}: ${error.code ?? error.message}`),
    );
  });
}
