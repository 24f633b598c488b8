import { configDefaults, defineConfig } from 'vitest/config';

/**
 * Integration files that boot no VM: they use the Docker engine or only ask the backends about
 * themselves. They run beside the unit tests, two files at a time, while the VM files go one by one.
 */
const LIGHT_INTEGRATION = [
  'test/integration/cli-doctor.test.ts',
  'test/integration/docker-deploy.test.ts',
  'test/integration/docker-faults.test.ts',
  'test/integration/docker-provider.test.ts',
  'test/integration/testbed-run.test.ts',
];

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          // The same workers as integration-light: projects of one group share one pool.
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration-light',
          include: LIGHT_INTEGRATION,
          testTimeout: 180_000,
          hookTimeout: 300_000,
          maxWorkers: 2,
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          exclude: [...configDefaults.exclude, ...LIGHT_INTEGRATION],
          // Real VMs boot under TCG on 2 cores: generous bounds, and files one at a time so
          // boots do not starve each other. All three projects share group order 0, so this
          // one starts at once, beside the light files above.
          testTimeout: 180_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
