import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { quoteShellArgument, toRemoteCommand } from '../../src/ssh/shell-quote.js';

/** What `sh` passes to a program for a command line: one argument per line, NUL-separated. */
function argumentsSeenBySh(commandLine: string): string[] {
  const out = execFileSync('sh', ['-c', `printf '%s\\0' ${commandLine}`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('toRemoteCommand', () => {
  it('passes a string through as shell code', () => {
    expect(toRemoteCommand('uname -r && echo $HOME')).toBe('uname -r && echo $HOME');
  });

  it('leaves plain words unquoted', () => {
    expect(toRemoteCommand(['ip', 'addr', 'add', '10.0.0.1/24', 'dev', 'eth1'])).toBe(
      'ip addr add 10.0.0.1/24 dev eth1',
    );
  });

  it('rejects an empty argument array', () => {
    expect(() => toRemoteCommand([])).toThrow(/empty/);
  });

  const hostile = [
    '',
    ' ',
    "it's",
    "'",
    "''",
    '"$HOME"',
    '$(reboot)',
    '`id`',
    'a;b',
    'a && b | c > d',
    'line1\nline2',
    '*',
    '~',
    '\\',
    'tab\there',
    '--flag=a b',
    'ünïcødé',
    '!event',
  ];

  it.each(hostile)('delivers %j to the program verbatim through sh', (argument) => {
    expect(argumentsSeenBySh(quoteShellArgument(argument))).toEqual([argument]);
  });

  it('delivers a whole hostile array verbatim and in order', () => {
    expect(argumentsSeenBySh(toRemoteCommand(hostile))).toEqual(hostile);
  });
});
