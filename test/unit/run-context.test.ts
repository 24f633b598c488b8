import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  createRunContext,
  currentHost,
  isOwnerAlive,
  processStartTime,
} from '../../src/core/run-context.js';

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)']);
  child.kill('SIGKILL');
  await once(child, 'exit');
  return child.pid as number;
}

describe('currentHost', () => {
  it('names this boot and pid namespace, the same on every call', () => {
    const bootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(currentHost()).toMatch(new RegExp(`^${bootId}/pid:\\[\\d+\\]$`));
    expect(currentHost()).toBe(currentHost());
  });

  it('is stamped on every new run', () => {
    expect(createRunContext().owner).toEqual({
      pid: process.pid,
      startTime: processStartTime(process.pid),
      host: currentHost(),
    });
  });
});

describe('isOwnerAlive', () => {
  it('is true for this process, stamped with this host', () => {
    expect(isOwnerAlive(createRunContext().owner)).toBe(true);
  });

  it('is false for a dead process of this host, or of a stamp without a host', async () => {
    const pid = await deadPid();
    expect(isOwnerAlive({ pid, startTime: 0, host: currentHost() })).toBe(false);
    expect(isOwnerAlive({ pid, startTime: 0 })).toBe(false);
  });

  it('is true for an owner on another host: its pid cannot be probed here', async () => {
    const pid = await deadPid();
    expect(isOwnerAlive({ pid, startTime: 0, host: 'another-boot/pid:[1]' })).toBe(true);
  });
});
