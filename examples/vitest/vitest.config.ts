import { testbed } from 'testbed/vitest';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [testbed({ onUnmet: 'skip' })],
  test: {
    include: ['*.test.ts'],
    // VMs boot under TCG on small hosts: one file at a time keeps boots from starving each other.
    fileParallelism: false,
  },
});
