import { execFileSync } from 'node:child_process';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError, WaitTimeoutError } from '../../src/core/errors.js';
import type { Machine, VmProvisioner } from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import { Wait } from '../../src/wait/wait.js';

const config = loadConfig();
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();

function runDomains(runId: string): string[] {
  return execFileSync('virsh', ['-q', '-c', config.libvirtUri, 'list', '--all', '--name'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter((name) => name.includes(runId));
}

/** Local addresses listening on `port` (from `ss`), e.g. `127.0.0.1:41000`. */
function listeners(port: number): string[] {
  return execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' })
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[3])
    .filter((address): address is string => Boolean(address));
}

const SERVE =
  'mkdir -p /www && echo "hello from $(hostname)" > /www/index.html && httpd -p 8080 -h /www';

describe.skipIf(!available && !process.env.CI)('libvirt guest ports on 127.0.0.1', () => {
  let run: RunContext;
  let provisioner: VmProvisioner;
  let machine: Machine;

  beforeAll(async () => {
    if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
    machine = await provisioner.provision({ ports: [8080, { guest: 9090 }], hostname: 'web' });
  });

  afterAll(async () => {
    if (run) await provider.removeRun(run.runId);
  });

  it('serves HTTP from the guest on a forwarded port bound on 127.0.0.1 only', async () => {
    const started = await machine.exec?.(SERVE, { timeoutMs: 30_000 });
    expect(started?.exitCode, started?.stderr).toBe(0);
    await machine.waitUntil(Wait.forHttp(8080, '/index.html', { body: 'hello' }), {
      timeoutMs: 30_000,
    });
    const response = await fetch(machine.url?.(8080, '/index.html') ?? '');
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('hello from web\n');
    const { host, port } = machine.endpoint?.(8080) ?? { host: '', port: 0 };
    expect(host).toBe('127.0.0.1');
    expect(listeners(port)).toEqual([`127.0.0.1:${port}`]);
    expect(machine.endpoint?.(9090).port).not.toBe(port);
  });

  it('says how to ask for a port that was not forwarded', () => {
    let error: unknown;
    try {
      machine.endpoint?.(5432);
    } catch (e) {
      error = e;
    }
    expect(isTestbedError(error, 'TESTBED_PORT_NOT_FORWARDED')).toBe(true);
    expect((error as Error).message).toContain('ports: [8080, 9090, 5432]');
  });

  it('gives a clone its own host ports for the same guest ports', async () => {
    const clone = await machine.clone?.();
    try {
      expect(clone?.endpoint?.(8080).port).toBeGreaterThan(0);
      expect(clone?.endpoint?.(8080).port).not.toBe(machine.endpoint?.(8080).port);
      const started = await clone?.exec?.(SERVE, { timeoutMs: 30_000 });
      expect(started?.exitCode).toBe(0);
      await clone?.waitUntil(Wait.forHttp(8080, '/index.html'), { timeoutMs: 30_000 });
      const body = await (await fetch(clone?.url?.(8080, '/index.html') ?? '')).text();
      expect(body).toMatch(/^hello from /);
    } finally {
      await clone?.destroy();
    }
  });

  it('fails provisioning with the wait, the last attempt and the console tail, leaving nothing', async () => {
    const before = runDomains(run.runId);
    const error = await provisioner
      .provision({ waitFor: Wait.forPort(9999), timeoutMs: 40_000 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WaitTimeoutError);
    const message = (error as Error).message;
    expect(message).toContain('waiting for TCP port 9999 listening');
    expect(message).toContain('last attempt: nothing listens on port 9999 inside the machine');
    expect(message).toContain('Last console lines');
    expect(message).toContain('testbed-ready');
    expect(runDomains(run.runId)).toEqual(before);
  });

  it('reports a fixed host port that is taken, naming it, and leaves nothing', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    const before = runDomains(run.runId);
    try {
      const error = await provisioner
        .provision({ ports: [{ guest: 80, host: taken }] })
        .catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_INVALID_SPEC')).toBe(true);
      expect((error as Error).message).toContain(`host port ${taken} (for guest port 80)`);
      expect(runDomains(run.runId)).toEqual(before);
    } finally {
      blocker.close();
    }
  });
});
