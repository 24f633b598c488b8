import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { useMachine } from 'testbed/jest';
import { deployWebService } from '../web-service/deploy-web-service.mjs';

// The Jest twin of examples/vitest/web-service.test.ts: one body, a VM and a container.
const deploy = ['Exec', 'FileTransfer', 'PortForward'];
const machines = {
  VM: useMachine({ needs: ['VmType(FullVirt)', ...deploy], spec: { ports: [8080] } }),
  container: useMachine({ needs: ['VmType(Container)', ...deploy], spec: { ports: [8080] } }),
};

for (const [kind, handle] of Object.entries(machines)) {
  test(`serves a web service deployed into a ${kind}`, async () => {
    const { machine } = handle;
    await deployWebService(machine, 'Hello');
    const response = await fetch(machine.url(8080, '/cgi-bin/hello?name=testbed'));
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('Hello, testbed!\n');
    const dir = await mkdtemp(join(tmpdir(), 'web-service-'));
    try {
      await machine.copyFrom('/srv/log/requests.log', join(dir, 'requests.log'));
      expect(await readFile(join(dir, 'requests.log'), 'utf8')).toMatch(/ GET name=testbed$/m);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}
