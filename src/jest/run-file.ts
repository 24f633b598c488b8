import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { RunSnapshot } from '../harness/run-snapshot.js';

/** Environment variable naming the run file; Jest workers inherit it from the global setup. */
export const RUN_FILE_VARIABLE = 'TESTBED_JEST_RUN_FILE';

/** Writes the run snapshot where Jest workers can read it (mode 0600); returns its path. */
export function writeRunFile(snapshot: RunSnapshot, dir: string = tmpdir()): string {
  const file = join(mkdtempSync(join(dir, `testbed-jest-${snapshot.run.runId}-`)), 'run.json');
  writeFileSync(file, JSON.stringify(snapshot), { mode: 0o600 });
  return file;
}

/** The run snapshot named by the environment, or undefined outside a testbed global setup. */
export function readRunFile(env: NodeJS.ProcessEnv = process.env): RunSnapshot | undefined {
  const file = env[RUN_FILE_VARIABLE];
  if (!file) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as RunSnapshot;
}

/** Removes a run file and its directory. */
export function removeRunFile(file: string): void {
  rmSync(dirname(file), { recursive: true, force: true });
}
