import { describe, expect, it } from 'vitest';
import { LABELS, readRunStamp, runFilter, runLabels } from '../../src/providers/docker/labels.js';

const run = { runId: 'abcd1234', owner: { pid: 4242, startTime: 987654, host: 'boot-1/pid:[1]' } };

describe('docker labels', () => {
  it('stamps run, owner pid, start time and host, and creation time', () => {
    expect(runLabels(run, { 'testbed.machine': 'm' }, 1_700_000_000_000)).toEqual({
      'testbed.machine': 'm',
      'testbed.run': 'abcd1234',
      'testbed.owner.pid': '4242',
      'testbed.owner.start': '987654',
      'testbed.owner.host': 'boot-1/pid:[1]',
      'testbed.created': '1700000000000',
    });
  });

  it('keeps the run stamp when extra labels try to override it', () => {
    expect(runLabels(run, { [LABELS.run]: 'other' })[LABELS.run]).toBe('abcd1234');
  });

  it('reads back what it wrote', () => {
    expect(readRunStamp(runLabels(run, {}, 5))).toEqual({ ...run, createdAt: 5 });
  });

  it('reads a stamp from before hosts were recorded with no owner host', () => {
    const { host: _, ...hostless } = run.owner;
    const labels = runLabels({ ...run, owner: hostless }, {}, 5);
    expect(labels).not.toHaveProperty(LABELS.ownerHost);
    expect(readRunStamp(labels)?.owner).toStrictEqual({ pid: 4242, startTime: 987654 });
    expect(readRunStamp({ ...labels, [LABELS.ownerHost]: '' })?.owner).not.toHaveProperty('host');
  });

  it('ignores resources that are not testbed’s or whose stamp is damaged', () => {
    expect(readRunStamp(undefined)).toBeUndefined();
    expect(readRunStamp({ 'org.testcontainers': 'true' })).toBeUndefined();
    expect(readRunStamp({ [LABELS.run]: 'x', [LABELS.ownerPid]: 'nope' })).toBeUndefined();
    expect(readRunStamp({ [LABELS.run]: 'x', [LABELS.ownerPid]: '7' })).toEqual({
      runId: 'x',
      owner: { pid: 7, startTime: 0 },
      createdAt: undefined,
    });
  });

  it('filters by run, or every testbed resource', () => {
    expect(runFilter('abcd1234')).toEqual({ label: ['testbed.run=abcd1234'] });
    expect(runFilter()).toEqual({ label: ['testbed.run'] });
  });
});
