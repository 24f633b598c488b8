import { AbortedError, InvalidSpecError, TimeoutError } from './errors.js';
import type { FaultOptions } from './provider.js';
import { withTimeout } from './with-timeout.js';

/** What a fault operation is called in errors and how long it may take by default. */
export interface FaultBound {
  /** The operation and its machine, e.g. `crash() on testbed-ab12-x`. */
  operation: string;
  /** Bound when the caller gives none. */
  defaultTimeoutMs: number;
  /** What to do when it does not finish in time. */
  fix: string;
}

/**
 * Runs a fault operation bounded by `timeoutMs` (positive whole ms) and the caller's signal: a
 * timeout is a `TimeoutError` with the fix, an abort an `AbortedError`, both settle at once.
 */
export async function boundedFault<T>(
  bound: FaultBound,
  options: FaultOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? bound.defaultTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) {
    throw new InvalidSpecError(
      [{ path: 'timeoutMs', message: `must be a positive whole number of ms (got ${timeoutMs})` }],
      { fix: `Pass { timeoutMs: ${bound.defaultTimeoutMs} } or leave it out.` },
    );
  }
  const { signal } = options;
  if (signal?.aborted) throw new AbortedError(bound.operation, signal.reason);
  try {
    return await withTimeout(bound.operation, timeoutMs, work, signal);
  } catch (error) {
    if (signal?.aborted) throw new AbortedError(bound.operation, signal.reason);
    if (error instanceof TimeoutError && error.fix === undefined) {
      throw new TimeoutError(bound.operation, timeoutMs, { cause: error, fix: bound.fix });
    }
    throw error;
  }
}
