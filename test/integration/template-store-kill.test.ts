import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import { descendants, isRunning, processTable } from '../../src/core/process-table.js';
import { runCommand } from '../../src/core/run-command.js';
import { listTemplates } from '../../src/images/template-store.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import { type ChildVitest, startVitest } from './support/child-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';
import { until } from './support/until.js';

const fixture = resolve(import.meta.dirname, '../fixtures/vitest-store');
const config = loadConfig();
const libvirt = await new LibvirtProvider({ config }).isAvailable();
const templateDir = mkdtempSync(join(config.stateDir, '..', 'templates-kill-'));
chmodSync(templateDir, 0o755);
const gates = mkdtempSync(join(tmpdir(), 'testbed-store-gates-'));
afterAll(() => {
  rmSync(templateDir, { recursive: true, force: true });
  rmSync(gates, { recursive: true, force: true });
});

/** The acceptance bound: a killed run's machines, standbys and staging are gone this soon. */
const REAPED_WITHIN_MS = 15_000;

async function domains(runId: string, state: '--all' | '--state-paused'): Promise<string[]> {
  const { stdout } = await runCommand(
    'virsh',
    ['-q', '-c', config.libvirtUri, 'list', state, '--name'],
    {
      timeoutMs: 30_000,
    },
  );
  return stdout.split('\n').filter((d) => d.startsWith(`testbed-${runId}-`));
}

/** Starts the store fixture with its tests held at a gate; resolves with the run id. */
async function start(name: string): Promise<{ child: ChildVitest; runId: string }> {
  const child = startVitest(fixture, {
    TESTBED_TEMPLATE_DIR: templateDir,
    STORE_FIXTURE_GATE: join(gates, name),
  });
  const [, runId] = await child.waitForOutput(/testbed: run ([a-z0-9]{8})/, 90_000);
  if (!runId) throw new Error(`no run id in:\n${child.output()}`);
  return { child, runId };
}

/**
 * SIGKILLs the run's vitest and the workers it leaves (Vitest's forks outlive their main
 * process), then waits for the watchdog to leave nothing of the run; returns how long that took.
 */
async function killAndReap(child: ChildVitest, runId: string): Promise<number> {
  const tree = descendants(child.pid);
  child.kill('SIGKILL');
  const killedAt = Date.now();
  await child.exited;
  const now = new Map(processTable().map((p) => [p.pid, p.argv.join(' ')]));
  for (const p of tree) {
    if (
      isRunning(p.pid) &&
      now.get(p.pid) === p.argv.join(' ') &&
      !p.argv.join(' ').includes('watchdog')
    ) {
      process.kill(p.pid, 'SIGKILL');
    }
  }
  await until('nothing of the run to be left', REAPED_WITHIN_MS, async () =>
    (await runLeftovers(runId)).length === 0 ? true : undefined,
  );
  const reapedMs = Date.now() - killedAt;
  // A restore in flight at the kill may complete after the first look: look again.
  await new Promise((resolve) => setTimeout(resolve, 2000));
  expect(await runLeftovers(runId)).toEqual([]);
  return reapedMs;
}

/** What the store holds besides complete entries: staging copies, entries set aside. */
function strays(): string[] {
  return readdirSync(templateDir).filter((n) => n.startsWith('.'));
}

describe.skipIf(!libvirt && !process.env.CI)(
  'a run killed with SIGKILL and the template store',
  () => {
    it('while its template is being made: nothing is left, and the store has no half entry', async () => {
      const { child, runId } = await start('making');
      await until('the template machine to boot', 120_000, async () =>
        (await domains(runId, '--all')).some((d) => d.includes('-template-')) ? true : undefined,
      );
      const reapedMs = await killAndReap(child, runId);
      console.log(`[kill timing] making a template: nothing left ${reapedMs} ms after SIGKILL`);
      expect(await listTemplates(templateDir)).toEqual([]);
      expect(strays()).toEqual([]);
    }, 300_000);

    it('with paused standbys and leased machines: nothing is left, and the template stays usable', async () => {
      // A run that goes through makes the template (and records that this project uses it).
      const gate = join(gates, 'through');
      writeFileSync(gate, '');
      const through = await start('through');
      const exit = await through.child.exited;
      expect(exit.exitCode, through.child.output()).toBe(0);
      expect(await listTemplates(templateDir)).toHaveLength(1);

      const { child, runId } = await start('standbys');
      // Tests hold leased machines while the pool keeps paused standbys for the next ones.
      await until('a paused standby and a held test', 120_000, async () =>
        child.output().includes('store-fixture: holding') &&
        (await domains(runId, '--state-paused')).length > 0
          ? true
          : undefined,
      );
      const reapedMs = await killAndReap(child, runId);
      console.log(
        `[kill timing] paused standbys and leases: nothing left ${reapedMs} ms after SIGKILL`,
      );
      const [entry] = await listTemplates(templateDir);
      expect(entry).toBeDefined();
      expect(strays()).toEqual([]);

      // The entry the killed run used still serves the next one, with no template made.
      writeFileSync(join(gates, 'after'), '');
      const after = await start('after');
      const done = await after.child.exited;
      expect(done.exitCode, after.child.output()).toBe(0);
      expect(after.child.output()).toMatch(/warm templates: 0, restores: 9/);
    }, 600_000);
  },
);
