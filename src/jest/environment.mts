// An .mjs entry, so Jest import()s it: require() of the ESM graph fails on import-only packages.
/** Jest test environment module: `testEnvironment: 'testbed/jest/environment'`. */
export { default } from './testbed-environment.js';
