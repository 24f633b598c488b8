import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine, MachineNetwork, VmProvisioner } from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import type { LibvirtMachine } from '../../src/providers/libvirt/libvirt-machine.js';
import { domainNames, execOk } from './support/libvirt-checks.js';

const config = loadConfig();
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();

const domains = () => domainNames(config.libvirtUri);

const exec = execOk;

/** What a TCP client sees on `port` within `ms`: the first bytes, or nothing at all. */
function firstBytes(port: number, ms: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let seen = '';
    const done = () => {
      socket.destroy();
      resolve(seen);
    };
    socket.on('data', (chunk) => {
      seen += chunk.toString('latin1');
      done();
    });
    socket.on('error', done);
    setTimeout(done, ms);
  });
}

/** Pings `address` from `machine`; true when at least one answer came back. */
async function pings(machine: Machine, address: string): Promise<boolean> {
  const result = await machine.exec?.(['ping', '-c', '3', '-W', '2', address], {
    timeoutMs: 30_000,
  });
  return /[1-9]\d* packets received/.test(result?.stdout ?? '');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => new Error('resolved'),
    (error: unknown) => error,
  );
}

describe.skipIf(!available && !process.env.CI)('libvirt faults (TCG)', () => {
  let run: RunContext;
  let provisioner: VmProvisioner;
  let network: MachineNetwork;
  let a: LibvirtMachine;
  let b: LibvirtMachine;

  beforeAll(async () => {
    if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
    network = (await provisioner.createNetwork?.({ name: 'faults' })) as MachineNetwork;
    [a, b] = (await Promise.all([
      provisioner.provision({ name: 'a', networks: [network], ports: [8080] }),
      provisioner.provision({ name: 'b', networks: [network] }),
    ])) as [LibvirtMachine, LibvirtMachine];
    await exec(a, 'ip link set eth1 up && ip addr add 192.168.214.11/24 dev eth1');
    await exec(b, 'ip link set eth1 up && ip addr add 192.168.214.12/24 dev eth1');
  });

  afterAll(async () => {
    if (run) await provider.removeRun(run.runId);
  });

  it('advertises PauseResume, NetworkFaults and PowerControl', () => {
    const names = provider.capabilities().map((c) => c.kind);
    expect(names).toEqual(expect.arrayContaining(['PauseResume', 'NetworkFaults', 'PowerControl']));
  });

  it('a paused VM answers nothing, and resumes with its state', async () => {
    await exec(a, 'echo before-pause > /root/state');
    const sleeper = a.spawn(['sleep', '600']);
    expect(await firstBytes(a.ssh.port, 5_000)).toMatch(/^SSH-/);
    await a.pause();
    await a.pause();
    const timedOut = await rejection(a.exec('true', { timeoutMs: 2_000 }));
    expect(isTestbedError(timedOut, 'TESTBED_TIMEOUT'), String(timedOut)).toBe(true);
    // QEMU still accepts on the forwarded port, but the frozen guest never says a word.
    expect(await firstBytes(a.ssh.port, 2_000)).toBe('');
    await a.resume();
    await a.resume();
    expect((await exec(a, 'cat /root/state')).trim()).toBe('before-pause');
    // A command running across the pause is still running: resume keeps its connection.
    expect(await exec(a, 'pidof sleep')).toMatch(/\d+/);
    await sleeper.kill();
  });

  it('a disconnected member cannot be pinged, and is reachable again after connect', async () => {
    expect(await pings(b, '192.168.214.11')).toBe(true);
    await network.disconnect?.(a);
    await network.disconnect?.(a);
    expect(await pings(b, '192.168.214.11')).toBe(false);
    await network.connect?.(a);
    await network.connect?.(a);
    expect(await pings(b, '192.168.214.11')).toBe(true);
    // The user-mode NIC (SSH) is not the network's: the test keeps its handle throughout.
    expect(await exec(a, 'echo still-here')).toContain('still-here');
  });

  it('refuses to cut a link the machine does not have, naming both', async () => {
    const other = (await provisioner.createNetwork?.({ name: 'other' })) as MachineNetwork;
    try {
      const error = await rejection(other.disconnect?.(a) ?? Promise.resolve());
      expect(isTestbedError(error, 'TESTBED_NOT_ON_NETWORK'), String(error)).toBe(true);
      expect(String(error)).toContain(a.name);
      expect(String(error)).toContain(other.name);
    } finally {
      await other.destroy();
    }
  });

  it('a crashed VM comes back from its disk on start(): synced writes, same SSH port', async () => {
    const port = b.ssh.port;
    await exec(b, 'echo survives > /root/kept && sync');
    await b.crash();
    await b.crash();
    expect(domains()).not.toContain(b.name);
    const stopped = await rejection(b.pause());
    expect(isTestbedError(stopped, 'TESTBED_FAULT_FAILED'), String(stopped)).toBe(true);
    expect(String(stopped)).toContain('start()');
    await b.start();
    await b.start();
    expect(domains()).toContain(b.name);
    expect(b.ssh.port).toBe(port);
    expect((await exec(b, 'cat /root/kept')).trim()).toBe('survives');
    // A new boot: the address given by hand is gone, the link is there.
    await exec(b, 'ip link set eth1 up && ip addr add 192.168.214.12/24 dev eth1');
    expect(await pings(b, '192.168.214.11')).toBe(true);
  });

  it('reboot() resets the guest and resolves once SSH answers; ports and console stay', async () => {
    const bootId = await exec(a, 'cat /proc/sys/kernel/random/boot_id');
    await exec(a, 'echo rebooted > /root/reboot-mark');
    const endpoint = a.endpoint(8080);
    await a.reboot();
    expect(await exec(a, 'cat /proc/sys/kernel/random/boot_id')).not.toBe(bootId);
    expect((await exec(a, 'cat /root/reboot-mark')).trim()).toBe('rebooted');
    expect(a.endpoint(8080)).toEqual(endpoint);
    const ready = (await a.console.read()).match(/testbed-ready/g) ?? [];
    expect(ready.length).toBeGreaterThanOrEqual(2);
  });

  it('bounds and aborts: a bad timeoutMs is an options error, an aborted signal an AbortedError', async () => {
    const bad = await rejection(a.pause({ timeoutMs: 0 }));
    expect(isTestbedError(bad, 'TESTBED_INVALID_OPTIONS'), String(bad)).toBe(true);
    const aborted = await rejection(a.reboot({ signal: AbortSignal.abort(new Error('gave up')) }));
    expect(isTestbedError(aborted, 'TESTBED_ABORTED'), String(aborted)).toBe(true);
    expect(String(aborted)).toContain('gave up');
  });
});
