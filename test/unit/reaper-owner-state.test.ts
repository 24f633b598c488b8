import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { currentHost, processStartTime } from '../../src/core/run-context.js';
import { ownerState } from '../../src/reaper/owner-state.js';

// Field 22 of /proc/<pid>/stat is the start time: the 20th after the command name.
const stat = (state: string, start: number) =>
  `123 (node (worker) x) ${state} ${Array.from({ length: 18 }, (_, i) => i + 1).join(' ')} ${start} 0 0`;

describe('ownerState', () => {
  it('is alive for this process, with its real start time', () => {
    expect(ownerState({ pid: process.pid, startTime: processStartTime(process.pid) })).toBe(
      'alive',
    );
  });

  it('is dead when the pid was reused by a process that started at another time', () => {
    expect(ownerState({ pid: 123, startTime: 999 }, () => stat('S', 1000))).toBe('dead');
  });

  it('is dead for a zombie: killed but not yet reaped by its parent', () => {
    expect(ownerState({ pid: 123, startTime: 1000 }, () => stat('Z', 1000))).toBe('dead');
  });

  it('is alive when pid and start time match, whatever the command name holds', () => {
    expect(ownerState({ pid: 123, startTime: 1000 }, () => stat('R', 1000))).toBe('alive');
  });

  it('is unknown for a stamp that names no process, and never probes it', () => {
    const probe = () => {
      throw new Error('must not read /proc');
    };
    expect(ownerState({ pid: 0, startTime: 0 }, probe)).toBe('unknown');
    expect(ownerState({ pid: -1, startTime: 0 }, probe)).toBe('unknown');
    expect(ownerState({ pid: Number.NaN, startTime: 0 }, probe)).toBe('unknown');
  });

  it('is unknown for an owner stamped on another host, and never probes it', () => {
    const probe = () => {
      throw new Error('must not read /proc');
    };
    expect(ownerState({ pid: 123, startTime: 1000, host: 'another-boot/pid:[1]' }, probe)).toBe(
      'unknown',
    );
  });

  it('probes an owner stamped on this host as before', () => {
    const here = currentHost();
    expect(ownerState({ pid: 123, startTime: 999, host: here }, () => stat('S', 1000))).toBe(
      'dead',
    );
    expect(ownerState({ pid: 123, startTime: 1000, host: here }, () => stat('R', 1000))).toBe(
      'alive',
    );
  });

  it('is dead once a real child process has exited', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
    const pid = child.pid as number;
    const owner = { pid, startTime: processStartTime(pid) };
    const stamped = { ...owner, host: currentHost() };
    expect(ownerState(owner)).toBe('alive');
    expect(ownerState(stamped)).toBe('alive');
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(ownerState(owner)).toBe('dead');
    expect(ownerState(stamped)).toBe('dead');
    expect(ownerState({ ...owner, host: 'another-boot/pid:[1]' })).toBe('unknown');
  });
});
