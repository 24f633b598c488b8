/**
 * testbed under Jest 30 (ESM): run with `NODE_OPTIONS=--experimental-vm-modules npx jest`.
 * The global setup discovers providers once and provisions the run-scoped machines; the test
 * environment reads each file's `@testbed-needs` docblock pragma.
 */
export default {
  testEnvironment: 'testbed/jest/environment',
  globalSetup: 'testbed/jest/global-setup',
  globalTeardown: 'testbed/jest/global-teardown',
  testEnvironmentOptions: {
    // The same options as the Vitest plugin's.
    testbed: { onUnmet: 'skip', machines: { box: { needs: ['VmType(Container)', 'Exec'] } } },
  },
  transform: {},
  testMatch: ['<rootDir>/*.test.mjs'],
  testTimeout: 180_000,
  maxWorkers: 1,
};
