import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { childEnv, type JsonReport, takeJsonReport } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';

const repo = resolve(import.meta.dirname, '../..');
// The oldest Vitest the peer range `vitest: '>=3.2 <6'` admits; the project itself runs on 4.1.
const OLDEST_VITEST = '3.2.7';

const work = mkdtempSync(join(tmpdir(), 'testbed-vitest-compat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs a command of the setup, failing with its output when it does not succeed. */
async function step(what: string, file: string, args: string[], cwd: string): Promise<string> {
  const result = await execa(file, args, {
    cwd,
    env: childEnv({}),
    extendEnv: false,
    reject: false,
    all: true,
    timeout: 300_000,
  });
  if (result.exitCode !== 0) {
    throw new Error(`${what} failed (exit ${result.exitCode}):\n${result.all}`);
  }
  return result.stdout;
}

/** Packs the built repo as it is published, and installs it with `vitest@version` in a new project. */
async function installProject(version: string): Promise<string> {
  if (!existsSync(join(repo, 'dist/vitest/index.js'))) {
    throw new Error(`${repo}/dist is missing: run \`npm run build\` before this test.`);
  }
  // --ignore-scripts: `prepare` would rebuild dist/ under the tests of this run that use it.
  const packed = await step(
    'npm pack',
    'npm',
    ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
    repo,
  );
  const [{ filename }] = JSON.parse(packed) as [{ filename: string }];
  const project = join(work, 'project');
  mkdirSync(project);
  const manifest = { name: 'vitest-compat', private: true, type: 'module' };
  writeFileSync(join(project, 'package.json'), JSON.stringify(manifest));
  await step(
    `npm install vitest@${version} (the npm registry must be reachable)`,
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--prefer-offline',
      `vitest@${version}`,
      join(work, filename),
    ],
    project,
  );
  return project;
}

/** What a `vitest run` of the installed Vitest did in `root`. */
async function runSuite(project: string, root: string) {
  const reportFile = join(work, 'report', 'report.json');
  const result = await execa(
    join(project, 'node_modules/.bin/vitest'),
    [
      'run',
      '--root',
      root,
      '--reporter=verbose',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
    ],
    {
      cwd: project,
      env: childEnv({}),
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 400_000,
    },
  );
  const output = result.all ?? '';
  const report = takeJsonReport<JsonReport>(reportFile);
  const tests = report?.testResults.flatMap((r) => r.assertionResults) ?? [];
  const runId = /testbed: run ([a-z0-9]{8})/.exec(output)?.[1] ?? '';
  return { exitCode: result.exitCode, output, report, tests, runId };
}

/** Copies a suite of this repo into the project, without its Vite cache. */
function copySuite(from: string, project: string): string {
  const to = join(project, basename(from));
  cpSync(join(repo, from), to, { recursive: true, filter: (f) => !f.includes('node_modules') });
  return to;
}

describe(`Vitest ${OLDEST_VITEST}, the oldest the peer range admits`, () => {
  let project = '';
  beforeAll(async () => {
    project = await installProject(OLDEST_VITEST);
    const installed = JSON.parse(
      readFileSync(join(project, 'node_modules/vitest/package.json'), 'utf8'),
    ) as { version: string };
    expect(installed.version).toBe(OLDEST_VITEST);
  }, 300_000);

  it('runs examples/vitest from the packed package: VM, container, and the unmet GPU skipped with its reason', async () => {
    const run = await runSuite(project, copySuite('examples/vitest', project));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.output).toContain(`v${OLDEST_VITEST}`);
    expect(run.tests.map((t) => [t.title, t.status])).toEqual(
      expect.arrayContaining([
        ['boots and prints its readiness line on the serial console', 'passed'],
        ['listens for SSH on a loopback port', 'passed'],
        ['clones the running VM, and the clone boots too', 'passed'],
        ['runs a command in a throwaway container', 'passed'],
        ['trains a model on a GPU', 'skipped'],
      ]),
    );
    expect(run.report).toMatchObject({ numPassedTests: 4, numFailedTests: 0, numPendingTests: 1 });
    expect(run.output).toMatch(
      /unmet\.test\.ts > trains a model on a GPU\n\s+No available provider offers Custom\(gpu\):\n\s+- libvirt: lacks Custom\(gpu\)\n\s+- docker: lacks Custom\(gpu\)/,
    );
    expect(run.runId, run.output).not.toBe('');
    expect(await runLeftovers(run.runId)).toEqual([]);
  }, 450_000);

  it('gives each testbedTest of a file its own worker-, file- and test-scoped machines', async () => {
    const run = await runSuite(project, copySuite('test/fixtures/vitest-compat', project));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 8, numFailedTests: 0 });
    expect(run.runId, run.output).not.toBe('');
    expect(await runLeftovers(run.runId)).toEqual([]);
  }, 450_000);
});
