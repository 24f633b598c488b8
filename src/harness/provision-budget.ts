import { TimeoutError } from '../core/errors.js';

/**
 * A signal that aborts shortly before a test framework's own timeout (10% of it, at most 10 s
 * early), with testbed's `TimeoutError` as the reason: the user then gets testbed's error, with
 * what provisioning waited for and the console tail, instead of a bare "test timed out".
 */
export function provisionBudget(
  frameworkTimeoutMs: number | undefined,
  framework: string,
): AbortSignal | undefined {
  if (!frameworkTimeoutMs || !Number.isFinite(frameworkTimeoutMs) || frameworkTimeoutMs <= 0)
    return undefined;
  const margin = Math.min(10_000, Math.max(100, Math.round(frameworkTimeoutMs * 0.1)));
  const budgetMs = Math.max(1, frameworkTimeoutMs - margin);
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        new TimeoutError(
          `Provisioning a machine for this test (${framework}'s timeout is ${frameworkTimeoutMs} ms)`,
          budgetMs,
          {
            fix: `Raise the test's timeout, or provision once for many tests (scope: 'file').`,
          },
        ),
      ),
    budgetMs,
  );
  timer.unref();
  return controller.signal;
}
