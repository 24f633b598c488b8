import type { Machine } from '../core/provider.js';

/** What a test file and the testbed environment share through the test file's global object. */
export interface FileState {
  /** Set when the file's needs are unmet and unmet needs skip: every test is skipped with it. */
  skipReason?: string | undefined;
  /** Machines the file's tests use, for diagnostics of failed tests. */
  machines: Machine[];
  /** True once a test of the file failed (`keepOnFailure` keeps artifacts then). */
  failed: boolean;
  /** Keep a failed file's machine artifacts (`keepOnFailure`). */
  keep: boolean;
}

const KEY = Symbol.for('testbed.jest.file');

/** The file's shared state on `global` (the test file's global object), created on first use. */
export function fileState(global: object = globalThis): FileState {
  const holder = global as { [KEY]?: FileState };
  holder[KEY] ??= { machines: [], failed: false, keep: false };
  return holder[KEY];
}
