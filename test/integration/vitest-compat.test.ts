import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JestReport } from '../fixtures/run-jest.js';
import { type JsonReport, takeJsonReport } from '../fixtures/run-vitest.js';
import {
  copyFromRepo,
  installedVersion,
  installProject,
  machineNode,
  type NodeRuntime,
  type PackedTarball,
  packTestbed,
  registryNode,
  runtimeEnv,
  step,
} from './support/compat-project.js';
import { runLeftovers } from './support/run-leftovers.js';

// The compat matrix: each row installs the packed package into fresh projects under one Node
// (the machine's, or one from the npm registry's `node` package) and runs a test runner there.
// The oldest Vitest the peer range `vitest: '>=3.2 <6'` admits; the project itself runs on 4.1.
const OLDEST_VITEST = '3.2.7';
const VITEST_4 = '4.1.12';
const VITEST_5 = '5.1.2';
const JEST_30 = '30';

const work = mkdtempSync(join(tmpdir(), 'testbed-vitest-compat-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let packing: Promise<PackedTarball> | undefined;
/** The built repo packed as it is published, once per file. */
const packed = () => {
  packing ??= packTestbed(work);
  return packing;
};

/**
 * The npm installs of this file (Node binaries and projects) start together in the file's
 * `beforeAll`, two at a time in the order the rows below need them, so that later rows install
 * while earlier rows run their suites; each row awaits only its own project.
 */
const npmQueue: (() => void)[] = [];
let npmRunning = 0;
async function inNpmSlot<T>(task: () => Promise<T>): Promise<T> {
  if (npmRunning >= 2) await new Promise<void>((resolve) => npmQueue.push(resolve));
  npmRunning += 1;
  try {
    return await task();
  } finally {
    npmRunning -= 1;
    npmQueue.shift()?.();
  }
}

const nodes = new Map<number, Promise<NodeRuntime>>();
/** Node `major` from the npm registry, installed once for every row of that major. */
function node(major: number): Promise<NodeRuntime> {
  let runtime = nodes.get(major);
  if (!runtime) {
    runtime = inNpmSlot(async () => {
      const started = Date.now();
      const installed = await registryNode(join(work, `node-${major}`), major);
      console.log(
        `installed node@${major} (${installed.version}) in ${Math.round((Date.now() - started) / 1000)} s`,
      );
      return installed;
    });
    // Awaited by its rows, which report a failure; not an unhandled rejection before that.
    runtime.catch(() => undefined);
    nodes.set(major, runtime);
  }
  return runtime;
}

/** The Vitest this repo uses. */
const OURS = installedVersion(join(import.meta.dirname, '../..'), 'vitest');

interface ProjectRow {
  runtime: () => Promise<NodeRuntime>;
  /** Installed beside the packed testbed. */
  packages: string[];
  type?: 'module' | 'commonjs';
}

/** The projects of the rows below, in the order the rows use them. */
const PROJECTS = {
  'esm-oldest': { runtime: async () => machineNode, packages: [`vitest@${OLDEST_VITEST}`] },
  cjs: { runtime: async () => machineNode, packages: [`vitest@${OURS}`], type: 'commonjs' },
  // TypeScript and Node's types for that row's type checks share this install.
  'node24-vitest5': {
    runtime: () => node(24),
    packages: [`vitest@${VITEST_5}`, 'typescript@~5.9', '@types/node@24'],
  },
  'node22-vitest4': { runtime: () => node(22), packages: [`vitest@${VITEST_4}`] },
  'node22-jest30': { runtime: () => node(22), packages: [`jest@${JEST_30}`] },
} satisfies Record<string, ProjectRow>;
type ProjectName = keyof typeof PROJECTS;

const projects = new Map<ProjectName, Promise<string>>();
/** The project `name` of PROJECTS, a fresh directory with its packages installed, once. */
function projectOf(name: ProjectName): Promise<string> {
  let dir = projects.get(name);
  if (!dir) {
    const row: ProjectRow = PROJECTS[name];
    dir = Promise.all([packed(), row.runtime()]).then(([{ path }, runtime]) =>
      inNpmSlot(async () => {
        const started = Date.now();
        const installed = await installProject({
          dir: join(work, name),
          type: row.type ?? 'module',
          runtime,
          packages: [...row.packages, path],
        });
        console.log(
          `installed ${name} (Node ${runtime.version}) in ${Math.round((Date.now() - started) / 1000)} s`,
        );
        return installed;
      }),
    );
    dir.catch(() => undefined);
    projects.set(name, dir);
  }
  return dir;
}

beforeAll(() => {
  for (const name of Object.keys(PROJECTS) as ProjectName[]) void projectOf(name);
});

/** The run id a run printed, and what the host still holds of it (nothing, after a clean run). */
async function leftoversOf(output: string): Promise<string[]> {
  const runId = /testbed: run ([a-z0-9]{8})/.exec(output)?.[1];
  expect(runId, output).toBeDefined();
  return runLeftovers(runId ?? '');
}

/** What a `vitest run` of the project's Vitest did in `root`, under `runtime`. */
async function runSuite(project: string, root: string, runtime: NodeRuntime = machineNode) {
  const reportFile = join(mkdtempSync(join(work, 'report-')), 'report.json');
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
      env: runtimeEnv(runtime),
      extendEnv: false,
      reject: false,
      all: true,
      timeout: 400_000,
    },
  );
  const output = result.all ?? '';
  const report = takeJsonReport<JsonReport>(reportFile);
  const tests = report?.testResults.flatMap((r) => r.assertionResults) ?? [];
  return { exitCode: result.exitCode, output, report, tests };
}

/** Points a copied suite's config at the config-only entry, as the README says for Vitest 3.2. */
function usePluginEntry(suite: string): void {
  const config = join(suite, 'vitest.config.ts');
  const text = readFileSync(config, 'utf8');
  if (!text.includes("from 'testbed/vitest'")) throw new Error(`${config} imports no testbed`);
  writeFileSync(config, text.replace("from 'testbed/vitest'", "from 'testbed/vitest/plugin'"));
}

interface ProbedProject {
  name: string;
  testTimeout: number;
  hookTimeout: number;
  registryLoaded: number;
}

/** How the project's Vitest resolves test/fixtures/compat-probe's projects (no test runs). */
async function probeProjects(project: string, runtime: NodeRuntime, mode: 'config' | 'overrides') {
  const probe = join(project, 'compat-probe');
  copyFromRepo('test/fixtures/compat-probe', project);
  const out = await step(`the ${mode} probe`, runtime, 'node', ['inspect.mjs', mode], probe);
  const line = /^projects: (.*)$/m.exec(out)?.[1];
  if (!line) throw new Error(`the probe printed no projects:\n${out}`);
  return JSON.parse(line) as { root: ProbedProject; projects: ProbedProject[] };
}

/** Inline projects get the plugin's defaults where the user set none, and keep their own. */
function expectDefaultsReachProjects(probed: { projects: ProbedProject[] }): void {
  expect(probed.projects).toEqual([
    // hookTimeout 30 s is the root config's own, inherited; the registry loads in every worker.
    { name: 'inherits', testTimeout: 180_000, hookTimeout: 30_000, registryLoaded: 1 },
    { name: 'own', testTimeout: 60_000, hookTimeout: 30_000, registryLoaded: 1 },
  ]);
}

/**
 * test/fixtures/compat-projects run by `vitest@version`: two inline projects without a timeout
 * of the root (a VM test that needs the plugin's 180 s default, and a container project keeping
 * its own 60 s), the unmet GPU need skipped with its reason, and a failing VM test whose JSON
 * report carries the machine's console tail.
 */
async function expectProjectsSuite(project: string, runtime: NodeRuntime, version: string) {
  const run = await runSuite(
    project,
    copyFromRepo('test/fixtures/compat-projects', project),
    runtime,
  );
  expect(run.output).toContain(`v${version}`);
  expect(run.exitCode, run.output).toBe(1);
  expect(run.tests.map((t) => [t.title, t.status]).sort(), run.output).toEqual([
    ['boots a VM whose console shows the readiness line', 'passed'],
    ['fails on purpose after booting', 'failed'],
    ['runs uname in a throwaway container', 'passed'],
    ['trains a model on a GPU', 'skipped'],
  ]);
  expect(run.output).toMatch(
    /unmet\.test\.ts > trains a model on a GPU\n\s+No available provider offers Custom\(gpu\):\n\s+- libvirt: lacks Custom\(gpu\)\n\s+- docker: lacks Custom\(gpu\)/,
  );
  const failed = run.tests.find((t) => t.status === 'failed');
  expect(failed?.failureMessages.join('\n')).toContain("expected 'the service' to be 'up'");
  const [diagnostics] = (failed?.meta?.testbed ?? []) as Record<string, unknown>[];
  expect(diagnostics, JSON.stringify(failed)).toMatchObject({ provider: 'libvirt', kept: false });
  expect(diagnostics?.consoleTail).toMatch(/testbed-ready \S+/);
  expect(run.output).toContain('testbed: machines of failed tests');
  expect(await leftoversOf(run.output)).toEqual([]);
}

/** `tsc --noEmit` of test/fixtures/compat-types in `project` under each module resolution. */
async function expectTypesResolve(project: string, runtime: NodeRuntime) {
  const dir = copyFromRepo('test/fixtures/compat-types', project);
  const tsc = join(project, 'node_modules/.bin/tsc');
  const modes = [
    ['--module', 'esnext', '--moduleResolution', 'bundler'],
    ['--module', 'node16', '--moduleResolution', 'node16'],
    ['--module', 'nodenext', '--moduleResolution', 'nodenext'],
  ];
  // The four checks at once (noEmit: none writes anything), as each takes one core.
  await Promise.all([
    ...modes.map((mode) =>
      step(`tsc ${mode.join(' ')}`, runtime, tsc, ['-p', 'tsconfig.json', ...mode], dir),
    ),
    // A CommonJS consumer: nodenext only (node16 models a Node that cannot require() ESM).
    step('tsc of the CommonJS consumer', runtime, tsc, ['-p', 'tsconfig.cjs.json'], dir),
  ]);
}

describe('the packed package', () => {
  it('holds the build, the image recipes and the host setup script: no tests, sources or maps', async () => {
    const { files, size, unpackedSize } = await packed();
    console.log(`packed: ${size} B, ${unpackedSize} B unpacked, ${files.length} files`);
    const outside = files.filter(
      (f) =>
        !/^dist\/.+\.(js|mjs|d\.ts|d\.mts)$/.test(f) &&
        !f.startsWith('fixtures/images/') &&
        !['bin/testbed.js', 'scripts/setup-host.sh', 'README.md', 'package.json'].includes(f),
    );
    expect(outside).toEqual([]);
    // fixtures/ holds the recipes of testbed's default images, not fixtures of this repo's tests.
    const recipes = new Set(
      files.filter((f) => f.startsWith('fixtures/')).map((f) => f.split('/')[2]),
    );
    expect(recipes).toEqual(new Set(['debian-12', 'tiny-container', 'tiny-vm']));
  }, 120_000);
});

describe(`Node 20 (this machine) + Vitest ${OLDEST_VITEST}, the oldest the peer range admits`, () => {
  let project = '';
  beforeAll(async () => {
    project = await projectOf('esm-oldest');
    expect(installedVersion(project, 'vitest')).toBe(OLDEST_VITEST);
    // npm on Node 20 passes over testcontainers 12 (engines: node >= 22.22).
    expect(installedVersion(project, 'testcontainers')).toMatch(/^11\./);
  }, 300_000);

  it('runs examples/vitest from the packed package: VM, container, and the unmet GPU skipped with its reason', async () => {
    // The suite's web service lives beside it, as in the repository.
    copyFromRepo('examples/web-service', project);
    const suite = copyFromRepo('examples/vitest', project);
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
        ['serves a web service deployed into a VM', 'passed'],
        ['serves a web service deployed into a container', 'passed'],
        ['replicates records across a link cut and a crash of the primary', 'passed'],
        ['trains a model on a GPU', 'skipped'],
      ]),
    );
    expect(run.report).toMatchObject({ numPassedTests: 7, numFailedTests: 0, numPendingTests: 1 });
    expect(run.output).toMatch(
      /unmet\.test\.ts > trains a model on a GPU\n\s+No available provider offers Custom\(gpu\):\n\s+- libvirt: lacks Custom\(gpu\)\n\s+- docker: lacks Custom\(gpu\)/,
    );
    expect(await leftoversOf(run.output)).toEqual([]);
  }, 450_000);

  it('gives each testbedTest of a file its own worker-, file- and test-scoped machines', async () => {
    const run = await runSuite(project, copyFromRepo('test/fixtures/vitest-compat', project));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 8, numFailedTests: 0 });
    expect(await leftoversOf(run.output)).toEqual([]);
  }, 450_000);

  it("gives inline projects the plugin's timeouts and registry where they set none", async () => {
    expectDefaultsReachProjects(await probeProjects(project, machineNode, 'config'));
  }, 60_000);
});

describe('Node 20 (this machine): the config in a CommonJS package, on the Vitest this repo uses', () => {
  it('loads testbed/vitest from a config Vite bundles to CommonJS, and runs a machine', async () => {
    // Without "type": "module", Vite bundles vitest.config.ts to CommonJS and require()s
    // testbed/vitest, which works only while that module graph has no top-level await.
    const cjs = await projectOf('cjs');
    expect(installedVersion(cjs, 'vitest')).toBe(OURS);
    const run = await runSuite(cjs, copyFromRepo('test/fixtures/vitest-cjs', cjs));
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 1, numFailedTests: 0 });
    expect(await leftoversOf(run.output)).toEqual([]);
  }, 450_000);
});

describe(`Node 24 + Vitest ${VITEST_5} + testcontainers 12`, () => {
  let runtime: NodeRuntime;
  let esm = '';
  beforeAll(async () => {
    runtime = await node(24);
    // TypeScript and Node's types for the type checks below share this install.
    esm = await projectOf('node24-vitest5');
    expect(installedVersion(esm, 'vitest')).toBe(VITEST_5);
    expect(installedVersion(esm, 'testcontainers')).toMatch(/^12\./);
  }, 300_000);

  it("gives inline projects the plugin's timeouts and registry where they set none", async () => {
    expectDefaultsReachProjects(await probeProjects(esm, runtime, 'config'));
    // The plugin in Vitest's programmatic overrides: projects resolved without its config hook.
    expectDefaultsReachProjects(await probeProjects(esm, runtime, 'overrides'));
  }, 60_000);

  it('runs two inline projects in an ESM project: a VM, a container, an unmet need, a failing VM test', async () => {
    await expectProjectsSuite(esm, runtime, VITEST_5);
  }, 450_000);

  it('loads testbed/vitest from the config of a CommonJS package, and runs a container', async () => {
    // A CommonJS package inside the ESM one (a workspace member): Vite bundles its config to
    // CommonJS; the packages resolve from the parent's node_modules.
    const cjs = join(esm, 'cjs-package');
    mkdirSync(cjs);
    writeFileSync(join(cjs, 'package.json'), JSON.stringify({ name: 'cjs', type: 'commonjs' }));
    const run = await runSuite(esm, copyFromRepo('test/fixtures/vitest-cjs', cjs), runtime);
    expect(run.output).toContain(`v${VITEST_5}`);
    expect(run.exitCode, run.output).toBe(0);
    expect(run.report).toMatchObject({ numPassedTests: 1, numFailedTests: 0 });
    expect(await leftoversOf(run.output)).toEqual([]);
  }, 450_000);

  it('type-checks an ESM consumer of every entry under bundler, node16 and nodenext, and a CommonJS one under nodenext', async () => {
    await expectTypesResolve(esm, runtime);
  }, 180_000);
});

describe(`Node 22 + Vitest ${VITEST_4}`, () => {
  let runtime: NodeRuntime;
  let esm = '';
  beforeAll(async () => {
    runtime = await node(22);
    esm = await projectOf('node22-vitest4');
    expect(installedVersion(esm, 'vitest')).toBe(VITEST_4);
  }, 300_000);

  it("gives inline projects the plugin's timeouts and registry where they set none", async () => {
    expectDefaultsReachProjects(await probeProjects(esm, runtime, 'config'));
  }, 60_000);

  it('runs two inline projects: a VM, a container, an unmet need, a failing VM test', async () => {
    await expectProjectsSuite(esm, runtime, VITEST_4);
  }, 450_000);
});

describe(`Node 22 + Jest ${JEST_30}`, () => {
  it('runs a container test through testbed/jest/environment', async () => {
    const runtime = await node(22);
    const jest = await projectOf('node22-jest30');
    expect(installedVersion(jest, 'jest')).toMatch(/^30\./);
    const suite = copyFromRepo('test/fixtures/compat-jest', jest);
    const reportFile = join(mkdtempSync(join(work, 'report-')), 'report.json');
    const result = await execa(
      join(jest, 'node_modules/.bin/jest'),
      ['--rootDir', suite, '--config', 'jest.config.mjs', '--json', `--outputFile=${reportFile}`],
      {
        cwd: suite,
        env: runtimeEnv(runtime, { NODE_OPTIONS: '--experimental-vm-modules --no-warnings' }),
        extendEnv: false,
        reject: false,
        all: true,
        timeout: 300_000,
      },
    );
    const output = result.all ?? '';
    expect(result.exitCode, output).toBe(0);
    const report = takeJsonReport<JestReport>(reportFile);
    expect(report, output).toMatchObject({ numPassedTests: 1, numFailedTests: 0 });
    expect(await leftoversOf(output)).toEqual([]);
  }, 450_000);
});
