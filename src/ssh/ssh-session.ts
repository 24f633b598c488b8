import type { ClientChannel } from 'ssh2';
import {
  AbortedError,
  CommandFailedError,
  MachineGoneError,
  NoSuchCwdOrUserError,
} from '../core/errors.js';
import type { CommandOptions, ExecOptions, ExecResult } from '../core/provider.js';
import { boundProcess } from './bound-process.js';
import { collectOutput, feedInput } from './collect-output.js';
import { connectSsh, type SshLink } from './connect-ssh.js';
import { exitCodeOf } from './exit-code.js';
import { type CommandContextChecks, pgidPrologue } from './pgid-line.js';
import { buildRemoteCommand, contextChecks } from './remote-command.js';
import { KILL_TIMEOUT_MS, RemoteProcess } from './remote-process.js';
import { toRemoteCommand } from './shell-quote.js';
import { describeTarget, type SshTarget } from './ssh-target.js';

/**
 * Commands one connection carries at once. OpenSSH refuses more than 10 sessions per connection
 * (`MaxSessions`). Dropbear (2022.82 to 2024.85 at least, mkj/dropbear#321) drops the whole
 * connection when a command exits while another channel waits for its exec, so it gets one
 * command per connection: sequential commands still share one, concurrent ones open more.
 */
function channelLimit(serverIdent: string): number {
  return /dropbear/i.test(serverIdent) ? 1 : 8;
}

/** Options for `SshSession`. */
export interface SshSessionOptions {
  /** What the machine is called in messages. Default: `user@host:port`. */
  name?: string;
  /** Bound on opening a connection (TCP, handshake, authentication). Default 10 s. */
  connectTimeoutMs?: number;
  /** Bound until the server identifies itself; see `connectSsh`. Default: `connectTimeoutMs`. */
  identTimeoutMs?: number;
}

interface Connection {
  ready: Promise<SshLink>;
  link: SshLink | undefined;
  channels: number;
  /** Takes no new commands: closed once its last one ends. */
  retired?: boolean;
}

/** How `SshSession.start` runs shell code. */
export interface StartOptions {
  /** The command switches to another user: a kill needs `sudo` when the login user is not root. */
  privileged?: boolean;
  /** What the prologue checks exists before the command runs. */
  checks?: CommandContextChecks;
  /** The error for a missing user or directory the checks found. */
  missing?: (missing: 'cwd' | 'user') => Error;
}

/** Failures of opening a channel on a connection that went away meanwhile: retried once. */
const STALE_CONNECTION =
  /Not connected|No response from server|Unable to exec|Channel open failure/;

/** A command as its operation is named in errors: `exec \`ls -l\` on web-1`, long ones cut. */
function nameCommand(command: string): string {
  const line = command.replace(/\s+/g, ' ').trim();
  return line.length > 80 ? `${line.slice(0, 77)}...` : line;
}

/**
 * One SSH connection to a machine, opened on first use and shared by every command, each on its
 * own channel so several run at once; reopened when it drops. A connection per command costs a
 * login each time (seconds on a distro guest with PAM); a channel costs a round trip. Past the
 * server's channel limit another connection is opened, and closed once idle.
 */
export class SshSession {
  #connections: Connection[] = [];
  #opened = 0;
  #closed = false;
  readonly #name: string;

  constructor(
    readonly target: SshTarget,
    private readonly options: SshSessionOptions = {},
  ) {
    this.#name = options.name ?? `${target.username}@${target.host}:${target.port}`;
  }

  /** How many SSH connections this session has opened so far. */
  get connectionsOpened(): number {
    return this.#opened;
  }

  /** True once `close()` was called; every later operation rejects with `MachineGoneError`. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Starts `command` (with `env`, `cwd`, `user`) and hands over its streams; `signal` kills it. */
  spawn(command: string | readonly string[], options: CommandOptions = {}): RemoteProcess {
    const script = buildRemoteCommand(command, options, this.target.username);
    const what = `spawn \`${nameCommand(toRemoteCommand(command))}\``;
    const operation = `${what} on ${this.#name}`;
    const process = this.start(script, operation, this.#context(what, options));
    if (options.signal) {
      const disarm = boundProcess(process, { signal: options.signal }, operation);
      process.exited.then(disarm, disarm);
    }
    return process;
  }

  /** Runs `command` to its end, with `input`, `timeoutMs` and `signal` as `Machine.exec` has them. */
  async exec(
    command: string | readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult<string | Uint8Array>> {
    const script = buildRemoteCommand(command, options, this.target.username);
    const what = `exec \`${nameCommand(toRemoteCommand(command))}\``;
    const operation = `${what} on ${this.#name}`;
    if (options.signal?.aborted) throw new AbortedError(operation, options.signal.reason);
    const process = this.start(script, operation, this.#context(what, options));
    const disarm = boundProcess(process, options, operation);
    const unfeed = feedInput(process, options.input);
    try {
      return await collectOutput(process, options.encoding);
    } finally {
      disarm();
      unfeed();
    }
  }

  /**
   * Starts shell code on a new channel, behind the process-group prologue. `privileged`: the
   * command switches to another user, so a kill needs `sudo` when the login user is not root.
   * `checks`: what the prologue checks exists first; `missing` makes the error when it does not.
   */
  start(script: string, operation: string, options: StartOptions = {}): RemoteProcess {
    if (this.#closed) throw new MachineGoneError(this.#name, operation);
    const command = `${pgidPrologue(options.checks)}\n${script}`;
    return new RemoteProcess(this.#openChannel(command, operation), {
      ...(options.missing ? { missing: options.missing } : {}),
      killGroup: (pgid) => this.#killGroup(pgid, options.privileged ?? false),
      lost: (started) => this.#lost(operation, started),
      reopen: () => this.#openChannel(command, operation),
    });
  }

  /**
   * Ends every connection but stays usable: the next command connects anew. A guest about to be
   * saved must hold no connection, or every machine restored from it keeps a dead one.
   */
  disconnect(): void {
    for (const connection of this.#connections) connection.link?.client.end();
    this.#connections = [];
  }

  /**
   * Gives later commands a new connection while running ones finish on theirs. After a guest was
   * frozen, its server still acts on channels opened for commands given up on meanwhile, and
   * dropbear drops a connection where one of those exits while another command waits.
   */
  retire(): void {
    for (const connection of this.#connections) {
      connection.retired = true;
      if (connection.channels === 0) connection.link?.client.end();
    }
    this.#connections = this.#connections.filter((c) => c.channels > 0);
  }

  /** Closes every connection; commands still running reject with `MachineGoneError`. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const connection of this.#connections) connection.link?.client.end();
    this.#connections = [];
  }

  /** How a user command starts: its user and directory checked first, a missing one a coded error. */
  #context(what: string, options: CommandOptions): StartOptions {
    const checks = contextChecks(options, this.target.username);
    return {
      privileged: this.#privileged(options),
      checks,
      missing: (missing) =>
        new NoSuchCwdOrUserError(
          missing,
          (missing === 'cwd' ? options.cwd : options.user) ?? '',
          this.#name,
          what,
        ),
    };
  }

  #privileged(options: CommandOptions): boolean {
    const login = this.target.username;
    return options.user !== undefined && options.user !== login && login !== 'root';
  }

  #lost(operation: string, started: boolean): Error {
    if (this.#closed) return new MachineGoneError(this.#name, operation);
    const when = started ? 'while the command ran' : 'before the command started';
    return new CommandFailedError(
      describeTarget(this.target),
      undefined,
      `connection closed ${when}`,
      {
        fix: `The machine went away or its SSH server dropped the connection during ${operation}.`,
      },
    );
  }

  async #killGroup(pgid: number, privileged: boolean, retry = true): Promise<void> {
    // The group may hold processes of another user, which only root may kill.
    const kill = `kill -9 -- -${pgid}${privileged ? `; sudo -n kill -9 -- -${pgid}` : ''}`;
    const channel = await this.#openChannel(`${kill} 2>/dev/null`, 'kill');
    const ran = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        channel.close();
        resolve(true);
      }, KILL_TIMEOUT_MS);
      channel.once('close', (code: number | null | undefined, signalName?: string) => {
        clearTimeout(timer);
        resolve(exitCodeOf(code, signalName) !== undefined);
      });
      channel.resume();
      channel.stderr.resume();
      channel.end();
    });
    // A channel closed without an exit status may never have run the kill (see `RemoteProcess`).
    if (!ran && retry && !this.#closed) await this.#killGroup(pgid, privileged, false);
  }

  async #openChannel(command: string, operation: string, retry = true): Promise<ClientChannel> {
    const connection = await this.#acquire(operation);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#release(connection);
    };
    try {
      const channel = await new Promise<ClientChannel>((resolve, reject) => {
        const opened = (error: Error | undefined, channel: ClientChannel) =>
          error ? reject(error) : resolve(channel);
        try {
          connection.link?.client.exec(command, opened);
        } catch (error) {
          reject(error);
        }
      });
      let hadInput = false;
      channel.once('pipe', (source: NodeJS.ReadableStream) =>
        source.once('data', () => {
          hadInput = true;
        }),
      );
      channel.once('close', () => {
        // Dropbear drops the whole connection moments after a command that exits with input
        // still unread (a tar that failed early): retire it, so the next command gets a fresh one.
        if (hadInput && channelLimit(connection.link.serverIdent) === 1) connection.retired = true;
        release();
      });
      return channel;
    } catch (error) {
      release();
      if (this.#closed) throw new MachineGoneError(this.#name, operation);
      const message = (error as Error).message;
      // The command did not start: on a connection that just dropped, it is safe to run anew.
      if (retry && STALE_CONNECTION.test(message)) {
        return this.#openChannel(command, operation, false);
      }
      throw new CommandFailedError(describeTarget(this.target), undefined, message, {
        cause: error,
        fix: `The SSH server refused a channel for ${operation}; the machine may be going away.`,
      });
    }
  }

  /** A connection with room for one more command: a connected one, the one connecting, or a new one. */
  async #acquire(operation: string): Promise<Connection & { link: SshLink }> {
    for (;;) {
      if (this.#closed) throw new MachineGoneError(this.#name, operation);
      const free = this.#connections.find(
        (c): c is Connection & { link: SshLink } =>
          c.link !== undefined && !c.retired && c.channels < channelLimit(c.link.serverIdent),
      );
      if (free) {
        free.channels++;
        free.link.socket.ref();
        return free;
      }
      const connecting = this.#connections.find((c) => c.link === undefined) ?? this.#connect();
      await connecting.ready;
    }
  }

  #release(connection: Connection): void {
    connection.channels--;
    if (connection.retired) this.#drop(connection);
    if (connection.channels > 0) return;
    // Idle: it must not keep the process alive, and only the first connection is kept.
    connection.link?.socket.unref();
    if (connection.retired || connection !== this.#connections[0]) {
      connection.link?.client.end();
      this.#drop(connection);
    }
  }

  #connect(): Connection {
    this.#opened++;
    const connection: Connection = {
      ready: connectSsh(this.target, {
        timeoutMs: this.options.connectTimeoutMs ?? 10_000,
        ...(this.options.identTimeoutMs === undefined
          ? {}
          : { identTimeoutMs: this.options.identTimeoutMs }),
      }),
      link: undefined,
      channels: 0,
    };
    this.#connections.push(connection);
    connection.ready.then(
      (link) => {
        link.client.once('close', () => this.#drop(connection));
        link.socket.unref();
        // Closed, or disconnected while it was still connecting: it is nobody's any more.
        if (this.#closed || !this.#connections.includes(connection)) link.client.end();
        else connection.link = link;
      },
      () => this.#drop(connection),
    );
    return connection;
  }

  #drop(connection: Connection): void {
    this.#connections = this.#connections.filter((c) => c !== connection);
  }
}
