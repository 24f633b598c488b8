import type { CAC } from 'cac';
import { loadConfig } from '../core/config.js';
import {
  type PruneTemplatesOptions,
  pruneTemplates,
  type TemplatePruneDecision,
} from '../images/template-store.js';
import { formatDuration } from '../reaper/duration.js';
import type { RunGroup } from '../reaper/group-by-run.js';
import type { BackendListing } from '../reaper/list-all-resources.js';
import { pruneWatchdogLogs } from '../reaper/prune-watchdog-logs.js';
import { type SweepOptions, type SweepReport, sweepDeadRuns } from '../reaper/sweep-dead-runs.js';
import type { CliIo } from './cli-io.js';

/** What the `ls` and `gc` commands need from the world; injected by tests. */
export interface ReaperCommandDeps {
  /** Lists (and for `gc`, removes). */
  sweep: (options: SweepOptions) => Promise<SweepReport>;
  /** Environment holding TESTBED_PROVIDERS and TESTBED_STATE_DIR. */
  env: NodeJS.ProcessEnv;
  /** Removes old watchdog logs under the state dir (`gc` only). */
  pruneLogs: (stateDir: string) => Promise<unknown>;
  /** Prunes the warm templates kept across runs (`gc` only). */
  pruneTemplates: (dir: string, options: PruneTemplatesOptions) => Promise<TemplatePruneDecision[]>;
}

/** The real dependencies. */
export const defaultReaperDeps: ReaperCommandDeps = {
  sweep: sweepDeadRuns,
  env: process.env,
  pruneLogs: pruneWatchdogLogs,
  pruneTemplates,
};

/** One run as `testbed ls --json` prints it. */
function runJson(run: RunGroup) {
  return {
    runId: run.runId,
    owner: run.owner,
    ownerState: run.ownerState,
    kept: run.kept,
    createdAt: run.createdAt ?? null,
    ageMs: run.ageMs ?? null,
    resources: run.resources.map((r) => ({
      providerId: r.providerId,
      kind: r.kind,
      name: r.name,
      kept: r.kept ?? false,
      createdAt: r.createdAt ?? null,
    })),
  };
}

/** Backend problems as lines, or none when every backend was listed. */
export function renderBackendProblems(backends: readonly BackendListing[]): string[] {
  return backends
    .filter((b) => b.status === 'unavailable' || b.status === 'failed')
    .map((b) => `could not check ${b.providerId} (${b.status}): ${b.reason ?? 'no reason given'}`);
}

/** A run's heading line: id, owner and age. */
export function renderRunHeading(run: RunGroup): string {
  const age = run.ageMs === undefined ? 'age unknown' : `age ${formatDuration(run.ageMs)}`;
  return `run ${run.runId}  owner pid ${run.owner.pid} (${run.ownerState})  ${age}${run.kept ? '  kept for inspection' : ''}`;
}

/** A run's resources, one indented line each. */
export function renderResources(run: RunGroup): string[] {
  return run.resources.map((r) => `  ${r.providerId.padEnd(8)} ${r.kind.padEnd(9)} ${r.name}`);
}

/** The text `testbed ls` prints. */
export function renderLsText(report: SweepReport): string {
  const out: string[] = [];
  for (const { run } of report.runs) out.push(renderRunHeading(run), ...renderResources(run));
  const resources = report.runs.reduce((n, d) => n + d.run.resources.length, 0);
  const dead = report.runs.filter((d) => d.run.ownerState === 'dead' && !d.run.kept).length;
  const kept = report.runs.filter((d) => d.run.kept).length;
  if (report.runs.length > 0) out.push('');
  out.push(
    `${report.runs.length} run${report.runs.length === 1 ? '' : 's'}, ${resources} resource${resources === 1 ? '' : 's'}` +
      (dead > 0 ? `; ${dead} with a dead owner: \`testbed gc\` removes them.` : '.') +
      (kept > 0 ? ` ${kept} kept for inspection: \`testbed gc --kept\` removes them.` : ''),
  );
  const listed = report.backends.filter((b) => b.status === 'listed').map((b) => b.providerId);
  out.push(`Checked: ${listed.join(', ') || '(no backend)'}`);
  return `${out.join('\n')}\n`;
}

/** The JSON `testbed ls --json` prints. */
export function renderLsJson(report: SweepReport): string {
  const body = {
    runs: report.runs.map((d) => runJson(d.run)),
    backends: report.backends.map(({ providerId, status, reason }) => ({
      providerId,
      status,
      reason: reason ?? null,
    })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Tells the user which backends could not be checked and how to narrow the check; returns the exit code. */
export function reportBackendProblems(command: string, report: SweepReport, io: CliIo): number {
  const problems = renderBackendProblems(report.backends);
  for (const line of problems) io.stderr(`testbed ${command}: ${line}\n`);
  if (problems.length > 0) {
    io.stderr(
      `testbed ${command}: the list is incomplete. Start the backend, or set TESTBED_PROVIDERS to the backends you use.\n`,
    );
  }
  return problems.length > 0 ? 1 : 0;
}

/** Adds `testbed ls [--json]`: testbed resources on every backend, grouped by run. */
export function registerLsCommand(
  cli: CAC,
  io: CliIo,
  run: (work: () => Promise<number>) => void,
  deps: ReaperCommandDeps = defaultReaperDeps,
): void {
  cli
    .command('ls', 'List testbed resources on every backend, grouped by run, with owner and age')
    .option('--json', 'Print the runs as JSON')
    .example('testbed ls')
    .example('TESTBED_PROVIDERS=docker testbed ls --json')
    .action((options: { json?: boolean }) => {
      run(async () => {
        const providerIds = loadConfig(deps.env).providers;
        const report = await deps.sweep({ dryRun: true, providerIds });
        io.stdout(options.json ? renderLsJson(report) : renderLsText(report));
        return reportBackendProblems('ls', report, io);
      });
    });
}
