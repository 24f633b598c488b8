import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildRemoteCommand } from '../../src/ssh/remote-command.js';

const dir = mkdtempSync(join(tmpdir(), 'testbed cwd '));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sh(script: string): { stdout: string; status: number } {
  try {
    return {
      stdout: execFileSync('sh', ['-c', script], { encoding: 'utf8', stdio: 'pipe' }),
      status: 0,
    };
  } catch (error) {
    const failed = error as { stdout: string; status: number };
    return { stdout: failed.stdout, status: failed.status };
  }
}

/** The arguments `sh` splits a command line into. */
function words(commandLine: string): string[] {
  return sh(`set -- ${commandLine}; printf '%s\\0' "$@"`).stdout.split('\0').slice(0, -1);
}

describe('buildRemoteCommand', () => {
  it('passes a bare command through', () => {
    expect(buildRemoteCommand(['ls', '-l'], {}, 'root')).toBe('ls -l');
  });

  it('exports env values verbatim, however hostile, and runs in cwd (shell code or array)', () => {
    const env = { QUOTE: 'it\'s "$HOME" `id` \\ \n line', EMPTY: '' };
    const script = buildRemoteCommand(
      'printf "%s|%s|" "$QUOTE" "$EMPTY"; pwd',
      { env, cwd: dir },
      'root',
    );
    expect(sh(script).stdout).toBe(`${env.QUOTE}||${dir}\n`);
    const array = buildRemoteCommand(['sh', '-c', 'echo "$QUOTE"'], { env }, 'root');
    expect(sh(array).stdout).toBe(`${env.QUOTE}\n`);
  });

  it('fails with the cd message and a non-zero exit, not running the command, when cwd is missing', () => {
    const result = sh(buildRemoteCommand('echo ran', { cwd: '/nonexistent/dir' }, 'root'));
    expect(result.status).not.toBe(0);
    expect(result.stdout).toBe('');
  });

  it('switches user with su as root and with sudo -n otherwise, env and cwd inside', () => {
    const inner = buildRemoteCommand('id -un', { env: { A: 'x y' }, cwd: '/srv' }, 'root');
    const asRoot = buildRemoteCommand(
      'id -un',
      { env: { A: 'x y' }, cwd: '/srv', user: 'app' },
      'root',
    );
    expect(words(asRoot)).toEqual(['su', '-s', '/bin/sh', 'app', '-c', inner]);
    const asDebian = buildRemoteCommand(['id', '-un'], { user: 'app' }, 'debian');
    expect(words(asDebian)).toEqual(['sudo', '-n', '-u', 'app', '--', '/bin/sh', '-c', 'id -un']);
    expect(buildRemoteCommand('true', { user: 'debian' }, 'debian')).toBe('true');
  });

  it('lists every invalid option at once', () => {
    expect(() =>
      buildRemoteCommand('true', { env: { 'NO-DASH': '1', '1ST': '1' }, user: '-r' }, 'root'),
    ).toThrow(/env\.NO-DASH[\s\S]*env\.1ST[\s\S]*user/);
    expect(() => buildRemoteCommand([], {}, 'root')).toThrow(/empty/);
  });
});
