import { testbed } from 'testbed/vitest';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  plugins: [testbed({ onUnmet: 'skip' })],
  test: {
    // Files run in parallel, as Vitest's default: testbed queues VM boots to what the host can carry.
    include: ['*.test.ts'],
  },
});
