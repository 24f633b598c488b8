import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  chmod,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import { createServer } from 'node:net';
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
import { runLabels } from '../../src/providers/docker/labels.js';
import { Wait } from '../../src/wait/wait.js';

async function docker(...args: string[]): Promise<string> {
  return (await runCommand('docker', args, { timeoutMs: 60_000 })).stdout.trim();
}

/** Containers, networks, images and volumes left with the run's label. */
async function leftovers(runId: string): Promise<string[]> {
  const filter = `label=testbed.run=${runId}`;
  const found = await Promise.all([
    docker('ps', '-aq', '--filter', filter),
    docker('network', 'ls', '-q', '--filter', filter),
    docker('images', '-q', '--filter', filter),
    docker('volume', 'ls', '-q', '--filter', filter),
  ]);
  return found.flatMap((out) => out.split('\n').filter(Boolean));
}

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function caught(work: Promise<unknown>): Promise<Error> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof Error)) throw new Error('expected a rejection');
  return error;
}

const provider = new DockerProvider();
const available = await provider.isAvailable();

describe.skipIf(!available && !process.env.CI)('Docker machines you can deploy to', () => {
  let run: RunContext;
  let provisioner: DockerProvisioner;
  let machine: DockerMachine;
  let work: string;

  beforeAll(async () => {
    if (!available) throw new Error(`docker is not available here (${provider.setupHint})`);
    run = createRunContext();
    provisioner = await provider.createProvisioner({ run });
    machine = await provisioner.provision({ name: 'deploy' });
    work = await mkdtemp(join(tmpdir(), 'testbed-deploy-'));
  });

  afterAll(async () => {
    await machine?.destroy();
    if (work) await rm(work, { recursive: true, force: true });
    if (run) {
      expect(await leftovers(run.runId)).toEqual([]);
      await provider.removeRun(run.runId);
    }
  });

  it('copies a 50 MiB file in and out unchanged', async () => {
    const source = join(work, 'big.bin');
    await writeFile(source, randomBytes(50 * 1024 * 1024));
    const expected = await sha256OfFile(source);
    await machine.copyTo(source, '/data/nested/big.bin');
    const inside = await machine.exec(['sha256sum', '/data/nested/big.bin']);
    expect(inside.stdout.split(' ')[0]).toBe(expected);
    const back = join(work, 'big-back.bin');
    await writeFile(back, 'to be replaced');
    await machine.copyFrom('/data/nested/big.bin', back);
    expect(await sha256OfFile(back)).toBe(expected);
  });

  it('round-trips a directory tree with its modes and a symlink', async () => {
    const tree = join(work, 'tree');
    await mkdir(join(tree, 'bin'), { recursive: true });
    await writeFile(join(tree, 'bin', 'run'), '#!/bin/sh\necho run\n');
    await writeFile(join(tree, 'secret'), 'key');
    await writeFile(join(tree, 'readme'), 'hello');
    await chmod(join(tree, 'bin', 'run'), 0o755);
    await chmod(join(tree, 'secret'), 0o600);
    await chmod(join(tree, 'readme'), 0o644);
    await symlink('bin/run', join(tree, 'link'));
    await machine.copyTo(tree, '/srv/app');
    const modes = await machine.exec(
      'cd /srv/app && stat -c "%n %a" bin/run secret readme && readlink link && ./link',
    );
    expect(modes.stdout).toBe('bin/run 755\nsecret 600\nreadme 644\nbin/run\nrun\n');

    const back = join(work, 'tree-back');
    await machine.copyFrom('/srv/app', back);
    const mode = async (path: string) => (await lstat(join(back, path))).mode & 0o777;
    expect(await mode('bin/run')).toBe(0o755);
    expect(await mode('secret')).toBe(0o600);
    expect(await mode('readme')).toBe(0o644);
    expect((await lstat(join(back, 'link'))).isSymbolicLink()).toBe(true);
    expect(await readlink(join(back, 'link'))).toBe('bin/run');
    expect(await readFile(join(back, 'secret'), 'utf8')).toBe('key');
  });

  it('writes and reads every byte value and a string, with the mode asked', async () => {
    const bytes = Uint8Array.from({ length: 256 }, (_, i) => i);
    await machine.writeFile('/etc/testbed/bytes', bytes, { mode: 0o600 });
    expect((await machine.readFile('/etc/testbed/bytes')).equals(Buffer.from(bytes))).toBe(true);
    expect((await machine.exec(['stat', '-c', '%a %s', '/etc/testbed/bytes'])).stdout).toBe(
      '600 256\n',
    );
    await machine.writeFile('/etc/testbed/text', 'grüße\n');
    expect((await machine.readFile('/etc/testbed/text')).toString('utf8')).toBe('grüße\n');
    expect((await machine.exec(['stat', '-c', '%a', '/etc/testbed/text'])).stdout).toBe('644\n');
  });

  it('streams ≥ 5 MiB of binary stdin in and binary stdout out', async () => {
    const input = randomBytes(6 * 1024 * 1024);
    const summed = await machine.exec(['sha256sum'], { input });
    expect(summed.stdout.split(' ')[0]).toBe(sha256(input));
    const echoed = await machine.exec(['cat'], { input, encoding: 'buffer' });
    expect(Buffer.from(echoed.stdout).equals(input)).toBe(true);
    expect(echoed.stderr).toHaveLength(0);

    const made = await machine.exec(
      'head -c 5242880 /dev/urandom > /tmp/random && sha256sum /tmp/random',
    );
    const out = await machine.exec(['cat', '/tmp/random'], { encoding: 'buffer' });
    expect(out.stdout.byteLength).toBe(5 * 1024 * 1024);
    expect(sha256(out.stdout)).toBe(made.stdout.split(' ')[0]);

    const piped = await machine.exec(['sha256sum'], {
      input: createReadStream(join(work, 'big.bin')),
    });
    expect(piped.stdout.split(' ')[0]).toBe(await sha256OfFile(join(work, 'big.bin')));
    // A command that stops reading early does not fail the exec.
    expect(await machine.exec(['true'], { input })).toEqual({
      stdout: '',
      stderr: '',
      exitCode: 0,
    });
  });

  it('runs with env, cwd and a numeric user', async () => {
    const result = await machine.exec('echo "$GREETING"; pwd; id -u', {
      env: { GREETING: 'hi there' },
      cwd: '/etc',
      user: '65534',
    });
    expect(result).toEqual({ stdout: 'hi there\n/etc\n65534\n', stderr: '', exitCode: 0 });
  });

  it('spawns: output arrives while the command runs, stdin is interactive, kill ends it', async () => {
    const server = machine.spawn(['sh', '-c', 'echo started; exec sleep 1000']);
    const first = await new Promise<string>((resolve) =>
      server.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    expect(first).toBe('started\n');
    await server.kill();
    expect(await server.exited).toBe(137);
    expect((await machine.exec(['ps'])).stdout).not.toContain('sleep 1000');

    const cat = machine.spawn('cat');
    const echoed = new Promise<string>((resolve) =>
      cat.stdout.once('data', (chunk: Buffer) => resolve(chunk.toString())),
    );
    cat.stdin.write('ping\n');
    expect(await echoed).toBe('ping\n');
    cat.stdin.end();
    expect(await cat.exited).toBe(0);
  });

  it('reports a missing command as exit 127 on stderr, and an empty argv as an invalid spec', async () => {
    const missing = await machine.exec(['no-such-command', 'x']);
    expect(missing.exitCode).toBe(127);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/no-such-command.*not found/);
    expect(missing.stderr).not.toContain('\r');
    expect((await machine.exec('no-such-command')).exitCode).toBe(127);
    const empty = await caught(machine.exec([]));
    expect(isTestbedError(empty, 'TESTBED_INVALID_SPEC')).toBe(true);
  });

  it('aborts an exec with AbortedError carrying the reason, killing the command', async () => {
    const controller = new AbortController();
    const reason = new Error('test gave up');
    const pending = machine.exec(['sleep', '1004'], { signal: controller.signal });
    setTimeout(() => controller.abort(reason), 300);
    const error = await caught(pending);
    expect(isTestbedError(error, 'TESTBED_ABORTED')).toBe(true);
    expect(error.cause).toBe(reason);
    expect((await machine.exec(['ps'])).stdout).not.toContain('sleep 1004');
  });

  it('names the missing path, guest or host side, as not-found', async () => {
    const guest = await caught(machine.copyFrom('/no/such/dir', join(work, 'x')));
    expect(guest).toMatchObject({
      code: 'TESTBED_FILE_TRANSFER_FAILED',
      reason: 'not-found',
      path: '/no/such/dir',
    });
    expect(guest.message).toMatch(/guest path \/no\/such\/dir/);
    expect(guest.message).toMatch(/Fix: Check the guest path/);
    const read = await caught(machine.readFile('/no/such/file'));
    expect(read).toMatchObject({ reason: 'not-found', path: '/no/such/file' });
    const host = await caught(machine.copyTo(join(work, 'missing'), '/srv/missing'));
    expect(host).toMatchObject({ reason: 'not-found', path: join(work, 'missing') });
    expect(host.message).toMatch(/host path/);
  });

  it('copies in and out of a stopped container; commands say it stopped', async () => {
    const stopped = await provisioner.provision({ name: 'stopped' });
    try {
      await docker('stop', '-t', '0', stopped.name);
      await stopped.writeFile('/etc/greeting', 'written while stopped\n');
      await stopped.copyTo(join(work, 'tree'), '/srv/tree');
      expect((await stopped.readFile('/etc/greeting')).toString()).toBe('written while stopped\n');
      await stopped.copyFrom('/srv/tree', join(work, 'tree-from-stopped'));
      expect(await readlink(join(work, 'tree-from-stopped', 'link'))).toBe('bin/run');
      const exec = await caught(stopped.exec(['true']));
      expect(isTestbedError(exec, 'TESTBED_MACHINE_GONE')).toBe(true);
      expect(exec.message).toMatch(/stopped \(its command exited with \d+\)/);
    } finally {
      await stopped.destroy();
    }
  });

  it('says MachineGoneError for every operation on a destroyed or removed container', async () => {
    const gone = await provisioner.provision({ name: 'gone' });
    await docker('rm', '-f', gone.name);
    // Each one started only when its turn comes, so none rejects unobserved.
    const operations = [
      () => gone.exec(['true']),
      () => gone.readFile('/etc/passwd'),
      () => gone.writeFile('/x', 'x'),
      () => gone.copyFrom('/etc', join(work, 'etc')),
      () => gone.clone(),
      () => gone.spawn(['true']).exited,
    ];
    for (const operation of operations) {
      expect(await caught(operation())).toMatchObject({ code: 'TESTBED_MACHINE_GONE' });
    }
    await gone.destroy();
    for (const operation of [...operations.slice(0, 5), () => gone.copyTo(work, '/w')]) {
      expect(await caught(operation())).toMatchObject({ code: 'TESTBED_MACHINE_GONE' });
    }
    expect(() => gone.spawn(['true'])).toThrow(/is gone/);
  });

  it('reports a full guest disk and a read-only mount, leaving nothing half-written', async () => {
    // A container made outside testbed (volumes), labelled as this run's and attached to.
    const labels = Object.entries(runLabels(run)).flatMap(([key, value]) => [
      '--label',
      `${key}=${value}`,
    ]);
    const volume = `testbed-${run.runId}-small`;
    await docker(
      'volume',
      'create',
      ...labels,
      '--driver',
      'local',
      '--opt',
      'type=tmpfs',
      '--opt',
      'device=tmpfs',
      '--opt',
      'o=size=1m',
      volume,
    );
    const name = `testbed-${run.runId}-volumes`;
    try {
      const image = machine.data.image;
      const id = await docker(
        'run',
        '-d',
        ...labels,
        '--name',
        name,
        '-v',
        `${volume}:/small`,
        '-v',
        `${volume}:/readonly:ro`,
        '--tmpfs',
        '/scratch',
        image,
      );
      const attached = await provisioner.attach({
        providerId: 'docker',
        name,
        vmType: 'Container',
        data: { containerId: id, image, ports: {} },
      });
      await writeFile(join(work, '4m.bin'), randomBytes(4 * 1024 * 1024));

      const full = await caught(attached.copyTo(join(work, '4m.bin'), '/small/dir/big.bin'));
      expect(full).toMatchObject({ reason: 'no-space', path: '/small/dir/big.bin' });
      expect(full.message).toMatch(/no space left on device/);
      expect(full.message).toMatch(/partial copy was removed/);
      expect((await attached.exec(['ls', '-A', '/small'])).stdout).toBe('');
      const written = await caught(attached.writeFile('/small/one', Buffer.alloc(2 * 1024 * 1024)));
      expect(written).toMatchObject({ reason: 'no-space' });
      expect((await attached.exec(['ls', '-A', '/small'])).stdout).toBe('');

      const readOnly = await caught(attached.writeFile('/readonly/x', 'x'));
      expect(readOnly).toMatchObject({ reason: 'permission', path: '/readonly/x' });
      expect(readOnly.message).toMatch(/read-only file system/);

      // The archive API would write under the tmpfs, where the container never sees it.
      const tmpfs = await caught(attached.writeFile('/scratch/x', 'x'));
      expect(tmpfs).toMatchObject({ reason: 'failed', path: '/scratch/x' });
      expect(tmpfs.message).toMatch(/tmpfs mount \/scratch/);
      await attached.destroy();
    } finally {
      await docker('rm', '-f', '-v', name);
      await docker('volume', 'rm', volume);
    }
  });

  it('serves a file put in place by the spec, waited for over HTTP, on 127.0.0.1 only; clones get their own ports', async () => {
    const fixed = await freePort();
    const web = await provisioner.provision({
      name: 'web',
      ports: [8080, { guest: 8081, host: fixed }],
      files: [
        { content: '<h1>deployed</h1>\n', target: '/www/index.html' },
        { source: join(work, 'tree'), target: '/www/tree', mode: 0o700 },
      ],
      command: ['sh', '-c', 'httpd -p 8081 -h /www; exec httpd -f -p 8080 -h /www'],
      waitFor: [Wait.forHttp(8080, '/index.html'), Wait.forPort(8081)],
    });
    try {
      const response = await fetch(web.url(8080, '/index.html'));
      expect(await response.text()).toBe('<h1>deployed</h1>\n');
      expect(web.endpoint(8081)).toEqual({ host: '127.0.0.1', port: fixed });
      expect(await (await fetch(`http://127.0.0.1:${fixed}/index.html`)).text()).toContain(
        'deployed',
      );
      expect(web.port(8080)).toBe(web.endpoint(8080).port);
      expect(web.url(8080, 'x', { protocol: 'https' })).toBe(
        `https://127.0.0.1:${web.port(8080)}/x`,
      );
      expect((await web.exec(['stat', '-c', '%a', '/www/tree', '/www/tree/secret'])).stdout).toBe(
        '700\n600\n',
      );

      const inspect = JSON.parse(await docker('inspect', web.name))[0] as {
        HostConfig: { PortBindings: Record<string, { HostIp: string; HostPort: string }[]> };
        NetworkSettings: { Ports: Record<string, { HostIp: string }[]> };
      };
      for (const port of ['8080/tcp', '8081/tcp']) {
        expect(inspect.HostConfig.PortBindings[port]?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
        expect(inspect.NetworkSettings.Ports[port]?.map((b) => b.HostIp)).toEqual(['127.0.0.1']);
      }
      expect(inspect.HostConfig.PortBindings['8081/tcp']?.[0]?.HostPort).toBe(String(fixed));

      const notAsked = (() => {
        try {
          web.endpoint(9999);
        } catch (error) {
          return error as Error;
        }
      })();
      expect(notAsked).toMatchObject({
        code: 'TESTBED_PORT_NOT_FORWARDED',
        port: 9999,
        forwarded: [8080, 8081],
      });

      const clone = await web.clone({ name: 'web-copy' });
      try {
        expect(clone.endpoint(8080).port).not.toBe(web.endpoint(8080).port);
        expect(clone.endpoint(8081).port).not.toBe(fixed);
        expect(await (await fetch(clone.url(8080, '/index.html'))).text()).toBe(
          '<h1>deployed</h1>\n',
        );
      } finally {
        await clone.destroy();
      }
    } finally {
      await web.destroy();
    }
  });

  it('fails provisioning with WaitTimeoutError when waitFor never holds, and removes the container', async () => {
    const started = performance.now();
    const error = await caught(
      provisioner.provision({
        name: 'never',
        command: ['sh', '-c', 'echo service is starting; exec sleep 1000'],
        waitFor: Wait.forCommand('test -e /ready'),
        timeoutMs: 4000,
      }),
    );
    expect(performance.now() - started).toBeLessThan(5000);
    expect(error).toMatchObject({ code: 'TESTBED_WAIT_TIMEOUT' });
    expect(error.message).toMatch(/last attempt: exit 1/);
    expect(error.message).toMatch(/service is starting/);
    expect(await leftovers(run.runId)).toHaveLength(1);
  });

  it('says the command exited, with its code and log, when it ends at once', async () => {
    for (const command of [['false'], ['sh', '-c', 'echo bad config >&2; exit 3']]) {
      const error = await caught(provisioner.provision({ name: 'exits', command }));
      expect(error).toMatchObject({ code: 'TESTBED_PROVISION_FAILED' });
      expect(error.message).toMatch(/its command exited with code [13]/);
      if (command.length > 1) expect(error.message).toMatch(/bad config/);
    }
    expect(await leftovers(run.runId)).toHaveLength(1);
  });

  it('fails provisioning on a spec file whose source is missing, leaving nothing', async () => {
    const error = await caught(
      provisioner.provision({
        name: 'nofile',
        files: [{ source: join(work, 'absent'), target: '/etc/absent' }],
      }),
    );
    expect(error).toMatchObject({ code: 'TESTBED_FILE_TRANSFER_FAILED', reason: 'not-found' });
    expect(await leftovers(run.runId)).toHaveLength(1);
  });
});
