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

let packing: Promise<string> | undefined;

/** The built repo packed as it is published, once per file. */
function packed(): Promise<string> {
  packing ??= (async () => {
    if (!existsSync(join(repo, 'dist/vitest/index.js'))) {
      throw new Error(`${repo}/dist is missing: run \`npm run build\` before this test.`);
    }
    // --ignore-scripts: `prepare` would rebuild dist/ under the tests of this run that use it.
    const json = await step(
      'npm pack',
      'npm',
      ['pack', '--ignore-scripts', '--json', '--pack-destination', work],
      repo,
    );
    const [{ filename }] = JSON.parse(json) as [{ filename: string }];
    return join(work, filename);
  })();
  return packing;
}

/** A new project named `name` with the packed testbed and `vitest@version` installed. */
async function installProject(
  name: string,
  version: string,
  type: 'module' | 'commonjs',
): Promise<string> {
  const tarball = await packed();
  const project = join(work, name);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name, private: true, type }));
  await step(
    `npm install vitest@${version} (the npm registry must be reachable)`,
    'npm',
    ['install', '--no-audit', '--no-fund', '--prefer-offline', `vitest@${version}`, tarball],
    project,
  );
  const installed = JSON.parse(
    readFileSync(join(project, 'node_modules/vitest/package.json'), 'utf8'),
  ) as { version: string };
  expect(installed.version).toBe(version);
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

/** Points a copied suite's config at the config-only entry, as the README says for Vitest 3.2. */
function usePluginEntry(suite: string): void {
  const config = join(suite, 'vitest.config.ts');
  const text = readFileSync(config, 'utf8');
  if (!text.includes("from 'testbed/vitest'")) throw new Error(`${config} imports no testbed`);
  writeFileSync(config, text.replace("from 'testbed/vitest'", "from 'testbed/vitest/plugin'"));
}

describe(`Vitest ${OLDEST_VITEST}, the oldest the peer range admits`, () => {
  let project = '';
  beforeAll(async () => {
    project = await installProject('esm-oldest', OLDEST_VITEST, 'module');
  }, 300_000);

  it('runs examples/vitest from the packed package: VM, container, and the unmet GPU skipped with its reason', async () => {
    const suite = copySuite('examples/vitest', project);
    usePluginEntry(suite);
    const run = await runSuite(project, suite);
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

describe('the config in a CommonJS package, on the Vitest this repo uses', () => {
  it('loads testbed/vitest from a config Vite bundles to CommonJS, and runs a machine', async () => {
    // Without "type": "module", Vite bundles vitest.config.ts to CommonJS and require()s
    // testbed/vitest, which works only while that module graph has no top-level await.
    const ours = JSON.parse(
      readFileSync(join(repo, 'node_modules/vitest/package.json'), 'utf8'),
    ) as { version: string };
    const project = await installProject('cjs', ours.version, 'commonjs');
    const run = await runSuite(project, copySuite('test/fixtures/vitest-cjs', project));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 1, numFailedTests: 0 });
    expect(run.runId, run.output).not.toBe('');
    expect(await runLeftovers(run.runId)).toEqual([]);
  }, 450_000);
});
