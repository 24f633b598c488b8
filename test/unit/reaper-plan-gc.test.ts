import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { OwnedResource } from '../../src/core/provider.js';
import { currentHost, type RunOwner } from '../../src/core/run-context.js';
import { groupByRun } from '../../src/reaper/group-by-run.js';
import { type OwnerState, ownerState } from '../../src/reaper/owner-state.js';
import { planGc } from '../../src/reaper/plan-gc.js';

const NOW = 1_000_000_000;
const HOUR = 3_600_000;
const LIVE: RunOwner = { pid: 100, startTime: 5 };
const DEAD: RunOwner = { pid: 200, startTime: 6 };
const BROKEN: RunOwner = { pid: 0, startTime: 0 };
const stateOf = (owner: RunOwner): OwnerState =>
  owner.pid === LIVE.pid ? 'alive' : owner.pid === DEAD.pid ? 'dead' : 'unknown';

function resource(
  runId: string,
  owner: RunOwner,
  ageMs: number | undefined,
  extra: Partial<OwnedResource> = {},
): OwnedResource {
  return {
    providerId: 'libvirt',
    kind: 'domain',
    name: `testbed-${runId}-${Math.random().toString(36).slice(2, 6)}`,
    runId,
    owner,
    createdAt: ageMs === undefined ? undefined : NOW - ageMs,
    ...extra,
  };
}

describe('groupByRun', () => {
  it('groups resources of several backends by run, oldest run first, unknown ages last', () => {
    const groups = groupByRun(
      [
        resource('young', LIVE, 1000),
        resource('old', DEAD, 2 * HOUR),
        resource('young', LIVE, 5000, { providerId: 'docker', kind: 'container' }),
        resource('nodate', LIVE, undefined),
      ],
      stateOf,
      NOW,
    );
    expect(groups.map((g) => g.runId)).toEqual(['old', 'young', 'nodate']);
    const young = groups[1];
    expect(young?.resources).toHaveLength(2);
    expect(young?.providerIds).toEqual(['docker', 'libvirt']);
    expect(young?.ageMs).toBe(5000);
    expect(young?.ownerState).toBe('alive');
    expect(groups[0]?.ownerState).toBe('dead');
    expect(groups[2]?.ageMs).toBeUndefined();
  });

  it('keeps a run alive when any of its stamps names a live owner', () => {
    const [group] = groupByRun(
      [resource('mixed', DEAD, 10), resource('mixed', LIVE, 10), resource('mixed', BROKEN, 10)],
      stateOf,
      NOW,
    );
    expect(group?.ownerState).toBe('alive');
    const [unknown] = groupByRun(
      [resource('u', DEAD, 10), resource('u', BROKEN, 10)],
      stateOf,
      NOW,
    );
    expect(unknown?.ownerState).toBe('unknown');
  });

  it('asks about each owner with the owner alone (no index as a second argument)', () => {
    const seen: unknown[][] = [];
    groupByRun([resource('a', DEAD, 1), resource('a', LIVE, 1)], (...args) => {
      seen.push(args);
      return 'dead';
    });
    expect(seen).toEqual([[DEAD], [LIVE]]);
  });

  it('returns nothing for no resources', () => {
    expect(groupByRun([], stateOf, NOW)).toEqual([]);
  });
});

describe('planGc', () => {
  const groups = groupByRun(
    [
      resource('dead-new', DEAD, 1000),
      resource('dead-nodate', DEAD, undefined),
      resource('live-new', LIVE, 1000),
      resource('live-old', LIVE, 3 * HOUR),
      resource('live-nodate', LIVE, undefined),
      resource('broken-old', BROKEN, 3 * HOUR),
      resource('broken-new', BROKEN, 1000),
    ],
    stateOf,
    NOW,
  );
  const removed = (decisions: ReturnType<typeof planGc>) =>
    decisions
      .filter((d) => d.remove)
      .map((d) => d.run.runId)
      .sort();

  it('by default removes exactly the runs whose owner is dead, whatever their age', () => {
    const decisions = planGc(groups);
    expect(removed(decisions)).toEqual(['dead-new', 'dead-nodate']);
    const live = decisions.find((d) => d.run.runId === 'live-old');
    expect(live?.reason).toBe('owner pid 100 is alive');
    expect(decisions.find((d) => d.run.runId === 'dead-new')?.reason).toBe('owner pid 200 is gone');
  });

  it('with olderThanMs also removes old runs of live or unknown owners, never one of unknown age', () => {
    const decisions = planGc(groups, { olderThanMs: HOUR });
    expect(removed(decisions)).toEqual(['broken-old', 'dead-new', 'dead-nodate', 'live-old']);
    expect(decisions.find((d) => d.run.runId === 'live-old')?.reason).toBe(
      'older than 1h00m (3h00m; owner pid 100 is alive)',
    );
  });

  it('never removes a protected run, even a dead or old one', () => {
    const decisions = planGc(groups, {
      olderThanMs: 0,
      protectedRunIds: ['dead-new', 'live-old'],
    });
    expect(removed(decisions)).not.toContain('dead-new');
    expect(removed(decisions)).not.toContain('live-old');
    expect(decisions.find((d) => d.run.runId === 'dead-new')?.reason).toBe('the current run');
  });

  it('never removes a run owned on another host as dead, only as old', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    child.kill('SIGKILL');
    await once(child, 'exit');
    const gone = { pid: child.pid as number, startTime: 0 };
    const real = groupByRun(
      [
        resource('foreign-old', { ...gone, host: 'another-boot/pid:[1]' }, 3 * HOUR),
        resource('here-dead', { ...gone, host: currentHost() }, 1000),
        resource('hostless-dead', gone, 1000),
      ],
      (owner) => ownerState(owner),
      NOW,
    );
    const decisions = planGc(real);
    expect(removed(decisions)).toEqual(['here-dead', 'hostless-dead']);
    expect(decisions.find((d) => d.run.runId === 'foreign-old')?.reason).toBe('owner unknown');
    expect(removed(planGc(real, { olderThanMs: HOUR }))).toContain('foreign-old');
  });
});

describe('planGc and artifacts kept for inspection', () => {
  const keptRun = () =>
    groupByRun(
      [
        resource('kept', DEAD, 2 * HOUR, { kind: 'directory', kept: true }),
        resource('plain', DEAD, 2 * HOUR, { kind: 'directory' }),
      ],
      stateOf,
      NOW,
    );

  it('keeps a dead run whose artifacts were kept, and removes it with --kept or --older-than', () => {
    const byId = (policy: Parameters<typeof planGc>[1]) =>
      Object.fromEntries(planGc(keptRun(), policy).map((d) => [d.run.runId, d]));
    const plain = byId({});
    expect(plain.kept?.remove).toBe(false);
    expect(plain.kept?.reason).toContain('testbed gc --kept');
    expect(plain.kept?.run.kept).toBe(true);
    expect(plain.plain?.remove).toBe(true);
    expect(byId({ includeKept: true }).kept?.remove).toBe(true);
    expect(byId({ olderThanMs: HOUR }).kept?.remove).toBe(true);
    expect(byId({ olderThanMs: 3 * HOUR }).kept?.remove).toBe(false);
  });
});
