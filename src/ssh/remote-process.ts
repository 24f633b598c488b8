import { PassThrough } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { MachineProcess } from '../core/provider.js';
import { exitCodeOf } from './exit-code.js';
import { stripPgidLine } from './pgid-line.js';

/** Bound on each step of a kill: learning the process group, the kill itself, the channel closing. */
export const KILL_TIMEOUT_MS = 5000;

/** What a remote process needs from the session it runs on. */
export interface RemoteProcessHooks {
  /** Kills a remote process group (on another channel); best effort, bounded. */
  killGroup(pgid: number): Promise<void>;
  /** The error for a channel that closed without an exit status: its connection died. */
  lost(started: boolean): Error;
  /** Opens the command's channel anew, for a command that provably never started. */
  reopen?(): Promise<ClientChannel>;
  /** The error `exited` rejects with when the prologue found the user or directory missing. */
  missing?(missing: 'cwd' | 'user'): Error;
}

/**
 * Times a command whose channel closed before it started is opened anew. Dropbear (before
 * 2025.87, mkj/dropbear#326 and #173) closes a channel opened while the previous command's exit
 * signal is still pending, before running its command, or drops the connection over it.
 */
const REOPENS = 2;

/** What a shell reports for a command killed by SIGKILL. */
const KILLED = 128 + 9;

function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/**
 * A command running on an SSH channel, as a `MachineProcess`. Its streams exist at once and are
 * connected when the channel opens; `kill()` kills the command's process group (which the
 * prologue reported on stderr), since closing the channel alone leaves the processes running.
 * The prologue's line also tells that the command started: until then its input is held back, so
 * a channel the server closed before running the command can be opened anew with nothing lost.
 */
export class RemoteProcess implements MachineProcess {
  readonly stdin = new PassThrough();
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  readonly exited: Promise<number>;
  #settle!: (outcome: { code: number } | { error: unknown }) => void;
  #failure: { error: unknown } | undefined;
  #channel: ClientChannel | undefined;
  #reportPgid!: (pgid: number | undefined) => void;
  readonly #pgid = new Promise<number | undefined>((resolve) => {
    this.#reportPgid = resolve;
  });
  #ended = false;
  #markClosed!: () => void;
  readonly #closed = new Promise<void>((resolve) => {
    this.#markClosed = () => {
      this.#ended = true;
      resolve();
    };
  });
  #killing: Promise<void> | undefined;
  #reopens = 0;

  constructor(
    opened: Promise<ClientChannel>,
    private readonly hooks: RemoteProcessHooks,
  ) {
    this.exited = new Promise<number>((resolve, reject) => {
      let done = false;
      this.#settle = (outcome) => {
        if (done) return;
        done = true;
        const final = this.#failure ?? outcome;
        if ('error' in final) reject(final.error);
        else resolve(final.code);
      };
    });
    // A caller that only reads the streams must not get an unhandled rejection.
    this.exited.catch(() => {});
    opened.then(
      (channel) => this.#attach(channel),
      (error: unknown) => this.#fail(error),
    );
  }

  /** Kills the command's processes; resolves once they are gone (bounded). Idempotent. */
  kill(): Promise<void> {
    if (!this.#killing) {
      // Ended already: its process group id may belong to someone else by now.
      if (this.#ended) this.#killing = Promise.resolve();
      else if (this.#channel) this.#killing = this.#killChannel(this.#channel);
      else {
        // Not started yet: the channel is killed as soon as it opens.
        this.#killing = Promise.resolve();
        this.#endStreams();
      }
    }
    return this.#killing;
  }

  /** Kills the command, and makes `exited` reject with `error` instead of an exit code. */
  async giveUp(error: unknown): Promise<void> {
    this.#failure ??= { error };
    await this.kill();
    this.#settle(this.#failure);
  }

  #attach(channel: ClientChannel): void {
    this.#channel = channel;
    // A failing channel also closes without an exit status, which is reported through `lost()`.
    channel.on('error', () => {});
    // Input already complete and empty (most commands) needs no holding back: only EOF to send.
    const held = !(this.stdin.writableEnded && this.stdin.readableLength === 0);
    if (!held) channel.end();
    let started = false;
    const start = () => {
      if (started) return;
      started = true;
      if (held && !this.#killing) this.stdin.pipe(channel);
    };
    channel.once('data', start);
    channel.stderr.once('data', start);
    const stderr = channel.stderr.pipe(
      stripPgidLine((pgid, missing) => {
        // The shell exits at once: the command never ran, and `exited` rejects with the reason.
        if (missing && this.hooks.missing) this.#failure ??= { error: this.hooks.missing(missing) };
        this.#reportPgid(pgid);
      }),
    );
    const stderrEnded = new Promise<void>((resolve) => stderr.once('end', resolve));
    channel.once('close', (code: number | null | undefined, signalName?: string) => {
      this.stdin.unpipe(channel);
      // Closed without an exit status: the connection died, unless we closed it in a kill.
      const exitCode = exitCodeOf(code, signalName) ?? (this.#killing ? KILLED : undefined);
      if (exitCode === undefined && !started && this.#retry()) {
        channel.unpipe(this.stdout);
        stderr.unpipe(this.stderr);
        return;
      }
      this.#reportPgid(undefined);
      this.#markClosed();
      this.stdin.resume();
      void stderrEnded.then(() => {
        this.stdout.end();
        this.stderr.end();
      });
      this.#settle(
        exitCode === undefined ? { error: this.hooks.lost(started) } : { code: exitCode },
      );
    });
    if (this.#killing) {
      stderr.resume();
      channel.resume();
      void this.#killChannel(channel);
      return;
    }
    // Not ended with the channel: a channel closed before its command started is replaced.
    stderr.pipe(this.stderr, { end: false });
    channel.pipe(this.stdout, { end: false });
  }

  /** Opens the channel anew when the hooks can and the reopens are not used up. */
  #retry(): boolean {
    const { reopen } = this.hooks;
    if (!reopen || this.#failure || this.#reopens >= REOPENS) return false;
    this.#reopens++;
    // A kill meanwhile is then one of a command not started yet: done as the channel opens.
    this.#channel = undefined;
    reopen().then(
      (channel) => this.#attach(channel),
      (error: unknown) => this.#fail(error),
    );
    return true;
  }

  #fail(error: unknown): void {
    this.#reportPgid(undefined);
    this.#markClosed();
    this.#endStreams();
    this.#settle({ error });
  }

  #endStreams(): void {
    this.stdout.end();
    this.stderr.end();
    // Writes to a command that will not run are dropped rather than left to fill the buffer.
    this.stdin.resume();
  }

  async #killChannel(channel: ClientChannel): Promise<void> {
    const pgid = await within(this.#pgid, KILL_TIMEOUT_MS);
    if (pgid !== undefined) {
      await within(
        this.hooks.killGroup(pgid).catch(() => {}),
        KILL_TIMEOUT_MS,
      );
      // The server reports the killed command's exit signal, then closes the channel itself.
      await within(this.#closed, KILL_TIMEOUT_MS);
    }
    channel.close();
    await within(this.#closed, KILL_TIMEOUT_MS);
  }
}
