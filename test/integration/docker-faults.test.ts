import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine } from '../../src/core/provider.js';
import { runCommand } from '../../src/core/run-command.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import type { DockerNetwork } from '../../src/providers/docker/docker-network.js';
import {
  type DockerMachine,
  DockerProvider,
  type DockerProvisioner,
} from '../../src/providers/docker/index.js';

// The default image: testbed's tiny container (FROM scratch, busybox), built through the engine.
const provider = new DockerProvider();
const available = await provider.isAvailable();

async function exec(machine: Machine, command: string): Promise<string> {
  const result = await machine.exec?.(command, { timeoutMs: 30_000 });
  expect(result?.exitCode, `${command}: ${result?.stderr}`).toBe(0);
  return result?.stdout ?? '';
}

/** The body of GET / on the machine's port 8080, or undefined when nothing answers within `ms`. */
async function page(machine: DockerMachine, ms: number): Promise<string | undefined> {
  try {
    const response = await fetch(machine.url(8080, '/'), { signal: AbortSignal.timeout(ms) });
    return await response.text();
  } catch {
    return undefined;
  }
}

/** Pings `host` from `machine`; true when at least one answer came back. */
async function pings(machine: Machine, host: string): Promise<boolean> {
  const result = await machine.exec?.(['ping', '-c', '2', '-W', '2', host], { timeoutMs: 30_000 });
  return /[1-9]\d* packets received/.test(result?.stdout ?? '');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('resolved'),
    (error: unknown) => error,
  );
}

const SERVE = 'mkdir -p /srv && echo served > /srv/index.html && httpd -p 8080 -h /srv';

describe.skipIf(!available && !process.env.CI)('Docker faults on the real engine', () => {
  let run: RunContext;
  let provisioner: DockerProvisioner;
  let network: DockerNetwork;
  let a: DockerMachine;
  let b: DockerMachine;

  beforeAll(async () => {
    if (!available) throw new Error(`docker is not available here (${provider.setupHint})`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
    network = await provisioner.createNetwork({ name: 'faults' });
    [a, b] = await Promise.all([
      provisioner.provision({
        name: 'a',
        aliases: ['member-a'],
        networks: [network],
        ports: [8080],
        readyLog: /testbed-ready/,
      }),
      provisioner.provision({ name: 'b', networks: [network] }),
    ]);
  });

  afterAll(async () => {
    if (run) await provider.removeRun(run.runId);
  });

  it('advertises PauseResume, NetworkFaults and PowerControl', () => {
    const names = provider.capabilities().map((c) => c.kind);
    expect(names).toEqual(expect.arrayContaining(['PauseResume', 'NetworkFaults', 'PowerControl']));
  });

  it('a paused container answers nothing, and resumes with its state', async () => {
    await exec(a, SERVE);
    expect(await page(a, 5_000)).toBe('served\n');
    await a.pause();
    await a.pause();
    expect(await page(a, 1_500)).toBeUndefined();
    const frozen = await rejection(a.exec('true'));
    expect(isTestbedError(frozen, 'TESTBED_FAULT_FAILED'), String(frozen)).toBe(true);
    expect(String(frozen)).toContain('resume()');
    await a.resume();
    await a.resume();
    expect(await page(a, 5_000)).toBe('served\n');
  });

  it('a disconnected member cannot be pinged, and is reachable again after connect, by its alias', async () => {
    expect(await pings(b, 'member-a')).toBe(true);
    await network.disconnect(a);
    await network.disconnect(a);
    expect(await pings(b, 'member-a')).toBe(false);
    await network.connect(a);
    await network.connect(a);
    expect(await pings(b, 'member-a')).toBe(true);
  });

  it('refuses to cut a link the machine does not have, naming both', async () => {
    const other = await provisioner.createNetwork({ name: 'other' });
    try {
      const error = await rejection(other.disconnect(a));
      expect(isTestbedError(error, 'TESTBED_NOT_ON_NETWORK'), String(error)).toBe(true);
      expect(String(error)).toContain(a.name);
    } finally {
      await other.destroy();
    }
  });

  it('a crashed container starts again with its files; ports, log and exec work again', async () => {
    await exec(a, 'echo survives > /kept');
    await a.crash();
    await a.crash();
    const stopped = await rejection(a.pause());
    expect(isTestbedError(stopped, 'TESTBED_FAULT_FAILED'), String(stopped)).toBe(true);
    await a.start();
    await a.start();
    expect((await exec(a, 'cat /kept')).trim()).toBe('survives');
    // The engine publishes the port anew on a start (a new host port): the handle follows it.
    const published = await runCommand('docker', ['port', a.data.containerId, '8080/tcp']);
    expect(published.stdout.trim()).toBe(`127.0.0.1:${a.endpoint(8080).port}`);
    // The server did not survive the crash; started again, it answers on the updated port.
    await exec(a, SERVE);
    expect(await page(a, 5_000)).toBe('served\n');
    const ready = (await a.console.read()).match(/testbed-ready/g) ?? [];
    expect(ready.length).toBe(2);
    expect(await pings(b, 'member-a')).toBe(true);
  });

  it('reboot() restarts the container and resolves once its ready line is printed again', async () => {
    await exec(a, 'sleep 1000 >/dev/null 2>&1 & echo $! > /old-pid');
    await a.reboot();
    const old = (await exec(a, 'cat /old-pid')).trim();
    expect((await a.exec(['kill', '-0', old])).exitCode).not.toBe(0);
    expect(((await a.console.read()).match(/testbed-ready/g) ?? []).length).toBe(3);
    await exec(a, SERVE);
    expect(await page(a, 5_000)).toBe('served\n');
  });

  it('bounds and aborts like every fault', async () => {
    const aborted = await rejection(b.crash({ signal: AbortSignal.abort(new Error('gave up')) }));
    expect(isTestbedError(aborted, 'TESTBED_ABORTED'), String(aborted)).toBe(true);
    const bad = await rejection(b.pause({ timeoutMs: 1.5 }));
    expect(isTestbedError(bad, 'TESTBED_INVALID_OPTIONS'), String(bad)).toBe(true);
  });
});
