import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { isTestbedError } from '../../src/core/errors.js';
import type { Machine, MachineSpec, VmProvisioner } from '../../src/core/provider.js';
import { runCommand } from '../../src/core/run-command.js';
import { createRunContext } from '../../src/core/run-context.js';
import { DockerProvider } from '../../src/providers/docker/index.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import { runLeftovers } from './support/run-leftovers.js';

const base = loadConfig();
// A store of its own, so "made" and "found" are this file's doing.
const templateDir = mkdtempSync(join(base.stateDir, '..', 'templates-prepare-'));
chmodSync(templateDir, 0o755);
const config = { ...base, templateDir };
const libvirt = new LibvirtProvider({ config });
const docker = new DockerProvider();
const [libvirtUp, dockerUp] = await Promise.all([libvirt.isAvailable(), docker.isAvailable()]);
const hostFiles = mkdtempSync(join(base.stateDir, '..', 'prepare-files-'));
const copied = join(hostFiles, 'app.conf');
const runs: string[] = [];

afterAll(async () => {
  rmSync(templateDir, { recursive: true, force: true });
  rmSync(hostFiles, { recursive: true, force: true });
  for (const runId of runs) {
    await libvirt.removeRun(runId).catch(() => {});
    await docker.removeRun(runId).catch(() => {});
    expect(await runLeftovers(runId)).toEqual([]);
  }
});

/** A prepare that copies the host file and records, once, when it ran: a rerun writes a new id. */
const prepare = {
  files: [{ source: copied, target: '/etc/app.conf' }],
  run: [
    'cat /proc/sys/kernel/random/uuid > /etc/prepared-id',
    'mkdir -p /srv && echo ok > /srv/ready',
  ],
  key: 'v1',
};

async function read(machine: Machine, path: string): Promise<string> {
  const result = await machine.exec?.(['cat', path]);
  expect(result?.exitCode, result?.stderr).toBe(0);
  return result?.stdout.trim() ?? '';
}

async function provisioner(provider: LibvirtProvider | DockerProvider): Promise<VmProvisioner> {
  const run = createRunContext();
  runs.push(run.runId);
  return provider.createProvisioner({ run });
}

describe.skipIf(!libvirtUp && !process.env.CI)(
  'prepare on libvirt: a template layer cached by content',
  () => {
    it('runs once, is found by the next run, and runs again for an edited file', async () => {
      writeFileSync(copied, 'version 1\n');
      const spec: MachineSpec = { image: 'tiny-vm', prepare };
      const first = await provisioner(libvirt);
      const made = await first.warmTemplate?.(spec);
      expect(made?.origin).toBe('made');
      const a = await made?.restore();
      if (!a) throw new Error('no machine');
      const id = await read(a, '/etc/prepared-id');
      expect(await read(a, '/etc/app.conf')).toBe('version 1');
      expect(await read(a, '/srv/ready')).toBe('ok');
      await a.destroy();

      // Another run (another provisioner): found in the store, the steps not run again.
      const second = await provisioner(libvirt);
      const found = await second.warmTemplate?.(spec);
      expect(found?.origin).toBe('store');
      const b = await found?.restore();
      if (!b) throw new Error('no machine');
      expect(await read(b, '/etc/prepared-id')).toBe(id);
      await b.destroy();

      writeFileSync(copied, 'version 2\n');
      const edited = await second.warmTemplate?.(spec);
      expect(edited?.origin).toBe('made');
      const c = await edited?.restore();
      if (!c) throw new Error('no machine');
      expect(await read(c, '/etc/app.conf')).toBe('version 2');
      expect(await read(c, '/etc/prepared-id')).not.toBe(id);
      await c.destroy();
    }, 300_000);

    it('a failing step fails with its output and the step named, and stores nothing', async () => {
      const p = await provisioner(libvirt);
      const entries = async () =>
        (await runCommand('ls', ['-A', templateDir])).stdout
          .split('\n')
          .filter((n) => n && !n.endsWith('.lock'));
      const before = await entries();
      const failing = { image: 'tiny-vm', prepare: { run: ['true', 'echo broken >&2; exit 3'] } };
      const error = await p.warmTemplate?.(failing).catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_PREPARE_FAILED')).toBe(true);
      expect((error as Error).message).toMatch(
        /prepare run\[1\] failed: `echo broken >&2; exit 3` exited with 3:\n\s+broken/,
      );
      expect(await entries()).toEqual(before);
    }, 300_000);

    it('a key that is not a string is a spec error naming it', async () => {
      const p = await provisioner(libvirt);
      const error = await p
        .provision({ prepare: { run: 'true', key: 7 } } as never)
        .catch((e: unknown) => e);
      expect(isTestbedError(error, 'TESTBED_INVALID_SPEC')).toBe(true);
      expect((error as Error).message).toMatch(/prepare\.key: must be a string/);
    });
  },
);

describe.skipIf(!dockerUp && !process.env.CI)(
  'prepare on Docker: a committed image cached by content',
  () => {
    it('runs once per content: the next container starts from the committed image; an edit rebuilds it', async () => {
      writeFileSync(copied, 'container 1\n');
      const p = await provisioner(docker);
      const a = await p.provision({ prepare });
      const id = await read(a, '/etc/prepared-id');
      expect(await read(a, '/etc/app.conf')).toBe('container 1');
      const b = await p.provision({ prepare });
      expect(await read(b, '/etc/prepared-id')).toBe(id);
      await Promise.all([a.destroy(), b.destroy()]);
      writeFileSync(copied, 'container 2\n');
      const c = await p.provision({ prepare });
      expect(await read(c, '/etc/app.conf')).toBe('container 2');
      expect(await read(c, '/etc/prepared-id')).not.toBe(id);
      await c.destroy();
      const failing = await p
        .provision({ prepare: { run: 'echo nope; exit 4' } })
        .catch((e: unknown) => e);
      expect(isTestbedError(failing, 'TESTBED_PREPARE_FAILED')).toBe(true);
      expect((failing as Error).message).toMatch(
        /prepare run\[0\] failed: `echo nope; exit 4` exited with 4:\n\s+nope/,
      );
    }, 180_000);
  },
);
