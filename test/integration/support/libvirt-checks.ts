import { execFileSync } from 'node:child_process';
import { expect } from 'vitest';
import type { Machine } from '../../../src/core/provider.js';

/** Names of every domain on `uri`, running or not. */
export function domainNames(uri: string): string[] {
  return execFileSync('virsh', ['-q', '-c', uri, 'list', '--all', '--name'], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean);
}

/** Runs shell `command` in `machine`, expects exit 0 (naming the command and its stderr), returns stdout. */
export async function execOk(machine: Machine, command: string): Promise<string> {
  const result = await machine.exec?.(command, { timeoutMs: 60_000 });
  expect(result?.exitCode, `${command}: ${result?.stderr}`).toBe(0);
  return result?.stdout ?? '';
}
