import { TestbedError } from '../core/errors.js';

/** Jest helper for testbed; not yet available in this version. */
export function useMachine(): never {
  throw new TestbedError(
    'TESTBED_NOT_YET_AVAILABLE',
    'testbed/jest is not available in this version yet.',
    {
      fix: 'Use the core API (VmBackendRegistry) from "testbed" until the Jest integration ships.',
    },
  );
}
