import { cac } from 'cac';
import { describe, expect, it } from 'vitest';
import { registerGcCommand } from '../../src/cli/gc-command.js';
import { registerLsCommand } from '../../src/cli/ls-command.js';
import { main } from '../../src/cli/main.js';
import type { OwnedResource } from '../../src/core/provider.js';
import type { PruneTemplatesOptions } from '../../src/images/template-store.js';
import { groupByRun } from '../../src/reaper/group-by-run.js';
import { planGc } from '../../src/reaper/plan-gc.js';
import type { SweepOptions, SweepReport } from '../../src/reaper/sweep-dead-runs.js';

const NOW = 10_000_000;
const resources: OwnedResource[] = [
  {
    providerId: 'libvirt',
    kind: 'domain',
    name: 'testbed-deadrun1-ab12',
    runId: 'deadrun1',
    owner: { pid: 200, startTime: 1 },
    createdAt: NOW - 2 * 3_600_000,
  },
  {
    providerId: 'docker',
    kind: 'container',
    name: 'c0ffee',
    runId: 'liverun1',
    owner: { pid: 100, startTime: 1 },
    createdAt: NOW - 60_000,
  },
];

/** A sweep over fixed resources (pid 100 alive, 200 dead) that records what it was asked. */
function fakeSweep(options: { dockerDown?: boolean; stuck?: boolean } = {}) {
  const calls: SweepOptions[] = [];
  const sweep = async (o: SweepOptions): Promise<SweepReport> => {
    calls.push(o);
    const groups = groupByRun(resources, (owner) => (owner.pid === 100 ? 'alive' : 'dead'), NOW);
    const runs = planGc(groups, { olderThanMs: o.olderThanMs });
    const removals = o.dryRun
      ? []
      : runs
          .filter((d) => d.remove)
          .map((d) => ({
            runId: d.run.runId,
            providerId: 'libvirt',
            removed: options.stuck ? [] : d.run.resources,
            failed: options.stuck
              ? [{ resource: d.run.resources[0], error: 'domain will not die' }]
              : [],
            elapsedMs: 5,
          }));
    return {
      backends: [
        { providerId: 'libvirt', status: 'listed', resources: [] },
        options.dockerDown
          ? {
              providerId: 'docker',
              status: 'unavailable',
              reason: 'DOCKER_HOST=unix:///nope but there is no socket at /nope',
              resources: [],
            }
          : { providerId: 'docker', status: 'listed', resources: [] },
      ],
      runs,
      removals,
      dryRun: o.dryRun ?? false,
      complete: !options.dockerDown && !options.stuck,
    };
  };
  return { sweep, calls };
}

async function runCli(argv: string[], sweep = fakeSweep(), env: NodeJS.ProcessEnv = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
  const cli = cac('testbed');
  const pruned: string[] = [];
  const pruneLogs = async (dir: string) => pruned.push(dir);
  const templateCalls: { dir: string; options: PruneTemplatesOptions }[] = [];
  const pruneTemplates = async (dir: string, options: PruneTemplatesOptions) => {
    templateCalls.push({ dir, options });
    const entry = {
      key: '0123456789abcdef0123',
      label: 'libvirt tiny-vm',
      providerId: 'libvirt',
      createdAt: 0,
      lastUsedAt: 0,
      fingerprint: {},
      bytes: 100 * 1024 ** 2,
      dir: `${dir}/0123456789abcdef0123`,
    };
    return [{ entry, remove: true, reason: 'unused past the age limit' }];
  };
  let pending: Promise<number> | undefined;
  const run = (work: () => Promise<number>) => {
    pending = work();
  };
  const deps = { sweep: sweep.sweep, env, pruneLogs, pruneTemplates };
  registerLsCommand(cli, io, run, deps);
  registerGcCommand(cli, io, run, deps);
  cli.parse(['node', 'testbed', ...argv], { run: false });
  await cli.runMatchedCommand();
  const code = await pending;
  return {
    code,
    stdout: out.join(''),
    stderr: err.join(''),
    calls: sweep.calls,
    pruned,
    templateCalls,
  };
}

describe('testbed ls', () => {
  it('lists runs grouped with owner state and age, and never removes', async () => {
    const { code, stdout, calls } = await runCli(['ls']);
    expect(code).toBe(0);
    expect(calls[0]?.dryRun).toBe(true);
    expect(stdout).toContain('run deadrun1  owner pid 200 (dead)  age 2h00m');
    expect(stdout).toContain('  libvirt  domain    testbed-deadrun1-ab12');
    expect(stdout).toContain('run liverun1  owner pid 100 (alive)  age 1m');
    expect(stdout).toContain(
      '2 runs, 2 resources; 1 with a dead owner: `testbed gc` removes them.',
    );
  });

  it('prints JSON with every run and backend', async () => {
    const { stdout } = await runCli(['ls', '--json']);
    const body = JSON.parse(stdout);
    expect(body.runs.map((r: { runId: string }) => r.runId)).toEqual(['deadrun1', 'liverun1']);
    expect(body.runs[0]).toMatchObject({ ownerState: 'dead', ageMs: 7_200_000 });
    expect(body.backends).toEqual([
      { providerId: 'libvirt', status: 'listed', reason: null },
      { providerId: 'docker', status: 'listed', reason: null },
    ]);
  });

  it('exits 1 and says why when a daemon is down, still listing the other backend', async () => {
    const { code, stdout, stderr } = await runCli(['ls'], fakeSweep({ dockerDown: true }));
    expect(code).toBe(1);
    expect(stdout).toContain('run deadrun1');
    expect(stderr).toContain('could not check docker (unavailable): DOCKER_HOST=unix:///nope');
    expect(stderr).toContain('TESTBED_PROVIDERS');
  });

  it('passes TESTBED_PROVIDERS on', async () => {
    const { calls } = await runCli(['ls'], fakeSweep(), { TESTBED_PROVIDERS: 'docker' });
    expect(calls[0]?.providerIds).toEqual(['docker']);
  });
});

describe('testbed gc', () => {
  it('prunes warm templates by the configured limits, all unused ones with --templates', async () => {
    const env = {
      TESTBED_TEMPLATE_DIR: '/srv/templates',
      TESTBED_TEMPLATE_MAX_MIB: '512',
      TESTBED_TEMPLATE_MAX_AGE_DAYS: '2',
    };
    const { stdout, templateCalls } = await runCli(['gc'], fakeSweep(), env);
    expect(templateCalls).toEqual([
      {
        dir: '/srv/templates',
        options: { maxAgeMs: 2 * 86_400_000, maxBytes: 512 * 1024 ** 2, all: false, dryRun: false },
      },
    ]);
    expect(stdout).toContain(
      'remove       template libvirt tiny-vm (0123456789abcdef, 100 MiB): unused past the age limit',
    );
    const dry = await runCli(['gc', '--templates', '--dry-run', '--json'], fakeSweep(), env);
    expect(dry.templateCalls[0]?.options).toMatchObject({ all: true, dryRun: true });
    expect(JSON.parse(dry.stdout).templates).toEqual([
      {
        key: '0123456789abcdef0123',
        label: 'libvirt tiny-vm',
        bytes: 100 * 1024 ** 2,
        lastUsedAt: 0,
        remove: true,
        reason: 'unused past the age limit',
      },
    ]);
  });

  it('--dry-run says what it would remove and asks for no removal', async () => {
    const { code, stdout, calls, pruned } = await runCli(['gc', '--dry-run']);
    expect(code).toBe(0);
    expect(pruned).toEqual([]);
    expect(calls[0]).toMatchObject({ dryRun: true, olderThanMs: undefined });
    expect(stdout).toMatch(/would remove +run deadrun1 .*: owner pid 200 is gone/);
    expect(stdout).toMatch(/keep +run liverun1 .*: owner pid 100 is alive/);
    expect(stdout).toContain(
      'Dry run: would remove 1 resource(s) of 1 run(s); nothing was removed.',
    );
  });

  it('removes, and --older-than is parsed and passed on', async () => {
    const { code, stdout, calls, pruned } = await runCli(
      ['gc', '--older-than', '30s'],
      fakeSweep(),
      {
        TESTBED_STATE_DIR: '/state',
      },
    );
    expect(code).toBe(0);
    expect(pruned).toEqual(['/state']);
    expect(calls[0]).toMatchObject({ dryRun: false, olderThanMs: 30_000 });
    expect(stdout).toContain('Removed 2 resource(s) of 2 run(s).');
  });

  it('exits 1 naming what could not be removed', async () => {
    const { code, stderr } = await runCli(['gc'], fakeSweep({ stuck: true }));
    expect(code).toBe(1);
    expect(stderr).toContain(
      'testbed gc: not removed: libvirt domain testbed-deadrun1-ab12: domain will not die',
    );
  });

  it('refuses a bad --older-than with the accepted form, through main', async () => {
    const err: string[] = [];
    const code = await main(['gc', '--older-than', 'soon'], {
      stdout: () => {},
      stderr: (t) => err.push(t),
    });
    expect(code).toBe(1);
    expect(err.join('')).toContain('--older-than: must be a duration such as 90s, 30m, 1h or 2d');
  });

  it('documents both commands in --help', async () => {
    for (const command of ['ls', 'gc']) {
      const out: string[] = [];
      const code = await main([command, '--help'], {
        stdout: (t) => out.push(t),
        stderr: () => {},
      });
      expect(code).toBe(0);
      expect(out.join('')).toContain(`$ testbed ${command}`);
    }
  });
});
