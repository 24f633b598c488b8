import { connect } from 'node:net';
import { testbedTest } from 'testbed/vitest';
import { expect } from 'vitest';

// One VM for this file, from the best provider offering all three capabilities.
const it = testbedTest({ needs: ['SerialConsole', 'CloneVm', 'SshAccess'], scope: 'file' });

it('boots and prints its readiness line on the serial console', async ({ machine }) => {
  const [line, hostname] = await machine.console.waitFor(/testbed-ready (\S+)/, {
    timeoutMs: 120_000,
  });
  expect(line).toBe(`testbed-ready ${hostname}`);
});

it('listens for SSH on a loopback port', async ({ machine }) => {
  expect(machine.ssh.host).toBe('127.0.0.1');
  const banner = await new Promise<string>((resolve, reject) => {
    const socket = connect(machine.ssh.port, machine.ssh.host);
    socket.setTimeout(30_000, () => socket.destroy(new Error('no SSH banner within 30 s')));
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString());
    });
    socket.once('error', reject);
  });
  expect(banner).toMatch(/^SSH-2\.0-/);
});

it('clones the running VM, and the clone boots too', async ({ machine }) => {
  const clone = await machine.clone({ name: 'clone' });
  try {
    expect(clone.name).not.toBe(machine.name);
    await expect(
      clone.console?.waitFor(/testbed-ready/, { timeoutMs: 120_000 }),
    ).resolves.toBeTruthy();
  } finally {
    await clone.destroy();
  }
});
