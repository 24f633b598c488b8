import type { TestProject } from 'vitest/node';
import { createRegistry } from '../harness/registry-factory.js';
import { startRun } from '../harness/start-run.js';
import './provided-context.js';
import { resolveModule } from './resolve-module.js';

/**
 * Vitest global setup added by the `testbed()` plugin. Vitest runs it once per project; it acts
 * only for the root project, so discovery and run-scoped machines happen once per run, and what
 * the root provides reaches every project.
 */
export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  if (project !== project.vitest.getRootProject()) return undefined;
  const given = project.config.provide.testbedOptions;
  if (!given) return undefined;
  // The plugin hands the registry over as the user wrote it, relative to the project root.
  const registryModule = given.registry && resolveModule(given.registry, project.config.root);
  const options = { ...given, registry: registryModule };
  if (registryModule) await project.import(registryModule);
  const registry = await createRegistry({ preference: options.providers, hosts: options.hosts });
  const log = (line: string) => project.vitest.logger.log(line);
  const started = await startRun({ options, registry, registryModule, log });
  project.provide('testbed', started.snapshot);
  return () => started.stop();
}
