import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type MachineWith, testbedTest } from 'testbed/vitest';
import { expect } from 'vitest';
import { deployWebService } from '../web-service/deploy-web-service.mjs';

// The same deployment and the same assertions, once on a VM and once on a container.
const vm = testbedTest({
  needs: ['VmType(FullVirt)', 'Exec', 'FileTransfer', 'PortForward'],
  spec: { ports: [8080] },
});
const container = testbedTest({
  needs: ['VmType(Container)', 'Exec', 'FileTransfer', 'PortForward'],
  spec: { ports: [8080] },
});

async function servesTheSite(machine: MachineWith<['Exec', 'FileTransfer', 'PortForward']>) {
  await deployWebService(machine, 'Hello');

  const response = await fetch(machine.url(8080, '/cgi-bin/hello?name=testbed'));
  expect(response.status).toBe(200);
  expect(await response.text()).toBe('Hello, testbed!\n');
  expect(machine.endpoint(8080).host).toBe('127.0.0.1');

  const dir = await mkdtemp(join(tmpdir(), 'web-service-'));
  try {
    await machine.copyFrom('/srv/log/requests.log', join(dir, 'requests.log'));
    expect(await readFile(join(dir, 'requests.log'), 'utf8')).toMatch(/ GET name=testbed$/m);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

vm('serves a web service deployed into a VM', ({ machine }) => servesTheSite(machine));
container('serves a web service deployed into a container', ({ machine }) =>
  servesTheSite(machine),
);
