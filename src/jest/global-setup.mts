// An .mjs entry, so Jest import()s it: require() of the ESM graph fails on import-only packages.
/** Jest `globalSetup` module: `globalSetup: 'testbed/jest/global-setup'`. */
export { jestGlobalSetup as default } from './jest-run.js';
