import type { CAC } from 'cac';
import { loadConfig } from '../core/config.js';
import type { TemplatePruneDecision } from '../images/template-store.js';
import { parseDuration } from '../reaper/duration.js';
import type { SweepReport } from '../reaper/sweep-dead-runs.js';
import type { CliIo } from './cli-io.js';
import {
  defaultReaperDeps,
  type ReaperCommandDeps,
  renderResources,
  renderRunHeading,
  reportBackendProblems,
} from './ls-command.js';

/** The text for the warm templates `testbed gc` removed (or would remove); kept ones are not listed. */
export function renderTemplatePrune(
  decisions: readonly TemplatePruneDecision[],
  dryRun: boolean,
): string {
  const removed = decisions.filter((d) => d.remove);
  if (removed.length === 0) return '';
  const verb = dryRun ? 'would remove' : 'remove';
  const mib = (bytes: number) => `${Math.ceil(bytes / 1024 ** 2)} MiB`;
  const lines = removed.map(
    (d) =>
      `${verb.padEnd(12)} template ${d.entry.label} (${d.entry.key.slice(0, 16)}, ${mib(d.entry.bytes)}): ${d.reason}`,
  );
  return `${lines.join('\n')}\n`;
}

/** The text `testbed gc` prints: each run's decision, then what was (or would be) removed. */
export function renderGcText(report: SweepReport): string {
  const out: string[] = [];
  for (const decision of report.runs) {
    const verb = decision.remove ? (report.dryRun ? 'would remove' : 'remove') : 'keep';
    out.push(`${verb.padEnd(12)} ${renderRunHeading(decision.run)}: ${decision.reason}`);
    if (decision.remove) out.push(...renderResources(decision.run));
  }
  const chosen = report.runs.filter((d) => d.remove);
  const count = chosen.reduce((n, d) => n + d.run.resources.length, 0);
  if (out.length > 0) out.push('');
  if (report.dryRun) {
    out.push(
      chosen.length === 0
        ? 'Dry run: nothing to remove.'
        : `Dry run: would remove ${count} resource(s) of ${chosen.length} run(s); nothing was removed.`,
    );
  } else {
    const removed = report.removals.reduce((n, r) => n + r.removed.length, 0);
    out.push(`Removed ${removed} resource(s) of ${chosen.length} run(s).`);
  }
  return `${out.join('\n')}\n`;
}

/** The JSON `testbed gc --json` prints. */
export function renderGcJson(
  report: SweepReport,
  templates: readonly TemplatePruneDecision[] = [],
): string {
  const body = {
    dryRun: report.dryRun,
    complete: report.complete,
    runs: report.runs.map((d) => ({
      runId: d.run.runId,
      owner: d.run.owner,
      ownerState: d.run.ownerState,
      ageMs: d.run.ageMs ?? null,
      remove: d.remove,
      reason: d.reason,
      resources: d.run.resources.map(({ providerId, kind, name }) => ({ providerId, kind, name })),
    })),
    removals: report.removals.map((r) => ({
      runId: r.runId,
      providerId: r.providerId,
      removed: r.removed.map(({ kind, name }) => ({ kind, name })),
      failed: r.failed.map((f) => ({
        resource: f.resource ? { kind: f.resource.kind, name: f.resource.name } : null,
        error: f.error,
      })),
    })),
    backends: report.backends.map(({ providerId, status, reason }) => ({
      providerId,
      status,
      reason: reason ?? null,
    })),
    templates: templates.map(({ entry, remove, reason }) => ({
      key: entry.key,
      label: entry.label,
      bytes: entry.bytes,
      lastUsedAt: entry.lastUsedAt,
      remove,
      reason,
    })),
  };
  return `${JSON.stringify(body, null, 2)}\n`;
}

/** Adds `testbed gc [--dry-run] [--older-than <duration>] [--json]`. */
export function registerGcCommand(
  cli: CAC,
  io: CliIo,
  run: (work: () => Promise<number>) => void,
  deps: ReaperCommandDeps = defaultReaperDeps,
): void {
  cli
    .command(
      'gc',
      'Remove testbed resources of runs whose owner process is gone (with --older-than, also of old live runs)',
    )
    .option('--dry-run', 'Show what would be removed; remove nothing')
    .option(
      '--older-than <duration>',
      'Also remove runs whose owner is still alive when older than this (e.g. 1h, 30m, 2d)',
    )
    .option('--kept', 'Also remove runs whose artifacts were kept for inspection (keepOnFailure)')
    .option(
      '--templates',
      'Also remove every warm template not used in the last 10 minutes (by default only those past TESTBED_TEMPLATE_MAX_AGE_DAYS, then the least recently used beyond TESTBED_TEMPLATE_MAX_MIB)',
    )
    .option('--json', 'Print the decisions and removals as JSON')
    .example('testbed gc --dry-run')
    .example('testbed gc --kept')
    .example('testbed gc --older-than 1h')
    .example('testbed gc --templates')
    .action(
      (options: {
        dryRun?: boolean;
        olderThan?: unknown;
        kept?: boolean;
        templates?: boolean;
        json?: boolean;
      }) => {
        run(async () => {
          const olderThanMs =
            options.olderThan === undefined ? undefined : parseDuration(String(options.olderThan));
          const config = loadConfig(deps.env);
          const report = await deps.sweep({
            dryRun: options.dryRun ?? false,
            olderThanMs,
            includeKept: options.kept ?? false,
            providerIds: config.providers,
          });
          if (!report.dryRun) await deps.pruneLogs(config.stateDir);
          const templates = await deps.pruneTemplates(config.templateDir, {
            maxAgeMs: config.templateMaxAgeDays * 86_400_000,
            maxBytes: config.templateMaxMiB * 1024 ** 2,
            all: options.templates ?? false,
            dryRun: report.dryRun,
          });
          io.stdout(
            options.json
              ? renderGcJson(report, templates)
              : renderGcText(report) + renderTemplatePrune(templates, report.dryRun),
          );
          const unlisted = reportBackendProblems('gc', report, io);
          const left = report.removals.flatMap((r) =>
            r.failed.map(
              (f) =>
                `${r.providerId} ${f.resource ? `${f.resource.kind} ${f.resource.name}` : `run ${r.runId}`}: ${f.error}`,
            ),
          );
          for (const line of left) io.stderr(`testbed gc: not removed: ${line}\n`);
          return unlisted || (left.length > 0 ? 1 : 0);
        });
      },
    );
}
