import type { TestProject } from 'vitest/node';
import { createRegistry } from '../harness/registry-factory.js';
import { startRun } from '../harness/start-run.js';
import './provided-context.js';

/**
 * Vitest global setup added by the `testbed()` plugin. Vitest runs it once per project; it acts
 * only for the root project, so discovery and run-scoped machines happen once per run, and what
 * the root provides reaches every project.
 */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (project !== project.vitest.getRootProject()) return undefined;
  const options = project.config.provide.testbedOptions;
  if (!options) return undefined;
  if (options.registry) await project.import(options.registry);
  const registry = await createRegistry({ preference: options.providers });
  const log = (line: string) => project.vitest.logger.log(line);
  const started = await startRun({ options, registry, registryModule: options.registry, log });
  project.provide('testbed', started.snapshot);
  return () => started.stop();
}
