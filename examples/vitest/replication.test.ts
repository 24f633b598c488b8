import { testbedTest } from 'testbed/vitest';
import { expect } from 'vitest';

// A primary in a VM serves its append-only log over HTTP; a replica in a container copies it
// every half second. The two reach each other by name on an isolated network of their own.
const it = testbedTest({
  machines: {
    primary: { needs: ['VmType(FullVirt)', 'Exec', 'PowerControl'] },
    replica: { needs: ['VmType(Container)', 'Exec'] },
  },
  networks: { lan: ['primary', 'replica'] },
});

const START_PRIMARY = 'mkdir -p /srv/log && touch /srv/log/records && httpd -p 8080 -h /srv/log';
const START_REPLICA = `setsid sh -c 'while :; do
  timeout 2 wget -q -O /tmp/records.new http://primary:8080/records && mv /tmp/records.new /records
  sleep 0.5
done' >/dev/null 2>&1 &`;

it('replicates records across a link cut and a crash of the primary', async ({
  machines: { primary, replica },
  networks: { lan },
}) => {
  const write = (record: string) =>
    primary.exec(`echo ${record} >> /srv/log/records && sync`, { timeoutMs: 30_000 });
  const replicated = async () => (await replica.exec('cat /records 2>/dev/null')).stdout;
  const eventually = (expected: string) =>
    expect.poll(replicated, { timeout: 30_000, interval: 500 }).toBe(expected);

  await primary.exec(START_PRIMARY);
  await replica.exec(START_REPLICA);
  await write('one');
  await eventually('one\n');

  // The replica is cut off: it keeps what it had, and catches up once the link is back.
  await lan.disconnect(replica);
  await write('two');
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect(await replicated()).toBe('one\n');
  await lan.connect(replica);
  await eventually('one\ntwo\n');

  // The primary loses power: what it synced is on its disk when it boots again.
  await primary.crash();
  await primary.start();
  await primary.exec(START_PRIMARY);
  await write('three');
  await eventually('one\ntwo\nthree\n');
});
