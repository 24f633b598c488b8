// An .mjs entry, so Jest import()s it: require() of the ESM graph fails on import-only packages.
/** Jest `globalTeardown` module: `globalTeardown: 'testbed/jest/global-teardown'`. */
export { jestGlobalTeardown as default } from './jest-run.js';
