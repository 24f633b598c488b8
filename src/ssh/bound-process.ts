import { AbortedError, TimeoutError } from '../core/errors.js';
import type { RemoteProcess } from './remote-process.js';

/**
 * Gives `process` up after `timeoutMs` (`TimeoutError` naming that limit) or when `signal`
 * aborts (`AbortedError` with the reason as cause): its processes are killed, then `exited`
 * rejects. Returns the disarm function.
 */
export function boundProcess(
  process: RemoteProcess,
  options: { timeoutMs?: number | undefined; signal?: AbortSignal | undefined },
  operation: string,
): () => void {
  const { timeoutMs, signal } = options;
  const onAbort = () => void process.giveUp(new AbortedError(operation, signal?.reason));
  const timer =
    timeoutMs === undefined
      ? undefined
      : setTimeout(() => void process.giveUp(new TimeoutError(operation, timeoutMs)), timeoutMs);
  if (signal?.aborted) onAbort();
  else signal?.addEventListener('abort', onAbort, { once: true });
  return () => {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onAbort);
  };
}
