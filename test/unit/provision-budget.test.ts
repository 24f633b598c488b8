import { describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { provisionBudget } from '../../src/harness/provision-budget.js';

describe('provisionBudget', () => {
  it("aborts before the framework's timeout with testbed's TimeoutError as the reason", async () => {
    const started = Date.now();
    const signal = provisionBudget(1_000, 'Vitest');
    expect(signal).toBeDefined();
    await new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true }));
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(850);
    expect(elapsed).toBeLessThan(1_000);
    expect(isTestbedError(signal?.reason, 'TESTBED_TIMEOUT')).toBe(true);
    const message = (signal?.reason as Error | undefined)?.message;
    expect(message).toContain("Vitest's timeout is 1000 ms");
    expect(message).toContain('did not finish within 900 ms');
  });

  it('keeps at most 10 s of margin and gives no budget without a timeout', () => {
    expect(provisionBudget(0, 'Jest')).toBeUndefined();
    expect(provisionBudget(undefined, 'Jest')).toBeUndefined();
    expect(provisionBudget(Number.POSITIVE_INFINITY, 'Jest')).toBeUndefined();
  });
});
