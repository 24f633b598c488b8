/// <reference types="vitest/config" />
import type { TestProject, Vite, VitestPluginContext } from 'vitest/node';
import {
  parseTestbedOptions,
  type ResolvedTestbedOptions,
  type TestbedOptions,
} from '../harness/testbed-options.js';
import { globalSetupPath } from './global-setup-path.js';
import { resolveModule } from './resolve-module.js';
import { TestbedReporter } from './testbed-reporter.js';

/** Vitest's default 5 s cannot boot a VM under TCG; used when the config sets no timeout. */
export const DEFAULT_TIMEOUT_MS = 180_000;

const withReporter = new WeakSet<object>();

/** The part of a resolved project config the fallback in `configureVitest` reads and sets. */
interface ProjectTestConfig {
  testTimeout: number;
  hookTimeout: number;
  setupFiles: string[];
  provide?: { testbedOptions?: unknown };
  browser?: { enabled?: boolean };
}

/**
 * Gives a project that testbed's `config` hook did not reach what that hook would have given it.
 * Only when the project lacks testbed's options (so the hook's values are known not to be there):
 * then a timeout still at Vitest's own default counts as unset.
 */
export function completeProjectConfig(
  project: Pick<TestProject, 'config' | 'provide'>,
  options: ResolvedTestbedOptions,
): boolean {
  const config = project.config as unknown as ProjectTestConfig;
  if (config.provide?.testbedOptions !== undefined) return false;
  const browser = config.browser?.enabled === true;
  if (config.testTimeout === (browser ? 15_000 : 5_000)) config.testTimeout = DEFAULT_TIMEOUT_MS;
  if (config.hookTimeout === (browser ? 30_000 : 10_000)) config.hookTimeout = DEFAULT_TIMEOUT_MS;
  const registry = options.registry && resolveModule(options.registry, project.config.root);
  if (registry && !config.setupFiles.includes(registry)) config.setupFiles.push(registry);
  config.provide = { ...config.provide, testbedOptions: options };
  project.provide('testbedOptions', options);
  return true;
}

/**
 * The testbed Vitest plugin: validates `options` (a misspelled option throws a `ConfigError`
 * naming it), adds a global setup that discovers providers once per run and provisions the
 * run-scoped machines, and a reporter printing the machines of failed tests.
 */
export function testbed(options: TestbedOptions = {}): Vite.Plugin {
  const resolved = parseTestbedOptions(options);
  let given = false;
  return {
    name: 'testbed',
    // Before Vitest's own `config` hooks: Vitest 5 resolves inline projects that share the root's
    // Vite server from the root's `test` config as it was before its own hooks ran, and runs no
    // plugin `config` hook per project. Set this early, the defaults are part of what every
    // project extends, and a project's (or the CLI's) own value still wins over them.
    enforce: 'pre',
    config: {
      order: 'pre',
      handler(config) {
        given = true;
        // The registry stays as the user wrote it: the root is not known yet this early (Vitest 5
        // takes `--root` from its own hooks). Vitest resolves setupFiles against each project's
        // root, the global setup against the root project's.
        const test: Record<string, unknown> = {
          globalSetup: [globalSetupPath()],
          provide: { testbedOptions: resolved },
        };
        // Loading the registry module in each test process registers its factory there.
        if (resolved.registry) test.setupFiles = [resolved.registry];
        if (config.test?.testTimeout === undefined) test.testTimeout = DEFAULT_TIMEOUT_MS;
        if (config.test?.hookTimeout === undefined) test.hookTimeout = DEFAULT_TIMEOUT_MS;
        return { test };
      },
    },
    configureVitest({ vitest, project }: VitestPluginContext) {
      // A project resolved from a config captured before this plugin's `config` hook ran (e.g.
      // the plugin given in Vitest's programmatic overrides) gets the same values here.
      if (given) completeProjectConfig(project, resolved);
      if (withReporter.has(vitest)) return;
      withReporter.add(vitest);
      (vitest.config.reporters as unknown[]).push(new TestbedReporter());
    },
  };
}
