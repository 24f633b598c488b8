import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { FileTransferError } from '../core/errors.js';
import type { TransferOptions, WriteFileOptions } from '../core/provider.js';
import { checkGuestPath, extractToHost, packHostPath } from '../files/host-tar.js';
import { singleFileTar } from '../files/single-file-tar.js';
import { boundProcess } from './bound-process.js';
import { collectOutput, feedInput } from './collect-output.js';
import { guestTransferError } from './guest-transfer-error.js';
import { quoteShellArgument as q } from './shell-quote.js';
import type { SshSession } from './ssh-session.js';

const DEFAULT_TIMEOUT_MS = 10 * 60_000;

function bounds(options: TransferOptions) {
  return { timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS, signal: options.signal };
}

/**
 * Extraction of a tar stream whose entries are named `target` relative to `/`: into a fresh
 * directory next to the target, then renamed into place, so a failure (disk full, abort) leaves
 * no half-written target. `-o`: files belong to the login user; `-p`: modes as in the archive.
 */
function extractScript(target: string, stage: string): string {
  const staged = `${stage}${target}`;
  // On failure the rest of the input is read and dropped before exiting: dropbear drops the whole
  // connection when a command exits with input unread, and the exit status would be lost with it.
  return [
    `mkdir -p -- ${q(posix.dirname(target))} && mkdir -- ${q(stage)} || { status=$?; cat >/dev/null; exit $status; }`,
    `tar -x -p -o -f - -C ${q(stage)} && rm -rf -- ${q(target)} && mv -- ${q(staged)} ${q(target)}`,
    'status=$?',
    `rm -rf -- ${q(stage)}`,
    'cat >/dev/null',
    'exit $status',
  ].join('\n');
}

/**
 * File transfers as tar streams over exec channels of an SSH session: one mechanism for dropbear,
 * which has no SFTP server, and OpenSSH. Only `tar`, `cat`, `mkdir`, `mv`, `rm` are needed in the
 * guest (GNU or busybox); errors come from their messages.
 */
export class SshFileTransfer {
  constructor(private readonly session: SshSession) {}

  /** Copies a host file or directory to `guestPath` (which it becomes), modes and symlinks kept. */
  async copyTo(hostPath: string, guestPath: string, options: TransferOptions = {}): Promise<void> {
    const target = checkGuestPath(guestPath);
    await this.#extract('copyTo', target, await packHostPath(hostPath, target), options);
  }

  /** Writes `data` to `guestPath` with `mode` (default 0644), creating parent directories. */
  async writeFile(
    guestPath: string,
    data: string | Uint8Array,
    options: WriteFileOptions = {},
  ): Promise<void> {
    const target = checkGuestPath(guestPath);
    await this.#extract('writeFile', target, singleFileTar(target, data, options.mode), options);
  }

  /** Copies a guest file or directory to `hostPath` (which it becomes), modes and symlinks kept. */
  async copyFrom(
    guestPath: string,
    hostPath: string,
    options: TransferOptions = {},
  ): Promise<void> {
    const source = checkGuestPath(guestPath, 'guestPath');
    const operation = `copyFrom ${source}`;
    // `./name`: a name starting with `-` is not taken for an option.
    const script = `tar -c -f - -C ${q(posix.dirname(source))} ${q(`./${posix.basename(source)}`)}`;
    const process = this.session.start(script, operation);
    const disarm = boundProcess(process, bounds(options), operation);
    const stderr: Buffer[] = [];
    process.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
    process.stdin.end();
    const extracted = extractToHost(process.stdout, hostPath).then(
      () => undefined,
      (error: unknown) => {
        // The host side failed: the guest side would wait for a reader forever.
        void process.kill();
        return error;
      },
    );
    try {
      // Both sides settle: a killed or dropped channel ends stdout, which ends the extraction.
      const [exit, hostError] = await Promise.all([
        process.exited.then(
          (code) => ({ code }),
          (error: unknown) => ({ error }),
        ),
        extracted,
      ]);
      if ('error' in exit) throw exit.error;
      const message = Buffer.concat(stderr).toString('utf8');
      // The guest's reason when it gave one; a guest killed for a host failure says nothing.
      if (exit.code !== 0 && (message.trim() || hostError === undefined)) {
        // A partial archive may have been put in place: nothing half-copied is left.
        if (hostError === undefined) await rm(hostPath, { recursive: true, force: true });
        throw guestTransferError('copyFrom', source, message, exit.code);
      }
      if (hostError !== undefined) throw hostError;
    } finally {
      disarm();
    }
  }

  /** Reads the guest file `guestPath` whole, as bytes. */
  async readFile(guestPath: string, options: TransferOptions = {}): Promise<Buffer> {
    const source = checkGuestPath(guestPath, 'guestPath');
    const operation = `readFile ${source}`;
    const process = this.session.start(`cat -- ${q(source)}`, operation);
    const disarm = boundProcess(process, bounds(options), operation);
    process.stdin.end();
    try {
      const result = await collectOutput(process, 'buffer');
      if (result.exitCode !== 0) {
        const message = Buffer.from(result.stderr).toString('utf8');
        throw guestTransferError('readFile', source, message, result.exitCode);
      }
      return result.stdout as Buffer;
    } finally {
      disarm();
    }
  }

  async #extract(
    operation: string,
    target: string,
    tar: Readable,
    options: TransferOptions,
  ): Promise<void> {
    const stage = `${posix.dirname(target).replace(/\/$/, '')}/.${posix.basename(target)}.testbed-${randomBytes(4).toString('hex')}`;
    const process = this.session.start(extractScript(target, stage), `${operation} ${target}`);
    const disarm = boundProcess(process, bounds(options), `${operation} ${target}`);
    const unfeed = feedInput(process, tar);
    try {
      const result = await collectOutput(process, 'utf8');
      if (result.exitCode !== 0) {
        throw guestTransferError(operation, target, String(result.stderr), result.exitCode);
      }
    } catch (error) {
      // Killed mid-way (timeout, abort): the staging directory is what was half-written.
      if (!(error instanceof FileTransferError) && !this.session.closed) {
        await this.session.exec(['rm', '-rf', '--', stage], { timeoutMs: 30_000 }).catch(() => {});
      }
      throw error;
    } finally {
      disarm();
      unfeed();
      // Whatever the guest did not take is not read from the host any further.
      tar.destroy();
    }
  }
}
