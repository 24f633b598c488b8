import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { processTable } from '../../src/core/process-table.js';
import { ensureImage } from '../../src/images/ensure-image.js';

// Developers as they really are: one in groups libvirt and kvm (Debian's setup) on
// qemu:///system, one in no group at all on qemu:///session (libvirt's per-user daemon, no root).
// Each runs a one-VM Vitest suite of the built package as that user, with testbed's defaults
// (caches and run state in ~/.cache/testbed), and nothing may be left behind. Creating users
// needs root: elsewhere the suite is skipped with that reason, and never under CI=true.
const repo = resolve(import.meta.dirname, '../..');
const isRoot = process.getuid?.() === 0;
const suffix = Math.random().toString(16).slice(2, 6);
const PATH = '/usr/local/bin:/usr/bin:/bin'; // a user's PATH on Debian: no /usr/sbin

interface TestUser {
  name: string;
  home: string;
  project: string;
}

async function root(file: string, args: string[]) {
  const result = await execa(file, args, { reject: false, all: true, timeout: 60_000 });
  if (result.exitCode !== 0) throw new Error(`${file} ${args.join(' ')}: ${result.all}`);
  return result.stdout;
}

/** Runs a command as `user` with a login-like environment of only what is given. */
function asUser(user: TestUser, file: string, args: string[], cwd = user.project) {
  return execa(
    'runuser',
    [
      '-u',
      user.name,
      '--',
      'env',
      '-i',
      `HOME=${user.home}`,
      `USER=${user.name}`,
      `PATH=${PATH}`,
      file,
      ...args,
    ],
    { cwd, reject: false, all: true, timeout: 240_000 },
  );
}

const work = isRoot ? mkdtempSync(join(tmpdir(), 'testbed-non-root-')) : '';
if (work) chmodSync(work, 0o755); // mkdtemp's 0700 would keep the users out of their projects

/**
 * A user with a 0700 home (Debian's adduser default) holding a copy of the tiny image root
 * built (identical inputs, so the user's own `ensureImage` finds it current instead of
 * downloading and building again) and a fixture project that uses the built package.
 */
async function createUser(
  kind: string,
  groups: string[],
  image: { key: string; location: string },
) {
  const name = `tbnr-${kind}-${suffix}`;
  await root('useradd', [
    '-m',
    '-K',
    'HOME_MODE=0700',
    ...(groups.length ? ['-G', groups.join(',')] : []),
    name,
  ]);
  const home = `/home/${name}`;
  const images = join(home, '.cache/testbed/images');
  mkdirSync(join(images, 'tiny-vm'), { recursive: true });
  cpSync(image.location, join(images, 'tiny-vm', image.key), { recursive: true });
  symlinkSync(image.key, join(images, 'tiny-vm', 'current'));
  const memo = join(image.location, '../../.tiny-vm-packages.json');
  if (existsSync(memo)) cpSync(memo, join(images, '.tiny-vm-packages.json'));
  const project = join(work, name);
  mkdirSync(join(project, 'node_modules'), { recursive: true });
  for (const file of ['vitest.config.ts', 'vm.test.ts']) {
    cpSync(join(repo, 'test/fixtures/non-root', file), join(project, file));
  }
  writeFileSync(join(project, 'package.json'), JSON.stringify({ private: true, type: 'module' }));
  symlinkSync(repo, join(project, 'node_modules/testbed'));
  symlinkSync(join(repo, 'node_modules/vitest'), join(project, 'node_modules/vitest'));
  await root('chown', ['-R', `${name}:${name}`, join(home, '.cache'), project]);
  return { name, home, project };
}

/** The processes running as `user`. */
async function userProcesses(user: TestUser): Promise<{ pid: number; args: string }[]> {
  const { stdout } = await execa('ps', ['-u', user.name, '-o', 'pid=,args='], { reject: false });
  return stdout
    .split('\n')
    .map((line) => /^\s*(\d+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ pid: Number(m[1]), args: m[2] ?? '' }));
}

/** Ends the user's processes (the session daemons virsh started), by pid, then removes the user. */
async function removeUser(user: TestUser | undefined) {
  if (!user) return;
  for (let attempt = 0; attempt < 20; attempt++) {
    const pids = (await userProcesses(user)).map((p) => p.pid);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, attempt < 10 ? 'SIGTERM' : 'SIGKILL');
      } catch {}
    }
    await sleep(300);
  }
  await execa('userdel', ['-r', user.name], { reject: false });
}

const uids = new Map<string, number>();
function uidOf(user: TestUser): number {
  return uids.get(user.name) ?? -1;
}

async function runSuite(user: TestUser) {
  const result = await asUser(user, process.execPath, [
    join(repo, 'node_modules/vitest/vitest.mjs'),
    'run',
    '--reporter=default',
    '--reporter=json',
    '--outputFile.json=report.json',
  ]);
  const runId = /testbed: run (\w+)/.exec(result.all ?? '')?.[1];
  return { ...result, runId };
}

async function domainsOf(uri: string, user: TestUser | undefined): Promise<string[]> {
  const virsh = ['-q', '-c', uri, 'list', '--all', '--name'];
  const result = user
    ? await asUser(user, 'virsh', virsh, '/')
    : await execa('virsh', virsh, { reject: false });
  if (result.exitCode !== 0) throw new Error(`virsh -c ${uri} list: ${result.stderr}`);
  return result.stdout.split('\n').filter(Boolean);
}

/** What `runId` left: domains on either URI, QEMU processes, run files and overlays, the user's own processes. */
async function leftovers(user: TestUser, runId: string): Promise<string[]> {
  const found: string[] = [];
  for (const [uri, as] of [
    ['qemu:///system', undefined],
    ['qemu:///session', user],
  ] as const) {
    found.push(
      ...(await domainsOf(uri, as))
        .filter((d) => d.includes(runId))
        .map((d) => `${uri} domain ${d}`),
    );
  }
  const runs = join(user.home, '.cache/testbed/runs');
  if (existsSync(join(runs, runId))) found.push(`run directory ${join(runs, runId)}`);
  const overlays = readdirSync(runs, { recursive: true, encoding: 'utf8' }).filter((f) =>
    f.endsWith('.qcow2'),
  );
  found.push(...overlays.map((f) => `overlay ${f}`));
  // The watchdog stops once the run has ended; give it a moment. Session daemons may stay (they
  // exit on their own after 2 idle minutes); anything else of the user's is a leak.
  for (let i = 0; i < 25; i++) {
    const qemus = processTable()
      .filter((p) => p.argv[0]?.includes('qemu-system') && p.argv.some((a) => a.includes(runId)))
      .map((p) => `qemu process ${p.pid}`);
    const own = (await userProcesses(user))
      .filter((p) => !/^\/usr\/sbin\/(libvirtd|virtlogd|virtqemud) --timeout/.test(p.args))
      .map((p) => `process ${p.pid} of ${user.name}: ${p.args}`);
    if (qemus.length + own.length === 0) break;
    if (i === 24) found.push(...qemus, ...own);
    await sleep(200);
  }
  return found;
}

/** libvirtd's own per-domain logs for a non-root user's domains are root's: removed here, as root. */
function removeSystemDomainLogs(runId: string) {
  const dir = '/var/log/libvirt/qemu';
  for (const entry of existsSync(dir) ? readdirSync(dir) : []) {
    if (entry.startsWith(`testbed-${runId}-`)) rmSync(join(dir, entry), { force: true });
  }
}

/** `testbed doctor --json` as `user`: the report and its libvirt entry. */
async function doctorAs(user: TestUser) {
  const doctor = await asUser(user, process.execPath, [
    join(repo, 'bin/testbed.js'),
    'doctor',
    '--json',
  ]);
  const report = JSON.parse(doctor.stdout);
  const libvirt = report.providers.find((p: { id: string }) => p.id === 'libvirt');
  return { report, libvirt };
}

describe.skipIf(!isRoot && !process.env.CI)('non-root developers (as root: creates users)', () => {
  let member: TestUser | undefined;
  let outsider: TestUser | undefined;

  beforeAll(async () => {
    if (!existsSync(join(repo, 'dist/vitest/index.js')))
      throw new Error('run `npm run build` first');
    const image = await ensureImage('tiny-vm');
    member = await createUser('sys', ['libvirt', 'kvm'], image);
    outsider = await createUser('ses', [], image);
    for (const user of [member, outsider])
      uids.set(user.name, Number(await root('id', ['-u', user.name])));
  }, 120_000);

  afterAll(async () => {
    await removeUser(member);
    await removeUser(outsider);
    rmSync(work, { recursive: true, force: true });
  }, 60_000);

  it('setup-host as a user in no group says what it found and prints the exact commands, exit 0', async () => {
    const user = outsider as TestUser;
    const result = await asUser(user, 'sh', [join(repo, 'scripts/setup-host.sh')]);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stderr).toContain(
      `setup-host: found: user ${user.name} (uid ${uidOf(user)}), groups: ${user.name}`,
    );
    expect(result.stderr).toMatch(
      /found: Docker engine running, but \/var\/run\/docker\.sock is for group docker/,
    );
    expect(result.stderr).toMatch(/found: libvirtd running, but qemu:\/\/\/system refuses/);
    expect(result.stderr).toContain('found: qemu:///session usable');
    expect(result.stderr).toContain('to finish the setup, run:');
    // Some machines of this kind have no KVM device at all: then there is no group to ask for.
    if (existsSync('/dev/kvm')) {
      expect(result.stderr).toContain(`  sudo usermod -aG docker,libvirt,kvm ${user.name}`);
    } else {
      expect(result.stderr).toContain('found: no /dev/kvm (guests run under TCG');
      expect(result.stderr).toContain(`  sudo usermod -aG docker,libvirt ${user.name}`);
    }
    expect(result.stderr).not.toMatch(/failed/);
  });

  it('setup-host as a member of libvirt and kvm finds qemu:///system reachable and asks only for docker', async () => {
    const user = member as TestUser;
    const result = await asUser(user, 'sh', [join(repo, 'scripts/setup-host.sh')]);
    expect(result.exitCode, result.all).toBe(0);
    expect(result.stderr).toContain('found: libvirt at qemu:///system reachable');
    expect(result.stderr).toContain(`  sudo usermod -aG docker ${user.name}`);
    expect(result.stderr).not.toMatch(/usermod -aG \S*libvirt/);
  });

  // The two suites at once: two users, each with a home, runs and processes of its own, which is
  // all that either test looks at.
  it.concurrent('qemu:///system: a 0700 home fails with the coded error naming it; after its fix the suite passes and leaves nothing', async () => {
    const user = member as TestUser;
    const blocked = await runSuite(user);
    expect(blocked.exitCode).not.toBe(0);
    expect(blocked.all).toContain('QemuCannotReachError');
    expect(blocked.all).toContain(`libvirt-qemu cannot enter ${user.home} (mode 0700)`);
    expect(blocked.all).toContain(`chmod o+x ${user.home}`);
    await root('chmod', ['o+x', user.home]);

    const run = await runSuite(user);
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toMatch(/1 passed/);
    expect(run.runId).toBeDefined();
    const { report, libvirt } = await doctorAs(user);
    expect(libvirt.health.details.uri).toBe('qemu:///system');
    expect(report.access).toContainEqual(expect.objectContaining({ backend: 'libvirt', ok: true }));
    expect(await leftovers(user, run.runId as string)).toEqual([]);
    removeSystemDomainLogs(run.runId as string);
  }, 180_000);

  it.concurrent('qemu:///session, chosen by itself for a user in no group: the suite passes, QEMU runs as that user, nothing is left', async () => {
    const user = outsider as TestUser;
    const run = await runSuite(user);
    expect(run.exitCode, run.all).toBe(0);
    expect(run.all).toMatch(/1 passed/);
    const { report, libvirt } = await doctorAs(user);
    expect(libvirt.health.details.uri).toBe('qemu:///session');
    expect(report.access).toContainEqual(
      expect.objectContaining({
        backend: 'docker',
        ok: false,
        fix: expect.stringContaining('usermod -aG docker'),
      }),
    );
    expect(report.access).toContainEqual(
      expect.objectContaining({
        backend: 'kvm',
        ok: false,
        fix: existsSync('/dev/kvm')
          ? expect.stringContaining(`usermod -aG kvm ${user.name}`)
          : expect.stringContaining('enable virtualization'),
      }),
    );
    expect(await leftovers(user, run.runId as string)).toEqual([]);
  }, 180_000);
});
