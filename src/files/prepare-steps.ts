import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { PrepareFailedError } from '../core/errors.js';
import type { FileSpec, Machine, PrepareSpec } from '../core/provider.js';
import { applyFileSpecs } from './apply-file-specs.js';

/** The lines of a step's output kept in its error. */
const OUTPUT_LINES = 20;

/** The commands of a prepare, as a list. */
export function prepareCommands(prepare: PrepareSpec): readonly string[] {
  if (prepare.run === undefined) return [];
  return typeof prepare.run === 'string' ? [prepare.run] : prepare.run;
}

/** A host file or directory's content, as one hash: names, modes, bytes and link targets. */
async function hashPath(path: string, hash = createHash('sha256')): Promise<string> {
  const info = await lstat(path);
  if (info.isSymbolicLink()) hash.update(`link ${await readlink(path)}\0`);
  else if (info.isDirectory()) {
    hash.update(`dir ${info.mode & 0o7777}\0`);
    for (const name of (await readdir(path)).sort()) {
      hash.update(`entry ${name}\0`);
      hash.update(await hashPath(join(path, name)));
    }
  } else hash.update(`file ${info.mode & 0o7777}\0`).update(await readFile(path));
  return hash.digest('hex');
}

async function fileDigest(file: FileSpec): Promise<string> {
  const what =
    'content' in file
      ? createHash('sha256').update(file.content).digest('hex')
      : await hashPath(file.source);
  return `${file.target} ${file.mode ?? '-'} ${what}`;
}

/**
 * The cache key of a prepare: sha256 of its commands, its `key` and the content of every file it
 * copies (not their host paths), so editing a copied file makes a new key and nothing else does.
 */
export async function prepareDigest(prepare: PrepareSpec): Promise<string> {
  const files = await Promise.all((prepare.files ?? []).map(fileDigest));
  return createHash('sha256')
    .update(JSON.stringify({ files, run: prepareCommands(prepare), key: prepare.key ?? null }))
    .digest('hex');
}

function tail(text: string): string {
  return text.trim().split('\n').slice(-OUTPUT_LINES).join('\n    ');
}

/**
 * Runs a prepare on `machine`: its files, then its commands as root, in order. The first that
 * fails throws `PrepareFailedError` naming the step, the command and its output.
 */
export async function runPrepareSteps(
  machine: Machine,
  prepare: PrepareSpec,
  signal: AbortSignal,
): Promise<void> {
  try {
    await applyFileSpecs(machine, prepare.files ?? [], signal);
  } catch (error) {
    throw new PrepareFailedError('files', (error as Error).message, { cause: error });
  }
  const commands = prepareCommands(prepare);
  if (commands.length > 0 && !machine.exec) {
    throw new PrepareFailedError('run', `${machine.providerId} machines cannot run commands`, {
      fix: "Ask for a provider with 'Exec', or prepare with files alone.",
    });
  }
  for (const [index, command] of commands.entries()) {
    const result = await machine.exec?.(['sh', '-c', command], { user: 'root', signal });
    if (!result || result.exitCode === 0) continue;
    const output = [result.stdout, result.stderr]
      .filter((t) => t.trim())
      .map(tail)
      .join('\n    ');
    throw new PrepareFailedError(
      `run[${index}]`,
      `\`${command}\` exited with ${result.exitCode}${output ? `:\n    ${output}` : ' and printed nothing'}`,
    );
  }
}
