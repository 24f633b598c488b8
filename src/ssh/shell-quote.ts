import { InvalidSpecError } from '../core/errors.js';

/** Quotes one argument for a POSIX shell: safe for any content, including quotes and newlines. */
export function quoteShellArgument(argument: string): string {
  if (argument !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(argument)) return argument;
  return `'${argument.replaceAll("'", `'\\''`)}'`;
}

/**
 * Turns a command into the single string an SSH server hands to the remote shell: a string is
 * passed through as shell code, an argument array is quoted so each element arrives verbatim.
 */
export function toRemoteCommand(command: string | readonly string[]): string {
  if (typeof command === 'string') return command;
  if (command.length === 0) {
    throw new InvalidSpecError([{ path: 'command', message: 'the argument array is empty' }], {
      fix: 'Pass the program and its arguments, e.g. ["ls", "-l"], or shell code as a string.',
    });
  }
  return command.map(quoteShellArgument).join(' ');
}
