import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stripVTControlCharacters } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import {
  descendants,
  isRunning,
  type ProcessEntry,
  processTable,
} from '../../src/core/process-table.js';
import { runCommand } from '../../src/core/run-command.js';
import { VmBackendRegistry } from '../../src/registry.js';
import { type ChildVitest, startVitest } from './support/child-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';
import { until } from './support/until.js';

const repo = resolve(import.meta.dirname, '../..');
const fixture = resolve(repo, 'test/fixtures/kill-run');
const { libvirtUri } = loadConfig();
const RUN_MACHINE_UP = /testbed: run machine 'vm' is /;

const registry = VmBackendRegistry.withDefaults();
const docker = registry.get('docker');
const libvirt = registry.get('libvirt');
const backendsReady =
  docker !== undefined &&
  libvirt !== undefined &&
  (await docker.isAvailable()) &&
  (await libvirt.isAvailable());

const gates = mkdtempSync(join(tmpdir(), 'testbed-kill-gates-'));
const started: { child: ChildVitest; runId?: string; watchdogLog?: string }[] = [];

/** A child run of the fixture project, its run id, and the watchdog guarding it. */
interface Run {
  child: ChildVitest;
  runId: string;
  watchdogPid: number;
  watchdogLog: string;
  gate: string;
}

/** Starts the fixture run; its test holds until `gate` exists. Resolves once the run id is out. */
async function startRun(name: string, gateOpen: boolean): Promise<Run> {
  const gate = join(gates, name);
  if (gateOpen) writeFileSync(gate, '');
  const child = startVitest(fixture, { KILL_FIXTURE_GATE: gate });
  const entry: (typeof started)[number] = { child };
  started.push(entry);
  const [, runId, watchdogLog] = await child.waitForOutput(
    /testbed: run ([a-z0-9]{8}) \(watchdog log: (\S+)\)/,
    90_000,
  );
  if (!runId || !watchdogLog) throw new Error(`no run id in:\n${child.output()}`);
  entry.runId = runId;
  entry.watchdogLog = watchdogLog;
  const lock = watchdogLog.replace(/\.log$/, '.pid');
  const watchdogPid = await until('the watchdog pid', 10_000, () => {
    const pid = Number(existsSync(lock) ? readFileSync(lock, 'utf8').split(' ')[0] : 0);
    return pid > 0 ? pid : undefined;
  });
  return { child, runId, watchdogPid, watchdogLog, gate };
}

/** A `virsh <command>` the child started on something of `runId`, running right now. */
function virshOf(runId: string, command: string, target: (arg: string) => boolean) {
  return processTable().some(
    (p) =>
      p.argv.some((a) => a.endsWith('/virsh') || a === 'virsh') &&
      p.argv.includes(command) &&
      p.argv.some((a) => a.includes(runId) && target(a)),
  );
}

async function domainsOf(runId: string): Promise<string[]> {
  const { stdout } = await runCommand('virsh', ['-q', '-c', libvirtUri, 'list', '--name'], {
    timeoutMs: 30_000,
  });
  return stdout.split('\n').filter((d) => d.startsWith(`testbed-${runId}-`));
}

/**
 * Ends what is left of a killed run's process tree and returns it. Vitest's fork workers outlive
 * a SIGKILLed main process and go on running their test (the fixture's waits up to 120 s); only
 * processes this file started are touched, recognised by pid and command line.
 */
function endStragglers(tree: ProcessEntry[]): ProcessEntry[] {
  const now = new Map(processTable().map((p) => [p.pid, p.argv.join(' ')]));
  const alive = tree.filter((p) => isRunning(p.pid) && now.get(p.pid) === p.argv.join(' '));
  for (const p of alive) process.kill(p.pid, 'SIGKILL');
  return alive;
}

/** Prints the measurements of one kill (timings are reported, not asserted). */
function report(point: string, cleanMs: number, stragglers: ProcessEntry[]): void {
  const names = stragglers.map((p) => p.argv.slice(-1)[0]).join(', ') || 'none';
  console.log(
    `[kill timing] ${point}: nothing left ${cleanMs} ms after SIGKILL; still running: ${names}`,
  );
}

/** SIGKILLs the run's vitest; returns when it died, with the kill time and its process tree. */
async function killRun(run: Run): Promise<{ killedAt: number; tree: ProcessEntry[] }> {
  const tree = descendants(run.child.pid);
  run.child.kill('SIGKILL');
  const killedAt = Date.now();
  const exit = await run.child.exited;
  expect(exit.signal).toBe('SIGKILL');
  return { killedAt, tree };
}

/**
 * Waits until nothing of the run is left and its watchdog exited, then checks it stays so and
 * the watchdog says it removed the run. Returns ms from kill to nothing left.
 */
async function expectReaped(run: Run, killedAt: number): Promise<number> {
  await until('nothing of the run to be left', 90_000, async () =>
    (await runLeftovers(run.runId)).length === 0 ? true : undefined,
  );
  const cleanMs = Date.now() - killedAt;
  await until('the watchdog to exit', 60_000, () => (isRunning(run.watchdogPid) ? undefined : 1));
  // A create in flight at the kill completes after the first look: look again after the resweeps.
  expect(await runLeftovers(run.runId)).toEqual([]);
  const log = readFileSync(run.watchdogLog, 'utf8');
  expect(log).toContain(`owner pid ${run.child.pid} is gone`);
  // Another run's start-up sweep may have removed some first: what counts is that none are left.
  expect(log).toMatch(/done: \d+ removed, 0 left/);
  expect(existsSync(run.watchdogLog.replace(/\.log$/, '.pid'))).toBe(false);
  return cleanMs;
}

interface KillPoint {
  name: string;
  /** Whether the fixture's test runs through (teardown) or holds until the kill. */
  gateOpen: boolean;
  /** How often to look for the point, in ms. */
  everyMs: number;
  /** True once the run is at the point. */
  reached(run: Run): Promise<boolean> | boolean;
  /** What must hold at the moment of the kill, so a late look never tests another point. */
  check(run: Run): Promise<void> | void;
}

const killPoints: KillPoint[] = [
  {
    name: 'provisioning: `virsh create` of the run VM in flight',
    gateOpen: false,
    everyMs: 10,
    reached: ({ runId }) => virshOf(runId, 'create', (a) => a.endsWith('/domain.xml')),
    check: ({ child }) => expect(child.output()).not.toMatch(RUN_MACHINE_UP),
  },
  {
    name: 'provisioning: run VM booting, not ready yet',
    gateOpen: false,
    everyMs: 100,
    reached: async ({ runId }) => (await domainsOf(runId)).length > 0,
    check: ({ child }) => expect(child.output()).not.toMatch(RUN_MACHINE_UP),
  },
  {
    name: 'running: a test holds the VM, a container and a network on each backend',
    gateOpen: false,
    everyMs: 100,
    reached: ({ child, runId }) => child.output().includes(`kill-fixture: holding ${runId}`),
    async check({ runId }) {
      const kinds = (await runLeftovers(runId)).map((l) => l.split(' ').slice(0, 2).join(' '));
      expect(new Set(kinds)).toEqual(
        new Set([
          'docker container',
          'docker network',
          'libvirt domain',
          'libvirt log',
          'libvirt network',
          'qemu process',
          'run directory',
        ]),
      );
    },
  },
  {
    name: 'teardown: the tests passed and global teardown is destroying the run VM',
    gateOpen: true,
    everyMs: 10,
    reached: ({ child, runId }) =>
      child.output().includes(`kill-fixture: released ${runId}`) &&
      virshOf(runId, 'destroy', (a) => a.startsWith(`testbed-${runId}-`)),
    check: ({ child }) =>
      expect(stripVTControlCharacters(child.output())).toMatch(/Tests +1 passed/),
  },
];

describe.skipIf(!backendsReady && !process.env.CI)(
  'a child `vitest run` killed with SIGKILL',
  () => {
    beforeAll(() => {
      if (!existsSync(join(repo, 'dist/vitest/index.js'))) {
        throw new Error('testbed/vitest resolves to dist/: run `npm run build` first.');
      }
    });

    beforeEach(() => {
      // In CI a missing backend fails every test here instead of skipping it.
      if (!backendsReady)
        throw new Error('Docker and libvirt must both be available and registered');
    });

    afterAll(async () => {
      for (const { child } of started) child.kill('SIGKILL');
      for (const { runId, watchdogLog } of started) {
        if (!runId) continue;
        for (const p of registry.providers()) await p.removeRun?.(runId);
        // The watchdog keeps its log after a reap on purpose; this file's runs leave none behind.
        if (watchdogLog) rmSync(watchdogLog, { force: true });
      }
      rmSync(gates, { recursive: true, force: true });
    });

    /** Kills a run of the fixture at `point` and checks its watchdog removed everything. */
    async function killAt(point: KillPoint): Promise<void> {
      const run = await startRun(`point-${killPoints.indexOf(point)}`, point.gateOpen);
      await until(
        `the kill point (${point.name})`,
        120_000,
        async () => {
          if (await point.reached(run)) return true;
          if (run.child.hasExited()) {
            throw new Error(`the run ended before the kill point:\n${run.child.output()}`);
          }
          return undefined;
        },
        point.everyMs,
      );
      await point.check(run);
      const { killedAt, tree } = await killRun(run);
      const cleanMs = await expectReaped(run, killedAt);
      report(point.name, cleanMs, endStragglers(tree));
    }

    // The points of a short moment (a virsh command in flight, the first domain) are looked for
    // alone; a run holding its machines is killed beside the two concurrent runs below: each test
    // looks only at what carries its own run ids, and most of each is the watchdog's resweeps.
    const holding = (point: KillPoint) => point.name.startsWith('running:');
    it.each(killPoints.filter((point) => !holding(point)))(
      'leaves nothing of the run when killed at $name',
      killAt,
    );

    it.concurrent.each(killPoints.filter(holding))(
      'leaves nothing of the run when killed at $name',
      killAt,
    );

    it.concurrent('killing one of two concurrent runs leaves the other untouched and passing', async () => {
      const [victim, survivor] = await Promise.all([
        startRun('victim', false),
        startRun('survivor', false),
      ]);
      const holding = (run: Run) => `kill-fixture: holding ${run.runId}`;
      await Promise.all([
        victim.child.waitForOutput(new RegExp(holding(victim)), 150_000),
        survivor.child.waitForOutput(new RegExp(holding(survivor)), 150_000),
      ]);
      const before = (await runLeftovers(survivor.runId)).sort();
      expect(before.some((l) => l.startsWith('libvirt domain'))).toBe(true);
      expect(before.some((l) => l.startsWith('docker container'))).toBe(true);

      const { killedAt, tree } = await killRun(victim);
      const cleanMs = await expectReaped(victim, killedAt);
      report('concurrent victim', cleanMs, endStragglers(tree));
      expect((await runLeftovers(survivor.runId)).sort()).toEqual(before);
      expect(isRunning(survivor.child.pid)).toBe(true);

      writeFileSync(survivor.gate, '');
      const exit = await survivor.child.exited;
      expect(exit.exitCode, survivor.child.output()).toBe(0);
      expect(exit.report).toMatchObject({ numPassedTests: 1, numFailedTests: 0 });
      expect(exit.report?.testResults[0]?.assertionResults[0]).toMatchObject({
        title: 'holds a VM, a container and a network per backend until released',
        status: 'passed',
      });
      // A clean end: its own teardown removed everything, and its watchdog stood down.
      expect(await runLeftovers(survivor.runId)).toEqual([]);
      await until('the survivor\u2019s watchdog to exit', 10_000, () =>
        isRunning(survivor.watchdogPid) ? undefined : true,
      );
      expect(existsSync(survivor.watchdogLog)).toBe(false);
    });
  },
);
