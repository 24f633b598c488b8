import { testbedTest } from 'testbed/vitest';
import { expect } from 'vitest';

const it = testbedTest({ needs: ['VmType(Container)', 'Exec'] });

it('runs a command in a throwaway container', async ({ machine }) => {
  expect(machine.vmType).toBe('Container');
  const result = await machine.exec(['uname', '-s']);
  expect(result).toMatchObject({ exitCode: 0, stdout: 'Linux\n' });
});
