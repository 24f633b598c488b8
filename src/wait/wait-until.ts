import { setTimeout as sleep } from 'node:timers/promises';
import { AbortedError, isTestbedError, WaitTimeoutError } from '../core/errors.js';
import { checkArguments, waitUntilOptionsSchema } from '../core/option-schemas.js';
import type { Machine, WaitStrategy, WaitUntilOptions } from '../core/provider.js';
import { waitForSchema } from '../core/spec-schemas.js';
import type { AllWaitStrategy } from './wait.js';

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_INTERVAL_MS = 250;
/** One attempt may take this long at most (a command that hangs, a server that never answers). */
const ATTEMPT_TIMEOUT_MS = 10_000;
/** Errors after which another attempt cannot succeed: reported at once, not after the timeout. */
const PERMANENT = new Set([
  'TESTBED_PORT_NOT_FORWARDED',
  'TESTBED_MACHINE_GONE',
  'TESTBED_UNSUPPORTED',
]);

function flatten(strategies: WaitStrategy | readonly WaitStrategy[]): WaitStrategy[] {
  const list = Array.isArray(strategies) ? strategies : [strategies as WaitStrategy];
  return list.flatMap((s) =>
    'strategies' in s ? flatten((s as AllWaitStrategy).strategies) : [s],
  );
}

/**
 * Checks its arguments (`TESTBED_INVALID_OPTIONS`), then waits until each strategy holds, in order, within one deadline: polls `check`, each attempt
 * bounded, and on timeout rejects with `WaitTimeoutError` carrying the last attempt's result and
 * the machine's console tail. An abort rejects with `AbortedError` whose cause is the reason.
 */
export async function waitUntil(
  machine: Machine,
  strategies: WaitStrategy | readonly WaitStrategy[],
  options: WaitUntilOptions = {},
): Promise<void> {
  checkArguments('waitUntil()', [
    { name: 'strategies', schema: waitForSchema, value: strategies },
    { name: 'options', schema: waitUntilOptionsSchema, value: options },
  ]);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const interval = options.intervalMs ?? DEFAULT_INTERVAL_MS;
  const deadline = Date.now() + timeoutMs;
  for (const strategy of flatten(strategies)) {
    const none = 'no attempt finished';
    let last = none;
    for (;;) {
      if (options.signal?.aborted) {
        throw new AbortedError(
          `${machine.name}: waiting for ${strategy.description}`,
          options.signal.reason,
        );
      }
      const left = deadline - Date.now();
      if (left <= 0) {
        const tail = machine.console
          ? await machine.console.tail(20).catch(() => undefined)
          : undefined;
        throw new WaitTimeoutError(strategy.description, timeoutMs, last, tail, {
          machine: machine.name,
        });
      }
      const bound = AbortSignal.timeout(Math.ceil(Math.min(ATTEMPT_TIMEOUT_MS, left)));
      const attempt = options.signal ? AbortSignal.any([options.signal, bound]) : bound;
      try {
        const result = await strategy.check(machine, attempt);
        if (result.ok) break;
        last = result.detail;
      } catch (error) {
        if (isTestbedError(error) && PERMANENT.has(error.code)) throw error;
        if (options.signal?.aborted) continue;
        // An attempt cut short by the overall deadline says less than the one before it.
        if (bound.aborted && left <= ATTEMPT_TIMEOUT_MS && last !== none) continue;
        last = bound.aborted
          ? `the attempt did not answer within ${Math.min(ATTEMPT_TIMEOUT_MS, left)} ms`
          : ((error as Error).message?.split('\n')[0] ?? String(error));
      }
      await sleep(Math.min(interval, Math.max(0, deadline - Date.now())), undefined, {
        signal: options.signal,
      }).catch(() => undefined);
    }
  }
}
