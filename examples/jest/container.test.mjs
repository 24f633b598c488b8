import { useMachine } from 'testbed/jest';

// Provisioned in beforeAll, destroyed in afterAll.
const container = useMachine({ needs: ['VmType(Container)', 'Exec'] });

test('runs a command in a throwaway container', async () => {
  const result = await container.machine.exec(['uname', '-s']);
  expect(result).toMatchObject({ exitCode: 0, stdout: 'Linux\n' });
});

test('reaches the run-scoped machine by name', async () => {
  const box = await testbed.runMachine('box');
  expect((await box.exec(['true'])).exitCode).toBe(0);
});
