import { pathToFileURL } from 'node:url';
import { createRegistry } from '../harness/registry-factory.js';
import { type StartedRun, startRun } from '../harness/start-run.js';
import { parseTestbedOptions } from '../harness/testbed-options.js';
import { resolveModule } from './resolve-module.js';
import { RUN_FILE_VARIABLE, removeRunFile, writeRunFile } from './run-file.js';

/** The parts of Jest's project config the global setup reads. */
export interface JestProjectConfig {
  /** The project's root directory. */
  rootDir: string;
  /** `testEnvironmentOptions.testbed` holds the testbed options (same as the Vitest plugin's). */
  testEnvironmentOptions?: Record<string, unknown>;
}

const SLOT = Symbol.for('testbed.jest.run');
type Slot = { [SLOT]?: { started: StartedRun; file: string } };

/**
 * Jest `globalSetup`: discovers providers once, provisions the run-scoped machines declared in
 * `testEnvironmentOptions.testbed`, and hands the run to test files through a run file whose
 * path is in TESTBED_JEST_RUN_FILE. Runs once per Jest run even with several projects.
 */
export async function jestGlobalSetup(
  _globalConfig: unknown,
  projectConfig: JestProjectConfig,
): Promise<void> {
  if ((globalThis as Slot)[SLOT]) return;
  const options = parseTestbedOptions(projectConfig.testEnvironmentOptions?.testbed ?? {});
  const registryModule = options.registry
    ? resolveModule(options.registry, projectConfig.rootDir)
    : undefined;
  if (registryModule) await import(pathToFileURL(registryModule).href);
  const registry = await createRegistry({ preference: options.providers, hosts: options.hosts });
  const started = await startRun({ options, registry, registryModule });
  const file = writeRunFile(started.snapshot);
  process.env[RUN_FILE_VARIABLE] = file;
  (globalThis as Slot)[SLOT] = { started, file };
}

/** Jest `globalTeardown`: destroys the run-scoped machines in reverse order and removes the run file. */
export async function jestGlobalTeardown(): Promise<void> {
  const slot = (globalThis as Slot)[SLOT];
  if (!slot) return;
  delete (globalThis as Slot)[SLOT];
  try {
    await slot.started.stop();
  } finally {
    removeRunFile(slot.file);
    delete process.env[RUN_FILE_VARIABLE];
  }
}
