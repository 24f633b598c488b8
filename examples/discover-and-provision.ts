/**
 * The reference design's example: register providers, list capabilities, discover what is
 * available (in parallel), check health, select the best backend for some needs, then provision
 * one machine, use it and destroy it.
 *
 *   npx tsx examples/discover-and-provision.ts [needs, e.g. SerialConsole,CloneVm]
 */
import {
  createRunContext,
  formatCapability,
  isTestbedError,
  type Machine,
  parseNeeds,
  VmBackendRegistry,
} from 'testbed';

const rule = (title: string) => console.log(`\n${title}\n${'-'.repeat(title.length)}`);

async function main(): Promise<number> {
  // Needs from the command line are plain strings: parseNeeds checks them (and names bad ones).
  const needs = parseNeeds((process.argv[2] ?? '').split(',').filter(Boolean)).map(
    formatCapability,
  );
  console.log('VM BACKEND DISCOVERY: capability-based, nothing hard-coded');

  rule('Registering VM backend providers...');
  const registry = VmBackendRegistry.withDefaults();
  const providers = registry.providers();
  if (providers.length === 0) {
    console.log('No provider is built in yet: nothing to discover.');
    return 1;
  }
  for (const provider of providers) console.log(`  registered ${provider.name} (${provider.id})`);

  rule('Querying capabilities across all providers...');
  for (const provider of providers) {
    console.log(`Provider: ${provider.id}`);
    for (const capability of provider.capabilities())
      console.log(`  + ${formatCapability(capability)}`);
  }

  rule('Discovering available providers (runtime detection)...');
  const started = performance.now();
  const available = await registry.findAvailable();
  console.log(
    `Found ${available.length} available provider(s) in ${Math.round(performance.now() - started)} ms:`,
  );
  for (const provider of available) console.log(`  + ${provider.name} (${provider.id})`);

  rule('Checking health status...');
  for (const [id, health] of await registry.healthCheck()) {
    console.log(`Provider: ${id}`);
    if (health instanceof Error) {
      console.log(`  Status: unavailable (${health.message})`);
      continue;
    }
    console.log(`  Status: ${health.healthy ? 'Healthy' : 'Unhealthy'}`);
    if (health.version) console.log(`  Version: ${health.version}`);
    console.log(`  VMs Available: ${health.resources.vmsAvailable}`);
    console.log(`  VMs Running: ${health.resources.vmsRunning}`);
    for (const warning of health.warnings) console.log(`  Warning: ${warning}`);
  }

  rule(`Selecting best available backend${needs.length ? ` for ${needs.join(', ')}` : ''}...`);
  const best = await registry.findBest(needs);
  console.log(`Selected: ${best.name} (${best.id})`);
  console.log(`VM Type: ${best.vmType()}`);

  rule('Provisioning one machine...');
  const provisioner = await best.createProvisioner({ run: createRunContext() });
  const t0 = performance.now();
  const machine: Machine = await provisioner.provision({ name: 'example' });
  try {
    console.log(`Machine ${machine.name} is ready after ${Math.round(performance.now() - t0)} ms`);
    if (machine.console) console.log(`  console: ${(await machine.console.tail(1)).trim()}`);
    if (machine.exec) {
      const { stdout } = await machine.exec(['uname', '-a']);
      console.log(`  uname -a: ${stdout.trim()}`);
    }
    if (machine.ssh)
      console.log(`  ssh: ${machine.ssh.username}@${machine.ssh.host}:${machine.ssh.port}`);
  } finally {
    const t1 = performance.now();
    await machine.destroy();
    console.log(`Destroyed ${machine.name} in ${Math.round(performance.now() - t1)} ms`);
  }
  return 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(isTestbedError(error) ? error.message : error);
    process.exitCode = 1;
  },
);
