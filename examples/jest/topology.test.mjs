import { useMachines } from 'testbed/jest';

// Two containers on a network of their own, provisioned in parallel in beforeAll.
const topology = useMachines({
  machines: {
    server: { needs: ['VmType(Container)', 'Exec'] },
    client: { needs: ['VmType(Container)', 'Exec'] },
  },
  networks: { lan: ['server', 'client'] },
});

const ping = (from, to) => from.exec(`ping -c 1 -W 2 ${to}`).then((r) => r.exitCode);

test('members reach each other by name, and not while the link is cut', async () => {
  expect(await ping(topology.machines.client, 'server')).toBe(0);
  await topology.networks.lan.disconnect(topology.machines.server);
  expect(await ping(topology.machines.client, 'server')).not.toBe(0);
  await topology.networks.lan.connect(topology.machines.server);
  expect(await ping(topology.machines.client, 'server')).toBe(0);
});
