import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { ProviderRegistry } from '../../src/core/registry.js';
import { runCommand } from '../../src/core/run-command.js';
import { createRunContext } from '../../src/core/run-context.js';
import { DockerProvider } from '../../src/providers/docker/index.js';
import { ownerState } from '../../src/reaper/owner-state.js';
import { sweepDeadRuns } from '../../src/reaper/sweep-dead-runs.js';
import { VmBackendRegistry } from '../../src/registry.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const TSX = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
const IMAGE = `testbed-reaper-test/busybox:${process.pid}`;
const READY = 'testbed-ready';
const LIBVIRT_URI = loadConfig().libvirtUri;

/**
 * The owner process of a run, as a test suite would be: it starts the watchdog (unless told not
 * to), provisions one machine per provider, reports each step as a JSON line, and on `finish`
 * tears down cleanly and stops its watchdog.
 */
const CHILD = `
import { createInterface } from 'node:readline';
import { createRunContext } from ${JSON.stringify(`${SRC}core/run-context.ts`)};
import { startWatchdog } from ${JSON.stringify(`${SRC}reaper/start-watchdog.ts`)};
import { VmBackendRegistry } from ${JSON.stringify(`${SRC}registry.ts`)};

const config = JSON.parse(process.argv[2]);
const emit = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\\n');
const run = createRunContext();
emit('run', { runId: run.runId });
const watchdog = config.watchdog
  ? await startWatchdog(run, { pollMs: 200, resweepDelaysMs: [2000, 6000] })
  : undefined;
emit('watchdog', { pid: watchdog?.pid ?? null });
const registry = VmBackendRegistry.withDefaults();
const machines = [];
for (const id of config.providers) {
  const provisioner = await registry.get(id).createProvisioner({ run });
  emit('provisioning', { provider: id });
  machines.push(await provisioner.provision(config.specs[id]));
  emit('provisioned', { provider: id, name: machines.at(-1).name });
  if (config.warm && id === 'libvirt') {
    // A warm template and two machines restored from it, as a suite of test-scoped VMs holds them.
    const snapshot = await machines.at(-1).snapshot({ memory: true });
    machines.push(...(await Promise.all([snapshot.restore(), snapshot.restore()])));
    emit('restored', { names: machines.slice(-2).map((m) => m.name) });
  }
}
emit('running');
const keepAlive = setInterval(() => {}, 1000);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === 'check') {
    const outputs = await Promise.all(machines.map((m) => m.exec(['echo', 'ok'])));
    emit('checked', { outputs: outputs.map((o) => o.stdout.trim()) });
  }
  if (line === 'finish' || line === 'abandon') {
    emit('tearing-down');
    if (line === 'finish') for (const m of machines.reverse()) await m.destroy();
    await watchdog?.stop();
    emit('finished');
    clearInterval(keepAlive);
    process.exit(0);
  }
}
`;

/** A process that only starts a run's watchdog, then exits, holds, or stops it. */
const WATCHDOG_ONLY = `
import { createRunContext } from ${JSON.stringify(`${SRC}core/run-context.ts`)};
import { startWatchdog } from ${JSON.stringify(`${SRC}reaper/start-watchdog.ts`)};

const { action, run: given } = JSON.parse(process.argv[2]);
const run = given ?? createRunContext();
const first = await startWatchdog(run, { pollMs: 100, resweepDelaysMs: [] });
const second = await startWatchdog(run);
const { pid, owned, logPath } = first;
console.log(JSON.stringify({ run, pid, owned, logPath, same: first === second }));
if (action === 'stop') await first.stop();
if (action === 'hold') setInterval(() => {}, 1000);
`;

interface ChildEvent {
  event: string;
  [key: string]: unknown;
}

/** A running owner process and the events it reported. */
interface Owner {
  process: ChildProcess;
  events: ChildEvent[];
  runId: string;
  watchdogPid: number | undefined;
  waitFor(event: string, timeoutMs?: number): Promise<ChildEvent>;
  send(line: string): void;
  exited: Promise<number | null>;
}

/** The last serial console lines of each VM of the run, to say where a slow provisioning stood. */
async function serialTails(runId: string): Promise<string> {
  const runDir = join(stateDir, runId);
  if (!existsSync(runDir)) return '';
  const parts: string[] = [];
  for (const entry of await readdir(runDir, { withFileTypes: true })) {
    const log = join(runDir, entry.name, 'serial.log');
    if (!entry.isDirectory() || !existsSync(log)) continue;
    const lines = (await readFile(log, 'utf8')).trimEnd().split('\n').slice(-15);
    parts.push(`\n--- ${entry.name} serial tail:\n${lines.join('\n')}`);
  }
  return parts.join('');
}

let workDir: string;
let stateDir: string;
let childScript: string;
let cliScript: string;
let watchdogScript: string;
const owners: Owner[] = [];

async function startOwner(
  config: { providers: string[]; watchdog?: boolean; warm?: boolean },
  env: NodeJS.ProcessEnv = {},
): Promise<Owner> {
  const specs = {
    docker: { name: 'reaper', image: IMAGE, readyLog: READY },
    libvirt: { name: 'reaper' },
  };
  const child = spawn(
    process.execPath,
    ['--import', TSX, childScript, JSON.stringify({ watchdog: true, ...config, specs })],
    {
      env: { ...process.env, TESTBED_STATE_DIR: stateDir, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    },
  );
  const events: ChildEvent[] = [];
  const waiters: (() => void)[] = [];
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr += chunk;
  });
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
    events.push(JSON.parse(line) as ChildEvent);
    for (const wake of waiters.splice(0)) wake();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  void exited.then(() => {
    for (const wake of waiters.splice(0)) wake();
  });
  const waitFor = async (event: string, timeoutMs = 120_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = events.find((e) => e.event === event);
      if (found) return found;
      if (child.exitCode !== null || child.signalCode !== null || Date.now() > deadline) {
        const runId = events.find((e) => e.event === 'run')?.runId as string | undefined;
        throw new Error(
          `owner never reported '${event}' (events: ${events.map((e) => e.event)}): ${stderr}${runId ? await serialTails(runId) : ''}`,
        );
      }
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 250);
      });
    }
  };
  const owner: Owner = {
    process: child,
    events,
    runId: '',
    watchdogPid: undefined,
    waitFor,
    send: (line) => child.stdin?.write(`${line}\n`),
    exited,
  };
  owners.push(owner);
  owner.runId = (await waitFor('run', 30_000)).runId as string;
  owner.watchdogPid = ((await waitFor('watchdog', 30_000)).pid as number | null) ?? undefined;
  return owner;
}

async function lines(file: string, args: string[]): Promise<string[]> {
  const result = await runCommand(file, args, { timeoutMs: 30_000, reject: false });
  return result.stdout.split('\n').filter(Boolean);
}

/** Everything of `runId` still on the machine: containers, networks, images, domains, libvirt networks, its state dir. */
async function leftovers(runId: string): Promise<string[]> {
  const filter = `label=testbed.run=${runId}`;
  const [containers, networks, images, domains, nets] = await Promise.all([
    lines('docker', ['ps', '-aq', '--filter', filter]),
    lines('docker', ['network', 'ls', '-q', '--filter', filter]),
    lines('docker', ['images', '-q', '--filter', filter]),
    lines('virsh', ['-c', LIBVIRT_URI, 'list', '--all', '--name']),
    lines('virsh', ['-c', LIBVIRT_URI, 'net-list', '--all', '--name']),
  ]);
  return [
    ...containers.map((c) => `container ${c}`),
    ...networks.map((n) => `network ${n}`),
    ...images.map((i) => `image ${i}`),
    ...domains.filter((d) => d.includes(runId)).map((d) => `domain ${d}`),
    ...nets.filter((n) => n.includes(runId)).map((n) => `libvirt network ${n}`),
    ...(existsSync(join(stateDir, runId)) ? [`directory ${join(stateDir, runId)}`] : []),
  ];
}

/** Polls until nothing of `runId` remains; resolves with the time it took, rejects with what is left. */
async function waitUntilClean(runId: string, timeoutMs = 90_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const left = await leftovers(runId);
    if (left.length === 0) return Date.now() - started;
    if (Date.now() - started > timeoutMs) {
      const log = await readFile(join(stateDir, '.watchdog', `${runId}.log`), 'utf8').catch(
        () => '(no watchdog log)',
      );
      throw new Error(
        `still there after ${timeoutMs} ms: ${left.join(', ')}\nwatchdog log:\n${log}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function waitForExit(pid: number | undefined, timeoutMs = 60_000): Promise<void> {
  const owner = { pid: pid ?? 0, startTime: 0 };
  const deadline = Date.now() + timeoutMs;
  while (pid && ownerState(owner) === 'alive') {
    if (Date.now() > deadline) throw new Error(`process ${pid} still runs after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Runs the `testbed` command line as a user would, in its own process. */
async function testbed(args: string[], env: Record<string, string> = {}) {
  return runCommand(process.execPath, ['--import', TSX, cliScript, ...args], {
    env: { TESTBED_STATE_DIR: stateDir, ...env },
    reject: false,
    timeoutMs: 120_000,
  });
}

function kill(owner: Owner): number {
  owner.process.kill('SIGKILL');
  return Date.now();
}

const defaults = VmBackendRegistry.withDefaults();
const docker = new DockerProvider();
const dockerUp = await docker.isAvailable();
const dockerReady = dockerUp && defaults.get('docker') !== undefined;
const libvirt = defaults.get('libvirt');
const libvirtReady = libvirt !== undefined && (await libvirt.isAvailable());

beforeAll(async () => {
  workDir = await mkdtemp(join(tmpdir(), 'testbed-reaper-'));
  // libvirt's QEMU user must traverse the state dir to reach overlays and seeds.
  await chmod(workDir, 0o755);
  stateDir = join(workDir, 'state');
  childScript = join(workDir, 'owner.mjs');
  await writeFile(childScript, CHILD);
  watchdogScript = join(workDir, 'watchdog-only.mjs');
  await writeFile(watchdogScript, WATCHDOG_ONLY);
  cliScript = join(workDir, 'cli.mjs');
  await writeFile(
    cliScript,
    `const { main } = await import(${JSON.stringify(`${SRC}cli/main.ts`)});\nprocess.exitCode = await main(process.argv.slice(2));\n`,
  );
  const context = join(workDir, 'image');
  await runCommand('mkdir', ['-p', context]);
  await runCommand('cp', ['/bin/busybox', join(context, 'busybox')]);
  await writeFile(
    join(context, 'Dockerfile'),
    [
      'FROM scratch',
      'COPY busybox /bin/busybox',
      'RUN ["/bin/busybox","--install","-s","/bin"]',
      `CMD ["/bin/sh","-c","echo ${READY}; exec sleep 2147483647"]`,
      '',
    ].join('\n'),
  );
  await runCommand('docker', ['build', '-q', '-t', IMAGE, context], { timeoutMs: 120_000 });
});

afterAll(async () => {
  for (const owner of owners) owner.process.kill('SIGKILL');
  const registry = new ProviderRegistry().register(docker);
  if (libvirt) registry.register(libvirt);
  for (const owner of owners) {
    if (owner.runId) for (const p of registry.providers()) await p.removeRun?.(owner.runId);
  }
  await runCommand('docker', ['rmi', '-f', IMAGE], { reject: false });
  await rm(workDir, { recursive: true, force: true });
});

interface WatchdogStarted {
  run: { runId: string; owner: { pid: number; startTime: number } };
  pid: number;
  owned: boolean;
  logPath: string;
  same: boolean;
}

/** Starts WATCHDOG_ONLY; resolves with what it printed once it did, and its exit. */
function startWatchdogOwner(
  action: 'exit' | 'hold' | 'stop',
  run?: WatchdogStarted['run'],
  env: NodeJS.ProcessEnv = {},
) {
  const child = spawn(
    process.execPath,
    ['--import', TSX, watchdogScript, JSON.stringify({ action, run })],
    {
      env: { ...process.env, TESTBED_STATE_DIR: stateDir, ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const started = new Promise<WatchdogStarted>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', (line) => resolve(JSON.parse(line)));
    void exited.then((code) => reject(new Error(`exited with ${code} before starting a watchdog`)));
  });
  return { child, started, exited };
}

describe('the watchdog process', () => {
  it('does not keep its owner alive, notices the owner is gone, and exits', async () => {
    const owner = startWatchdogOwner('exit');
    const { pid, owned, run } = await owner.started;
    expect(owned).toBe(true);
    expect(await owner.exited).toBe(0);
    await waitForExit(pid, 20_000);
    const log = await readFile(join(stateDir, '.watchdog', `${run.runId}.log`), 'utf8');
    expect(log).toContain(`owner pid ${run.owner.pid} is gone`);
    expect(log).toContain('done: 0 removed, 0 left');
  });

  it('runs once per run: the same handle in one process, a non-owning one in another', async () => {
    const holder = startWatchdogOwner('hold');
    const first = await holder.started;
    expect(first.same).toBe(true);
    const other = startWatchdogOwner('stop', first.run);
    const second = await other.started;
    expect(second).toMatchObject({ owned: false, pid: first.pid });
    expect(await other.exited).toBe(0);
    // The non-owning stop() did not stop the run's watchdog.
    expect(ownerState({ pid: first.pid, startTime: 0 })).toBe('alive');
    holder.child.kill('SIGKILL');
    await waitForExit(first.pid, 20_000);
    const log = await readFile(first.logPath, 'utf8');
    expect(log.match(/watching run/g)).toHaveLength(1);
    expect(log).toContain(`owner pid ${first.run.owner.pid} is gone`);
  });

  it("watches even when the owner's NODE_OPTIONS load what only the owner can resolve", async () => {
    // As under Jest with ESM and TypeScript: resolved from the watchdog's cwd `/`, `tsx` is not found.
    const owner = startWatchdogOwner('hold', undefined, {
      NODE_OPTIONS: '--experimental-vm-modules --import tsx --no-warnings',
    });
    const { pid, owned, logPath, run } = await owner.started;
    expect(owned).toBe(true);
    expect(await readFile(logPath, 'utf8')).toContain(`watching run ${run.runId}`);
    owner.child.kill('SIGKILL');
    await waitForExit(pid, 20_000);
    expect(await readFile(logPath, 'utf8')).toContain('done: 0 removed, 0 left');
  });

  it('stop() ends it at once and leaves none of its files', async () => {
    const owner = startWatchdogOwner('stop');
    const { pid, run } = await owner.started;
    expect(await owner.exited).toBe(0);
    expect(ownerState({ pid, startTime: 0 })).toBe('dead');
    for (const suffix of ['log', 'pid', 'stop']) {
      expect(existsSync(join(stateDir, '.watchdog', `${run.runId}.${suffix}`))).toBe(false);
    }
  });
});

describe.skipIf(!dockerUp && !process.env.CI)('sweepDeadRuns on the real Docker engine', () => {
  it('removes the container of a dead run and keeps the one of a live run', async () => {
    const registry = new ProviderRegistry().register(docker);
    const live = createRunContext();
    const provisioner = await docker.createProvisioner({ run: live });
    const kept = await provisioner.provision({ name: 'live', image: IMAGE, readyLog: READY });
    try {
      const dead = await startOwner({ providers: ['docker'], watchdog: false });
      await dead.waitFor('running');
      kill(dead);
      await dead.exited;
      expect(await leftovers(dead.runId)).toHaveLength(1);

      const report = await sweepDeadRuns({ registry });
      expect(report.runs.find((d) => d.run.runId === dead.runId)?.remove).toBe(true);
      expect(report.runs.find((d) => d.run.runId === live.runId)?.remove).toBe(false);
      expect(await leftovers(dead.runId)).toEqual([]);
      expect(await leftovers(live.runId)).toHaveLength(1);
    } finally {
      await kept.destroy();
    }
  });

  it('reports a Docker daemon that is not there instead of failing', async () => {
    const missing = 'unix:///nonexistent/docker.sock';
    const registry = new ProviderRegistry().register(
      new DockerProvider({ env: { DOCKER_HOST: missing } }),
    );
    const report = await sweepDeadRuns({ registry });
    expect(report.complete).toBe(false);
    expect(report.backends[0]).toMatchObject({ providerId: 'docker', status: 'unavailable' });
    expect(report.backends[0]?.reason).toContain('Docker');
  });
});

interface KillPoint {
  name: string;
  providers: string[];
  killAfter: string;
  delayMs?: number;
}

const killPoints: KillPoint[] = [
  { name: 'docker, during provisioning', providers: ['docker'], killAfter: 'provisioning' },
  { name: 'docker, while running', providers: ['docker'], killAfter: 'running' },
  {
    name: 'docker, during teardown',
    providers: ['docker'],
    killAfter: 'tearing-down',
  },
  {
    name: 'libvirt + docker, during the VM provisioning',
    providers: ['libvirt', 'docker'],
    killAfter: 'provisioning',
    delayMs: 300,
  },
  {
    name: 'libvirt + docker, while the domain is being created',
    providers: ['libvirt', 'docker'],
    killAfter: 'provisioning',
    delayMs: 1200,
  },
  {
    name: 'libvirt + docker, while running',
    providers: ['libvirt', 'docker'],
    killAfter: 'running',
  },
];

/** Kills an owner at `killAfter` (+ `delayMs`) and checks its watchdog removed everything. */
async function expectReapedAt({ name, providers, killAfter, delayMs }: KillPoint): Promise<void> {
  if (providers.includes('libvirt') && !libvirtReady) {
    if (process.env.CI)
      throw new Error('the libvirt provider is not registered or libvirtd is down');
    return;
  }
  const owner = await startOwner({ providers });
  expect(owner.watchdogPid).toBeGreaterThan(0);
  if (killAfter === 'tearing-down') {
    await owner.waitFor('running');
    owner.send('finish');
  }
  await owner.waitFor(killAfter);
  if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
  const killedAt = kill(owner);
  await owner.exited;
  await waitUntilClean(owner.runId);
  const cleanAt = Date.now();
  await waitForExit(owner.watchdogPid);
  console.log(
    `[reaper timing] ${name}: nothing left ${cleanAt - killedAt} ms after SIGKILL; watchdog exited after ${Date.now() - killedAt} ms (resweeps included)`,
  );
  // A create in flight at the kill may complete after the first look: look again at the end.
  expect(await leftovers(owner.runId)).toEqual([]);
  const log = await readFile(join(stateDir, '.watchdog', `${owner.runId}.log`), 'utf8');
  expect(log).toContain(`owner pid ${owner.process.pid} is gone`);
  expect(log).toMatch(/done: \d+ removed, 0 left/);
  expect(existsSync(join(stateDir, '.watchdog', `${owner.runId}.pid`))).toBe(false);
}

/**
 * The kill points of a VM being provisioned run alone: their delays aim at one moment of the
 * boot, which a queue for a boot slot behind another test's VM would move.
 */
const atProvisioning = (p: KillPoint) =>
  p.providers.includes('libvirt') && p.killAfter === 'provisioning';

describe.skipIf(!dockerReady && !process.env.CI)('the watchdog of a SIGKILLed owner', () => {
  beforeAll(() => {
    if (!dockerReady) throw new Error('the docker provider is not registered or Docker is down');
  });

  // Docker's kill points and a clean end at the same time: each test has a run of its own and
  // looks only at what carries its run id; most of each is waiting out the watchdog's resweeps.
  it.concurrent.each(killPoints.filter((p) => !p.providers.includes('libvirt')))(
    'removes everything of the run: $name',
    expectReapedAt,
  );

  it.concurrent('exits without removing anything when the run ends cleanly with watchdog.stop()', async () => {
    const owner = await startOwner({ providers: ['docker'] });
    await owner.waitFor('running');
    owner.send('abandon');
    expect(await owner.exited).toBe(0);
    await waitForExit(owner.watchdogPid, 10_000);
    // The owner is gone and its container is still there: the watchdog did not reap a clean run.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await leftovers(owner.runId)).toHaveLength(1);
    expect(existsSync(join(stateDir, '.watchdog', `${owner.runId}.log`))).toBe(false);
    expect(existsSync(join(stateDir, '.watchdog', `${owner.runId}.pid`))).toBe(false);
    await docker.removeRun(owner.runId);
  });

  it.each(killPoints.filter(atProvisioning))(
    'removes everything of the run: $name',
    expectReapedAt,
  );

  // A running VM and a warm template: two boots, which the host's two boot slots take at once.
  it.concurrent.each(
    killPoints.filter((p) => p.providers.includes('libvirt') && !atProvisioning(p)),
  )('removes everything of the run: $name', expectReapedAt);

  it.concurrent('removes a warm template, its save image, frozen layer and restores within 15 s', async () => {
    if (!libvirtReady) {
      if (process.env.CI)
        throw new Error('the libvirt provider is not registered or libvirtd is down');
      return;
    }
    const owner = await startOwner({ providers: ['libvirt'], warm: true });
    const restored = (await owner.waitFor('restored')).names as string[];
    await owner.waitFor('running');
    expect(await leftovers(owner.runId)).toEqual(
      expect.arrayContaining(restored.map((name) => `domain ${name}`)),
    );
    const killedAt = kill(owner);
    await owner.exited;
    const tookMs = await waitUntilClean(owner.runId, 15_000);
    console.log(
      `[reaper timing] warm template + 2 restores: nothing left ${Date.now() - killedAt} ms after SIGKILL (${tookMs} ms polling)`,
    );
    await waitForExit(owner.watchdogPid);
    expect(await leftovers(owner.runId)).toEqual([]);
  });

  // Two VMs: both boot slots.
  it('killing one of two concurrent runs leaves the other running and working', async () => {
    const providers = libvirtReady ? ['libvirt', 'docker'] : ['docker'];
    const [victim, survivor] = await Promise.all([
      startOwner({ providers }),
      startOwner({ providers }),
    ]);
    await Promise.all([victim.waitFor('running'), survivor.waitFor('running')]);
    const before = await leftovers(survivor.runId);
    kill(victim);
    await waitUntilClean(victim.runId);
    await waitForExit(victim.watchdogPid);
    expect(await leftovers(survivor.runId)).toEqual(before);
    survivor.send('check');
    const checked = await survivor.waitFor('checked', 30_000);
    expect(checked.outputs).toEqual(providers.map(() => 'ok'));
    survivor.send('finish');
    expect(await survivor.exited).toBe(0);
    // Machines go with destroy(); libvirt's run directory (manifest only) stays until gc.
    const left = await leftovers(survivor.runId);
    expect(left.filter((l) => !l.startsWith('directory '))).toEqual([]);
  });
});

describe.skipIf(!dockerReady && !process.env.CI)('testbed ls and testbed gc', () => {
  beforeAll(() => {
    if (!dockerReady) throw new Error('the docker provider is not registered or Docker is down');
  });

  it('ls shows a dead run; gc --dry-run lists it without removing; gc removes it', async () => {
    const dead = await startOwner({ providers: ['docker'], watchdog: false });
    await dead.waitFor('running');
    kill(dead);
    await dead.exited;
    const only = { TESTBED_PROVIDERS: 'docker' };

    const ls = await testbed(['ls', '--json'], only);
    expect(ls.exitCode).toBe(0);
    const listed = JSON.parse(ls.stdout).runs.find(
      (r: { runId: string }) => r.runId === dead.runId,
    );
    expect(listed).toMatchObject({ ownerState: 'dead', owner: { pid: dead.process.pid } });
    expect(listed.resources).toEqual([
      expect.objectContaining({ providerId: 'docker', kind: 'container' }),
    ]);

    const dry = await testbed(['gc', '--dry-run'], only);
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(new RegExp(`would remove +run ${dead.runId} .*is gone`));
    expect(dry.stdout).toContain('nothing was removed');
    expect(await leftovers(dead.runId)).toHaveLength(1);

    const gc = await testbed(['gc'], only);
    expect(gc.stdout).toMatch(new RegExp(`remove +run ${dead.runId} `));
    expect(await leftovers(dead.runId)).toEqual([]);
  });

  it('ls and gc report daemons that are down with exit 1 and a clear message, not a crash', async () => {
    const down = {
      DOCKER_HOST: 'unix:///nonexistent/docker.sock',
      TESTBED_LIBVIRT_URI: 'qemu+unix:///system?socket=/nonexistent/libvirt-sock',
    };
    for (const args of [['ls'], ['gc', '--dry-run'], ['gc']]) {
      const result = await testbed(args, down);
      expect(result.exitCode, `testbed ${args.join(' ')}: ${result.stderr}`).toBe(1);
      expect(result.stderr).toContain('could not check docker (unavailable)');
      expect(result.stderr).toContain('the list is incomplete');
      expect(result.stderr).not.toMatch(/\n\s+at /);
      if (libvirt)
        expect(result.stderr).toMatch(/could not check libvirt \((unavailable|failed)\)/);
    }
  });
});
