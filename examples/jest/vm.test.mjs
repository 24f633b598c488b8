/**
 * @testbed-needs SerialConsole,CloneVm,SshAccess
 */

// The environment provisioned `testbed.machine` for this file and destroys it afterwards.
test('boots and prints its readiness line on the serial console', async () => {
  const [line, hostname] = await testbed.machine.console.waitFor(/testbed-ready (\S+)/, {
    timeoutMs: 120_000,
  });
  expect(line).toBe(`testbed-ready ${hostname}`);
});

test('clones the running VM, and the clone boots too', async () => {
  const clone = await testbed.machine.clone({ name: 'clone' });
  try {
    await expect(
      clone.console.waitFor(/testbed-ready/, { timeoutMs: 120_000 }),
    ).resolves.toBeTruthy();
  } finally {
    await clone.destroy();
  }
});
