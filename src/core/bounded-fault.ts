import { AbortedError, TimeoutError } from './errors.js';
import { checkOptions, faultOptionsSchema } from './option-schemas.js';
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
 * Runs a fault operation, its options checked first (`TESTBED_INVALID_OPTIONS`), bounded by `timeoutMs` and the caller's signal: a
 * timeout is a `TimeoutError` with the fix, an abort an `AbortedError`, both settle at once.
 */
export async function boundedFault<T>(
  bound: FaultBound,
  options: FaultOptions,
  work: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  checkOptions(bound.operation, faultOptionsSchema, options);
  const timeoutMs = options.timeoutMs ?? bound.defaultTimeoutMs;
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
