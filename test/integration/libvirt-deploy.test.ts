import { createHash, randomBytes } from 'node:crypto';
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
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { FileTransferError, isTestbedError } from '../../src/core/errors.js';
import type { VmProvisioner } from '../../src/core/provider.js';
import { createRunContext, type RunContext } from '../../src/core/run-context.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import type { LibvirtMachine } from '../../src/providers/libvirt/libvirt-machine.js';
import { until } from './support/until.js';

const config = loadConfig();
const provider = new LibvirtProvider({ config });
const available = await provider.isAvailable();

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

describe.skipIf(!available && !process.env.CI)(
  'deploying to a libvirt VM over SSH (tiny image)',
  () => {
    let run: RunContext;
    let provisioner: VmProvisioner;
    let machine: LibvirtMachine;
    let dir: string;

    /** Runs shell code in the guest, expecting success; returns stdout. */
    async function sh(command: string): Promise<string> {
      const result = await machine.exec(command, { timeoutMs: 60_000 });
      expect(result.exitCode, `${command}: ${result.stderr}`).toBe(0);
      return result.stdout;
    }

    beforeAll(async () => {
      if (!available) throw new Error(`libvirt is not available here: ${provider.setupHint}`);
      run = createRunContext();
      provisioner = await provider.createProvisioner({ run });
      machine = (await provisioner.provision({})) as LibvirtMachine;
      dir = await mkdtemp(join(tmpdir(), 'testbed-deploy-'));
    });

    afterAll(async () => {
      await machine?.destroy();
      if (run) {
        const report = await provider.removeRun(run.runId);
        expect(report.failed).toEqual([]);
        const left = (await provider.listResources()).filter((r) => r.runId === run.runId);
        expect(left).toEqual([]);
      }
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('runs every command over one reused connection', async () => {
      await sh('true');
      const opened = machine.session.connectionsOpened;
      for (let i = 0; i < 10; i++) expect(await sh(`echo ${i}`)).toBe(`${i}\n`);
      expect(machine.session.connectionsOpened).toBe(opened);
    });

    it('round-trips a 50 MiB random file: copyTo, sha256sum in the guest, copyFrom', async () => {
      const data = randomBytes(50 * 1024 * 1024);
      const source = join(dir, 'big.bin');
      await writeFile(source, data);
      await machine.copyTo(source, '/root/deploy/big.bin');
      expect((await sh('sha256sum /root/deploy/big.bin')).split(' ')[0]).toBe(sha256(data));
      const back = join(dir, 'big-back.bin');
      await machine.copyFrom('/root/deploy/big.bin', back);
      expect(sha256(await readFile(back))).toBe(sha256(data));
    });

    it('round-trips a directory tree with its modes and a symlink', async () => {
      const tree = join(dir, 'tree');
      await mkdir(join(tree, 'conf'), { recursive: true });
      await writeFile(join(tree, 'run.sh'), '#!/bin/sh\necho run\n');
      await chmod(join(tree, 'run.sh'), 0o755);
      await writeFile(join(tree, 'conf', 'secret'), 'token');
      await chmod(join(tree, 'conf', 'secret'), 0o600);
      await writeFile(join(tree, 'README'), 'read me');
      await chmod(join(tree, 'README'), 0o644);
      await symlink('conf/secret', join(tree, 'current'));
      await machine.copyTo(tree, '/srv/app');
      expect(await sh('/srv/app/run.sh')).toBe('run\n');
      expect(await sh('stat -c "%a %n" /srv/app/run.sh /srv/app/conf/secret /srv/app/README')).toBe(
        '755 /srv/app/run.sh\n600 /srv/app/conf/secret\n644 /srv/app/README\n',
      );
      expect(await sh('readlink /srv/app/current')).toBe('conf/secret\n');
      const back = join(dir, 'tree-back');
      await machine.copyFrom('/srv/app', back);
      const mode = async (name: string) => (await lstat(join(back, name))).mode & 0o777;
      expect([await mode('run.sh'), await mode('conf/secret'), await mode('README')]).toEqual([
        0o755, 0o600, 0o644,
      ]);
      expect((await lstat(join(back, 'current'))).isSymbolicLink()).toBe(true);
      expect(await readlink(join(back, 'current'))).toBe('conf/secret');
      expect(await readFile(join(back, 'conf', 'secret'), 'utf8')).toBe('token');
    });

    it('writes and reads all 256 byte values and a string, with parents and mode', async () => {
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await machine.writeFile('/opt/new/dir/bytes.bin', bytes, { mode: 0o600 });
      expect(Buffer.compare(await machine.readFile('/opt/new/dir/bytes.bin'), bytes)).toBe(0);
      expect(await sh('stat -c %a /opt/new/dir/bytes.bin')).toBe('600\n');
      await machine.writeFile('/opt/new/hello.txt', 'grüße\nline two\n');
      expect((await machine.readFile('/opt/new/hello.txt')).toString('utf8')).toBe(
        'grüße\nline two\n',
      );
      expect(await sh('stat -c %a /opt/new/hello.txt')).toBe('644\n');
    });

    it('streams 20 MiB of binary stdin in and 5 MiB of binary stdout out', async () => {
      const input = randomBytes(20 * 1024 * 1024);
      const hashed = await machine.exec('sha256sum', { input, timeoutMs: 120_000 });
      expect(hashed.stdout.split(' ')[0]).toBe(sha256(input));
      const streamed = await machine.exec(
        ['sh', '-c', 'cat > /root/in.bin && sha256sum /root/in.bin'],
        {
          input: Readable.from([input.subarray(0, 1 << 20), input.subarray(1 << 20)]),
          timeoutMs: 120_000,
        },
      );
      expect(streamed.stdout.split(' ')[0]).toBe(sha256(input));
      const out = await machine.exec(
        'head -c 5242880 /dev/urandom > /root/out.bin && cat /root/out.bin',
        { encoding: 'buffer', timeoutMs: 120_000 },
      );
      expect(out.stdout).toBeInstanceOf(Uint8Array);
      expect(out.stdout.byteLength).toBe(5 * 1024 * 1024);
      expect(sha256(out.stdout)).toBe((await sh('sha256sum /root/out.bin')).split(' ')[0]);
    });

    it('applies env, cwd and user', async () => {
      // Busybox here has no adduser: an entry in passwd and group is a user.
      await sh(
        'grep -q ^tbuser: /etc/passwd || { echo "tbuser:x:1000:1000::/tmp:/bin/sh" >> /etc/passwd; echo "tbuser:x:1000:" >> /etc/group; }',
      );
      const hostile = `it's "$HOME" \`id\` $(id) \\ ;`;
      const result = await machine.exec('printf "%s|" "$VALUE" "$(pwd)" "$(id -un)"', {
        env: { VALUE: hostile },
        cwd: '/tmp',
        user: 'tbuser',
      });
      expect(result).toEqual({ stdout: `${hostile}|/tmp|tbuser|`, stderr: '', exitCode: 0 });
      expect((await machine.exec(['id', '-un'])).stdout).toBe('root\n');
      const missing = await machine.exec(['pwd'], { cwd: '/nonexistent/dir' }).catch((e) => e);
      expect(missing).toMatchObject({ code: 'TESTBED_NO_SUCH_CWD_OR_USER', missing: 'cwd' });
      expect(String(missing)).toMatch(/nonexistent\/dir/);
      await expect(machine.exec([])).rejects.toMatchObject({ code: 'TESTBED_INVALID_SPEC' });
    });

    it('spawns a command whose output streams as it arrives, and kills one', async () => {
      const started = Date.now();
      const process = machine.spawn('for i in 1 2 3; do echo line $i; sleep 1; done; exit 7');
      const arrivals: number[] = [];
      let text = '';
      process.stdout.on('data', (chunk: Buffer) => {
        arrivals.push(Date.now() - started);
        text += chunk.toString();
      });
      expect(await process.exited).toBe(7);
      expect(text).toBe('line 1\nline 2\nline 3\n');
      // The first line came while the command still ran, well before its end.
      expect(arrivals[0]).toBeLessThan((arrivals.at(-1) ?? 0) - 1000);

      const sleeper = machine.spawn(['sh', '-c', 'sleep 1011 & sleep 1012; wait']);
      await until('the sleeper to run', 10_000, async () =>
        (await sh('ps')).includes('sleep 1012') ? true : undefined,
      );
      await sleeper.kill();
      expect(await sleeper.exited).toBe(137);
      expect(await sh('ps')).not.toMatch(/sleep 101[12]/);
    });

    it('names a guest path that does not exist: copyFrom and readFile reject with not-found', async () => {
      for (const attempt of [
        () => machine.copyFrom('/nonexistent/app', join(dir, 'never')),
        () => machine.readFile('/nonexistent/file.txt'),
      ]) {
        const error = await attempt().catch((e: unknown) => e);
        expect(error).toBeInstanceOf(FileTransferError);
        expect(error).toMatchObject({ reason: 'not-found' });
        expect((error as Error).message).toMatch(/guest path \/nonexistent\/(app|file\.txt)/);
        expect((error as Error).message).toMatch(/Fix: /);
      }
      await expect(lstat(join(dir, 'never'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('rejects with permission on a read-only filesystem', async () => {
      await sh('mkdir -p /ro && { mountpoint -q /ro || mount -t tmpfs -o ro tmpfs /ro; }');
      const error = await machine.writeFile('/ro/config', 'x').catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: 'permission', path: '/ro/config' });
      expect((error as Error).message).toMatch(/Read-only file system[\s\S]*Fix: /);
    });

    it('rejects with no-space on a full filesystem and leaves no partial file', async () => {
      await sh(
        'mkdir -p /small && { mountpoint -q /small || mount -t tmpfs -o size=1m tmpfs /small; }',
      );
      const source = join(dir, 'four.bin');
      await writeFile(source, randomBytes(4 * 1024 * 1024));
      const error = await machine.copyTo(source, '/small/four.bin').catch((e: unknown) => e);
      expect(error).toMatchObject({ reason: 'no-space', path: '/small/four.bin' });
      expect((error as Error).message).toMatch(/No space left on device[\s\S]*Fix: /);
      expect(await sh('ls -A /small')).toBe('');
    });

    it('aborts an exec and a transfer with AbortedError, its reason as cause, processes killed', async () => {
      const reason = new Error('test is over');
      const controller = new AbortController();
      const running = machine.exec(['sh', '-c', 'sleep 1021; echo never'], {
        signal: controller.signal,
      });
      setTimeout(() => controller.abort(reason), 500);
      const error = await running.catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_ABORTED')).toBe(true);
      expect((error as Error).cause).toBe(reason);
      await until('the sleep to be killed', 5000, async () =>
        (await sh('ps')).includes('sleep 1021') ? undefined : true,
      );

      const source = join(dir, 'big.bin');
      const transfer = new AbortController();
      setTimeout(() => transfer.abort(reason), 300);
      const aborted = await machine
        .copyTo(source, '/root/aborted/big.bin', { signal: transfer.signal })
        .catch((e: unknown) => e);
      expect(aborted).toMatchObject({ code: 'TESTBED_ABORTED', cause: reason });
      expect(await sh('ls -A /root/aborted 2>/dev/null || true')).toBe('');
    });

    it('times out with the limit asked, and a dropped connection is a coded error, then reconnected', async () => {
      const error = await machine.exec('sleep 1031', { timeoutMs: 1000 }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: 'TESTBED_TIMEOUT' });
      expect((error as Error).message).toMatch(/within 1000 ms/);
      const opened = machine.session.connectionsOpened;
      // The shell's parent is dropbear's process for this connection.
      const dropped = await machine.exec('kill -9 $PPID; sleep 5').catch((e: unknown) => e);
      expect(dropped).toMatchObject({ code: 'TESTBED_COMMAND_FAILED' });
      expect(await sh('echo back')).toBe('back\n');
      // Reconnected (dropbear may also have opened one for the timed-out command's kill).
      expect(machine.session.connectionsOpened).toBeGreaterThan(opened);
    });

    it('resolves forwarded ports and names the ones that are not', async () => {
      const error = (() => {
        try {
          return machine.endpoint(8080);
        } catch (e) {
          return e;
        }
      })();
      expect(error).toMatchObject({ code: 'TESTBED_PORT_NOT_FORWARDED', port: 8080 });
      const descriptor = machine.describe();
      descriptor.data.ports = { 8080: 41080 };
      const attached = (await provisioner.attach(descriptor)) as LibvirtMachine;
      expect(attached.endpoint(8080)).toEqual({ host: '127.0.0.1', port: 41080 });
      expect(attached.url(8080)).toBe('http://127.0.0.1:41080/');
      expect(attached.url(8080, 'health', { protocol: 'ws' })).toBe('ws://127.0.0.1:41080/health');
      // An attached handle's destroy closes its connection only: the machine keeps running.
      expect((await attached.exec(['echo', 'attached'])).stdout).toBe('attached\n');
      await attached.destroy();
      await expect(attached.exec('true')).rejects.toMatchObject({ code: 'TESTBED_MACHINE_GONE' });
      expect(await sh('echo alive')).toBe('alive\n');
    });

    it('rejects with MachineGoneError after destroy, also for a command in flight', async () => {
      const inFlight = machine.exec('sleep 1041').catch((e: unknown) => e);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await machine.destroy();
      expect(await inFlight).toMatchObject({ code: 'TESTBED_MACHINE_GONE' });
      await expect(machine.exec('true')).rejects.toMatchObject({
        code: 'TESTBED_MACHINE_GONE',
        message: expect.stringContaining(machine.name),
      });
      await expect(machine.readFile('/etc/hostname')).rejects.toMatchObject({
        code: 'TESTBED_MACHINE_GONE',
      });
    });
  },
);
