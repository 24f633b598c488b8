import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCommand } from '../../src/core/run-command.js';
import { shortId } from '../../src/core/run-context.js';
import { type EnsuredImage, ensureImage } from '../../src/images/ensure-image.js';
import { createNoCloudSeed } from '../../src/images/nocloud-seed.js';
import { resolveVmImage, type VmImage } from '../../src/images/resolve-vm-image.js';
import { generateSshKeyPair } from '../../src/ssh/generate-ssh-key-pair.js';
import { sshExec } from '../../src/ssh/ssh-exec.js';
import { waitForSsh } from '../../src/ssh/wait-for-ssh.js';

async function freePort(): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  await once(server, 'close');
  return port;
}

async function sha256(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** Polls `path` until `pattern` matches; rejects with the file's tail at the deadline. */
async function waitForLine(
  path: string,
  pattern: RegExp,
  timeoutMs: number,
): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  let text = '';
  while (Date.now() < deadline) {
    text = await readFile(path, 'utf8').catch(() => '');
    const match = pattern.exec(text);
    if (match) return match;
    await sleep(100);
  }
  throw new Error(
    `${pattern} not seen on serial within ${timeoutMs} ms; last lines:\n${text.split('\n').slice(-15).join('\n')}`,
  );
}

function isAlive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

describe('tiny-vm image', () => {
  let built: EnsuredImage;
  let image: VmImage;
  let workDir: string | undefined;
  let qemu: ChildProcess | undefined;

  beforeAll(async () => {
    built = await ensureImage('tiny-vm');
    image = await resolveVmImage('tiny-vm');
  });

  afterEach(async () => {
    if (qemu && isAlive(qemu)) {
      qemu.kill('SIGKILL');
      await once(qemu, 'exit');
    }
    if (workDir) await rm(workDir, { recursive: true, force: true });
  });

  it('is cached with a manifest describing kernel, boot files and sizes', async () => {
    expect(image.base).toBe(join(built.location, 'base.qcow2'));
    expect(image.format).toBe('qcow2');
    const manifest = image.manifest;
    expect(manifest?.key).toBe(built.key);
    expect(manifest?.kernelVersion).toMatch(/^\d+\.\d+\.\d+-\d+-cloud-amd64$/);
    expect(manifest?.files.base.sizeBytes).toBeLessThan(32 * 1024 * 1024);
    expect(await sha256(image.base)).toBe(manifest?.files.base.sha256);
    expect(manifest?.modules).toEqual(
      expect.arrayContaining(['virtio_pci', 'virtio_blk', 'virtio_net']),
    );
    // A second call finds the identical build and changes nothing.
    const again = await ensureImage('tiny-vm');
    expect(again).toMatchObject({ built: false, key: built.key, location: built.location });
  });

  it('boots under TCG with a NoCloud seed, answers SSH with the seeded key, and powers off', async () => {
    const manifest = image.manifest;
    if (!manifest || !image.kernel || !image.initrd || !image.cmdline) {
      throw new Error('tiny-vm resolved without direct-boot files');
    }
    workDir = await mkdtemp(join(tmpdir(), 'testbed-images-test-'));
    const hostname = `tiny-${shortId(6)}`;
    const keys = generateSshKeyPair('images-test');
    const seed = await createNoCloudSeed({
      path: join(workDir, 'seed.iso'),
      instanceId: hostname,
      hostname,
      authorizedKeys: [keys.publicKey],
    });
    const serial = join(workDir, 'serial.log');
    const port = await freePort();
    const baseBefore = await sha256(image.base);
    qemu = spawn(
      'qemu-system-x86_64',
      [
        ['-accel', 'tcg', '-cpu', 'max', '-m', '256', '-smp', '1'],
        ['-display', 'none', '-monitor', 'none', '-no-reboot'],
        ['-kernel', image.kernel, '-initrd', image.initrd, '-append', image.cmdline],
        ['-drive', `file=${image.base},if=virtio,format=qcow2,snapshot=on`],
        ['-drive', `file=${seed},if=virtio,format=raw,readonly=on`],
        ['-netdev', `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:22`],
        ['-device', 'virtio-net-pci,netdev=n0'],
        ['-serial', `file:${serial}`],
      ].flat(),
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    qemu.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const exited = once(qemu, 'exit');

    const ready = await waitForLine(serial, new RegExp(manifest.readinessPattern), 60_000).catch(
      (error: Error) => {
        throw new Error(`${error.message}\nqemu stderr: ${stderr}`);
      },
    );
    expect(ready[1]).toBe(hostname);
    const serialText = await readFile(serial, 'utf8');
    expect(serialText.indexOf('Linux version')).toBeLessThan(ready.index);

    const target = { host: '127.0.0.1', port, username: 'root', privateKey: keys.privateKey };
    await waitForSsh(target, { timeoutMs: 30_000 });
    const uname = await sshExec(target, ['uname', '-r'], { timeoutMs: 10_000 });
    expect(uname).toEqual({ stdout: `${manifest.kernelVersion}\n`, stderr: '', exitCode: 0 });
    expect((await sshExec(target, 'hostname', { timeoutMs: 10_000 })).stdout.trim()).toBe(hostname);
    // A key the seed did not carry is refused.
    const stranger = { ...target, privateKey: generateSshKeyPair().privateKey };
    await expect(sshExec(stranger, 'true', { timeoutMs: 10_000 })).rejects.toMatchObject({
      code: 'TESTBED_COMMAND_FAILED',
    });
    // The guest can write its disk; the base image is untouched (the writes go to a snapshot).
    await sshExec(target, 'echo scribble >/root/scribble && sync', { timeoutMs: 10_000 });

    await sshExec(target, 'poweroff', { timeoutMs: 10_000 }).catch(() => {});
    const [code] = await Promise.race([
      exited,
      sleep(30_000).then(() => {
        throw new Error('qemu did not exit within 30 s of poweroff');
      }),
    ]);
    expect(code).toBe(0);
    expect(qemu.pid && isAlive(qemu)).toBe(false);
    expect(await sha256(image.base)).toBe(baseBefore);
  });
});

describe('tiny-container image', () => {
  let reference: string;
  let container: string | undefined;

  beforeAll(async () => {
    const built = await ensureImage('tiny-container');
    reference = built.location;
  });

  afterEach(async () => {
    if (container)
      await runCommand('docker', ['rm', '-f', container], { reject: false, timeoutMs: 30_000 });
    container = undefined;
  });

  it('is tagged testbed/tiny:<recipe key> in the engine', async () => {
    expect(reference).toMatch(/^testbed\/tiny:[0-9a-f]{16}$/);
    const again = await ensureImage('tiny-container');
    expect(again).toMatchObject({ built: false, location: reference });
  });

  it('runs, prints the readiness line, and execs a command', async () => {
    const name = `testbed-images-test-${shortId(6)}`;
    const run = await runCommand(
      'docker',
      ['run', '-d', '--name', name, '--hostname', name, reference],
      {
        timeoutMs: 60_000,
      },
    );
    container = run.stdout.trim();
    let logs = '';
    for (let i = 0; i < 50 && !logs.includes('testbed-ready'); i++) {
      logs = (await runCommand('docker', ['logs', container], { timeoutMs: 10_000 })).stdout;
      if (!logs.includes('testbed-ready')) await sleep(100);
    }
    expect(logs).toContain(`testbed-ready ${name}`);
    const exec = await runCommand(
      'docker',
      ['exec', container, 'sh', '-c', 'echo "$(id -u) $(busybox | head -1)"'],
      {
        timeoutMs: 30_000,
      },
    );
    expect(exec.stdout).toMatch(/^0 BusyBox v\d+\.\d+/);
    const started = Date.now();
    await runCommand('docker', ['stop', container], { timeoutMs: 30_000 });
    // The init traps SIGTERM, so stopping does not wait out Docker's 10 s grace period.
    expect(Date.now() - started).toBeLessThan(8_000);
  });
});
