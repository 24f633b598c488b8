import { TestbedError } from '../core/errors.js';

/** Vitest plugin for testbed; not yet available in this version. */
export function testbed(): never {
  throw new TestbedError(
    'TESTBED_NOT_YET_AVAILABLE',
    'testbed/vitest is not available in this version yet.',
    {
      fix: 'Use the core API (VmBackendRegistry) from "testbed" until the Vitest plugin ships.',
    },
  );
}
