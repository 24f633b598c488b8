import { benchDebian } from './debian.bench.js';
import { benchDiscovery } from './discovery.bench.js';
import { benchDocker } from './docker.bench.js';
import { benchLibvirt } from './libvirt.bench.js';
import { formatTable, type Measurement } from './measure.js';
import { benchRemoteHost } from './remote-host.bench.js';
import { benchTopology } from './topology.bench.js';
import { benchWarm } from './warm.bench.js';
import { benchWarmSuite } from './warm-suite.bench.js';

const suites: Record<string, () => Promise<Measurement[]>> = {
  discovery: benchDiscovery,
  docker: benchDocker,
  libvirt: benchLibvirt,
  debian: benchDebian,
  warm: benchWarm,
  'warm-suite': benchWarmSuite,
  topology: benchTopology,
  'remote-host': benchRemoteHost,
};

// `npm run bench [-- suite...]`: figures for the README and issue notes; tests never time things.
const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(
    `Unknown benchmark suite(s): ${unknown.join(', ')}. Known: ${Object.keys(suites).join(', ')}`,
  );
  process.exit(2);
}
const rows: Measurement[] = [];
for (const [name, suite] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  process.stderr.write(`bench: ${name}…\n`);
  const result = await suite();
  if (result.length === 0) process.stderr.write(`bench: ${name} skipped (backend unavailable)\n`);
  rows.push(...result);
}
console.log(formatTable(rows));
