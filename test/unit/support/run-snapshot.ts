import { createRunContext } from '../../../src/core/run-context.js';
import type { RunSnapshot } from '../../../src/harness/run-snapshot.js';

/** A run snapshot as a test process gets one: no candidates, defaults everywhere, `overrides` on top. */
export function runSnapshot(overrides: Partial<RunSnapshot> = {}): RunSnapshot {
  return {
    run: createRunContext(),
    candidates: [],
    preference: undefined,
    onUnmet: 'skip',
    keepOnFailure: false,
    warm: false,
    timeoutMs: undefined,
    registry: undefined,
    machines: {},
    ...overrides,
  };
}
