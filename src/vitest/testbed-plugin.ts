/// <reference types="vitest/config" />
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import type { Vite, VitestPluginContext } from 'vitest/node';
import { parseTestbedOptions, type TestbedOptions } from '../harness/testbed-options.js';
import { globalSetupPath } from './global-setup-path.js';
import { TestbedReporter } from './testbed-reporter.js';

/** Vitest's default 5 s cannot boot a VM under TCG; used when the config sets no timeout. */
export const DEFAULT_TIMEOUT_MS = 180_000;

function resolveModule(specifier: string, root: string): string {
  if (specifier.startsWith('.') || isAbsolute(specifier)) return resolve(root, specifier);
  return createRequire(resolve(root, 'package.json')).resolve(specifier);
}

const withReporter = new WeakSet<object>();

/**
 * The testbed Vitest plugin: validates `options` (a misspelled option throws a `ConfigError`
 * naming it), adds a global setup that discovers providers once per run and provisions the
 * run-scoped machines, and a reporter printing the machines of failed tests.
 */
export function testbed(options: TestbedOptions = {}): Vite.Plugin {
  const resolved = parseTestbedOptions(options);
  return {
    name: 'testbed',
    config(config) {
      const root = resolve(config.root ?? process.cwd());
      const registry = resolved.registry ? resolveModule(resolved.registry, root) : undefined;
      const test: Record<string, unknown> = {
        globalSetup: [globalSetupPath()],
        provide: { testbedOptions: { ...resolved, registry } },
      };
      // Loading the registry module in each test process registers its factory there.
      if (registry) test.setupFiles = [registry];
      if (config.test?.testTimeout === undefined) test.testTimeout = DEFAULT_TIMEOUT_MS;
      if (config.test?.hookTimeout === undefined) test.hookTimeout = DEFAULT_TIMEOUT_MS;
      return { test };
    },
    configureVitest({ vitest }: VitestPluginContext) {
      if (withReporter.has(vitest)) return;
      withReporter.add(vitest);
      (vitest.config.reporters as unknown[]).push(new TestbedReporter());
    },
  };
}
