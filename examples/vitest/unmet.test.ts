import { testbedTest } from 'testbed/vitest';

// No provider offers a GPU here: the test is skipped, and the report says what is missing.
const it = testbedTest({ needs: ['Custom(gpu)'] });

it('trains a model on a GPU', ({ machine }) => {
  throw new Error(`not reached on this host: ${machine.name}`);
});
