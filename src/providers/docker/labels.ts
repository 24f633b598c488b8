import type { RunContext, RunOwner } from '../../core/run-context.js';

/** Docker label keys testbed stamps on every container, network and clone image it creates. */
export const LABELS = {
  run: 'testbed.run',
  ownerPid: 'testbed.owner.pid',
  ownerStart: 'testbed.owner.start',
  ownerHost: 'testbed.owner.host',
  created: 'testbed.created',
  machine: 'testbed.machine',
} as const;

/** The run stamp read back from a resource's labels. */
export interface RunStamp {
  /** Run that created the resource. */
  runId: string;
  /** Process that owns the run. */
  owner: RunOwner;
  /** Creation time, ms since the epoch, when the label is readable. */
  createdAt?: number | undefined;
}

/** Labels that tie a resource to its run and owner process (the reaper relies on them). */
export function runLabels(
  run: RunContext,
  extra: Record<string, string> = {},
  now: number = Date.now(),
): Record<string, string> {
  return {
    ...extra,
    [LABELS.run]: run.runId,
    [LABELS.ownerPid]: String(run.owner.pid),
    [LABELS.ownerStart]: String(run.owner.startTime),
    ...(run.owner.host ? { [LABELS.ownerHost]: run.owner.host } : {}),
    [LABELS.created]: String(now),
  };
}

/** Reads the run stamp from labels; undefined when the resource is not testbed's or the stamp is damaged. */
export function readRunStamp(
  labels: Record<string, string> | null | undefined,
): RunStamp | undefined {
  const runId = labels?.[LABELS.run];
  const pid = Number(labels?.[LABELS.ownerPid]);
  const startTime = Number(labels?.[LABELS.ownerStart] ?? 0);
  if (!runId || !Number.isInteger(pid) || pid <= 0 || !Number.isFinite(startTime)) return undefined;
  const created = Number(labels?.[LABELS.created]);
  // Stamps from before hosts were recorded carry none: the reaper then probes the pid here.
  const host = labels?.[LABELS.ownerHost] || undefined;
  return {
    runId,
    owner: host ? { pid, startTime, host } : { pid, startTime },
    createdAt: Number.isFinite(created) && created > 0 ? created : undefined,
  };
}

/** The Docker label filter selecting one run's resources (or every testbed resource). */
export function runFilter(runId?: string): { label: string[] } {
  return { label: [runId ? `${LABELS.run}=${runId}` : LABELS.run] };
}
