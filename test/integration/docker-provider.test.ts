import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { runCommand } from '../../src/core/run-command.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import {
  type DockerMachine,
  DockerProvider,
  type DockerProvisioner,
} from '../../src/providers/docker/index.js';
import { testProvider } from '../contract/provider-contract.js';

const READY = /testbed-ready/;

async function docker(...args: string[]): Promise<string> {
  return (await runCommand('docker', args, { timeoutMs: 30_000 })).stdout.trim();
}

/** Ids of containers, networks and images left with the run's label. */
async function leftovers(runId: string): Promise<string[]> {
  const filter = `label=testbed.run=${runId}`;
  const found = await Promise.all([
    docker('ps', '-aq', '--filter', filter),
    docker('network', 'ls', '-q', '--filter', filter),
    docker('images', '-q', '--filter', filter),
  ]);
  return found.flatMap((out) => out.split('\n').filter(Boolean));
}

// The default image: testbed's tiny container, built through the engine on first use.
const provider = new DockerProvider();
const available = await provider.isAvailable();

await testProvider({ create: () => provider, spec: () => ({ name: 'contract' }) });

describe.skipIf(!available && !process.env.CI)('DockerProvider on the real engine', () => {
  let run: RunContext;
  let provisioner: DockerProvisioner;

  beforeAll(async () => {
    if (!available) throw new Error(`docker is not available here (${provider.setupHint})`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
  });

  afterAll(async () => {
    if (run) await provider.removeRun(run.runId);
  });

  it('keeps Ryuk only where its image is available, and says which in health', async () => {
    const decision = await provider.reaperDecision();
    if (decision?.mode === 'ryuk') {
      expect(decision.reason).toMatch(/present locally|was pulled/);
    } else {
      // This machine's engine has no registry: Ryuk cannot start, so testbed's labels take over.
      expect(decision?.reason).toMatch(
        /testcontainers\/ryuk.* not present and cannot be pulled|RYUK_DISABLED/,
      );
      expect(process.env.TESTCONTAINERS_RYUK_DISABLED).toBe('true');
    }
    const health = await provider.checkHealth();
    expect(health.details).toMatchObject({ reaper: decision?.mode });
    expect(health.details?.defaultImage).toMatch(/^testbed\/tiny:\w+/);
    expect(health.version).toMatch(/^Docker Engine \d+/);
  });

  it('provisions, execs, reads the log with waitFor, and destroys leaving nothing', async () => {
    const network = await provisioner.createNetwork({ name: 'life' });
    const machine = await provisioner.provision({ name: 'life', networks: [network] });
    expect(machine.name).toContain(run.runId);
    const result = await machine.exec(['sh', '-c', 'echo out; echo err >&2; exit 4']);
    expect(result).toEqual({ stdout: 'out\n', stderr: 'err\n', exitCode: 4 });
    expect((await machine.exec('cat', { input: 'piped in' })).stdout).toBe('piped in');
    const hostname = (await machine.exec(['hostname'])).stdout.trim();
    const match = await machine.console.waitFor(/testbed-ready (\S+)/, { timeoutMs: 5000 });
    expect(match[1]).toBe(hostname);
    expect(await machine.console.tail(1)).toBe(`testbed-ready ${hostname}`);

    const labels = JSON.parse(
      await docker('inspect', '--format', '{{json .Config.Labels}}', machine.name),
    ) as Record<string, string>;
    expect(labels).toMatchObject({
      'testbed.run': run.runId,
      'testbed.owner.pid': String(process.pid),
      'testbed.owner.start': String(run.owner.startTime),
    });
    expect(await leftovers(run.runId)).toHaveLength(2);

    await Promise.all([machine.destroy(), machine.destroy()]);
    await network.destroy();
    await network.destroy();
    expect(await leftovers(run.runId)).toEqual([]);
    // The log stays readable after the container is gone.
    expect(await machine.console.read()).toContain('testbed-ready');
  });

  it('publishes ports on 127.0.0.1 only, and waits until the server inside listens', async () => {
    // The server starts late: Docker's proxy already accepts on the host port before it listens.
    const machine = await provisioner.provision({
      name: 'http',
      ports: [8080],
      command: ['sh', '-c', 'echo hello > /index.html; sleep 2; exec httpd -f -p 8080 -h /'],
    });
    try {
      const bindings = JSON.parse(
        await docker('inspect', '--format', '{{json .HostConfig.PortBindings}}', machine.name),
      ) as Record<string, { HostIp: string }[]>;
      expect(bindings['8080/tcp']?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
      const port = (machine.describe().data.ports as Record<string, number>)['8080'];
      const response = await fetch(`http://127.0.0.1:${port}/index.html`);
      expect(await response.text()).toBe('hello\n');
    } finally {
      await machine.destroy();
    }
  });

  it('clones: the clone sees the source file, and its writes do not reach the source', async () => {
    const source = await provisioner.provision({ name: 'src' });
    await source.exec(['sh', '-c', 'echo original > /data.txt']);
    const clone = await source.clone({ name: 'copy' });
    try {
      expect(clone.name).not.toBe(source.name);
      expect((await clone.exec(['cat', '/data.txt'])).stdout).toBe('original\n');
      await clone.exec(['sh', '-c', 'echo changed > /data.txt; touch /only-in-clone']);
      expect((await source.exec(['cat', '/data.txt'])).stdout).toBe('original\n');
      expect((await source.exec(['test', '-e', '/only-in-clone'])).exitCode).toBe(1);
      await clone.console.waitFor(READY, { timeoutMs: 5000 });
      const images = await docker('images', '-q', '--filter', `label=testbed.run=${run.runId}`);
      expect(images).not.toBe('');
    } finally {
      await clone.destroy();
      await source.destroy();
    }
    expect(await leftovers(run.runId)).toEqual([]);
  });

  it('connects two containers on an internal network by alias', async () => {
    const network = await provisioner.createNetwork({ name: 'pair' });
    const machines: DockerMachine[] = [];
    try {
      machines.push(
        await provisioner.provision({
          name: 'server',
          aliases: ['web'],
          networks: [network],
          command: [
            'sh',
            '-c',
            // httpd without -f returns once it listens.
            'echo from-server > /index.html; httpd -p 8080 -h /; echo testbed-ready; exec sleep 2147483647',
          ],
          readyLog: READY,
        }),
      );
      const client = await provisioner.provision({ name: 'client', networks: [network] });
      machines.push(client);
      // Debian's static busybox crashes inside glibc's resolver (no NSS libraries in a scratch
      // image; its wget even with an address), so names go through its own nslookup (Docker's
      // embedded DNS) and the request through nc.
      for (const alias of ['web', 'server']) {
        const fetched = await client.exec([
          'sh',
          '-c',
          `ip=$(nslookup ${alias} | awk '/^Address/ && !/:53$/ {print $2}' | tail -n1); ` +
            `printf 'GET /index.html HTTP/1.0\\r\\n\\r\\n' | nc -w 5 "$ip" 8080`,
        ]);
        expect(fetched.exitCode).toBe(0);
        expect(fetched.stdout).toMatch(/^HTTP\/1\.[01] 200 OK\r\n[\s\S]*\r\n\r\nfrom-server\n$/);
      }
      expect(await docker('network', 'inspect', '--format', '{{.Internal}}', network.name)).toBe(
        'true',
      );
    } finally {
      for (const machine of machines.reverse()) await machine.destroy();
      await network.destroy();
    }
    expect(await leftovers(run.runId)).toEqual([]);
  });

  it('fails fast with ImageNotFoundError naming the image and how to build or load it', async () => {
    const started = performance.now();
    const error = await provisioner
      .provision({ image: 'testbed-missing/nothing:1' })
      .catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_IMAGE_NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(/testbed-missing\/nothing:1/);
    expect((error as Error).message).toMatch(/npx testbed images build tiny-container/);
    expect((error as Error).message).toMatch(/docker load/);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await leftovers(run.runId)).toEqual([]);
  });

  it('says to give a readyLog when an image without a shell publishes ports, and leaves nothing', async () => {
    // A server with no /bin/sh: busybox itself, named after the applet it runs.
    const context = await mkdtemp(join(tmpdir(), 'testbed-noshell-'));
    const image = `testbed-test/noshell:${run.runId}`;
    try {
      await copyFile('/bin/busybox', join(context, 'httpd'));
      await writeFile(
        join(context, 'Dockerfile'),
        'FROM scratch\nCOPY httpd /httpd\nENTRYPOINT ["/httpd", "-f", "-p", "8080", "-h", "/"]\n',
      );
      await docker('build', '-q', '-t', image, context);
      const error = await provisioner
        .provision({ name: 'noshell', image, ports: [8080], timeoutMs: 10_000 })
        .catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_PROVISION_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(/no \/bin\/sh.*readyLog/);
      expect(await leftovers(run.runId)).toEqual([]);
    } finally {
      await docker('rmi', '-f', image).catch(() => '');
      await rm(context, { recursive: true, force: true });
    }
  });

  it('removes a container that never becomes ready, and shows its last log lines', async () => {
    const error = await provisioner
      .provision({
        name: 'stuck',
        command: ['sh', '-c', 'echo still booting; exec sleep 1000'],
        readyLog: /never-printed/,
        timeoutMs: 1500,
      })
      .catch((e: unknown) => e);
    expect(isTestbedError(error)).toBe(true);
    expect((error as Error).message).toMatch(/still booting/);
    expect(await leftovers(run.runId)).toEqual([]);
  });

  it('a port that never listens times out naming the port and how to fix it, leaving nothing', async () => {
    const error = await provisioner
      .provision({ name: 'silent', command: ['sleep', '1000'], ports: [8080], timeoutMs: 4_000 })
      .catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_TIMEOUT'), String(error)).toBe(true);
    expect((error as Error).message).toContain(
      'waiting for port 8080 to listen inside the container',
    );
    expect((error as Error).message).toContain('0.0.0.0:8080');
    expect(await leftovers(run.runId)).toEqual([]);
  });

  it('removes what it created when provisioning is aborted', async () => {
    const controller = new AbortController();
    const pending = provisioner.provision({
      name: 'aborted',
      command: ['sh', '-c', 'exec sleep 1000'],
      readyLog: /never-printed/,
      signal: controller.signal,
    });
    setTimeout(() => controller.abort(new Error('test gave up')), 300);
    const error = await pending.catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_ABORTED')).toBe(true);
    expect((error as Error).message).toMatch(
      /^Provisioning testbed-\S+ was aborted: test gave up\.$/,
    );
    expect(((error as Error).cause as Error).message).toBe('test gave up');
    await expect.poll(() => leftovers(run.runId), { timeout: 10_000 }).toEqual([]);
  });

  it('attaches to a machine from its descriptor without owning it', async () => {
    const machine = await provisioner.provision({ name: 'owner' });
    try {
      const attached = await provisioner.attach(structuredClone(machine.describe()));
      expect((await attached.exec(['echo', 'hi'])).stdout).toBe('hi\n');
      await attached.console.waitFor(READY, { timeoutMs: 5000 });
      await attached.destroy();
      expect((await machine.exec(['true'])).exitCode).toBe(0);
    } finally {
      await machine.destroy();
    }
    const error = await provisioner.attach(machine.describe()).catch((e: unknown) => e);
    expect(isTestbedError(error, 'TESTBED_PROVISION_FAILED')).toBe(true);
  });
});
