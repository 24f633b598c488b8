import { readFile } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { Client, type ClientChannel } from 'ssh2';
import { HostUnreachableError } from '../core/errors.js';
import type { HostAddress } from './host-address.js';
import { knownHostAccepts } from './known-hosts.js';

/** A loopback port on the runner that reaches one port on the host's loopback. */
export interface HostForward {
  /** Port on the runner's 127.0.0.1. */
  port: number;
  /** Stops listening and ends the connections through it. */
  close(): Promise<void>;
}

/** Identifies the host in errors: its name in TESTBED_HOSTS and the URI. */
export interface HostLabel {
  /** The provider id, e.g. `libvirt@host2`. */
  providerId: string;
  /** The host's URI (libvirt's, or the Docker endpoint). */
  uri: string;
}

const CONNECT_TIMEOUT_MS = 10_000;
const KEEPALIVE_MS = 15_000;

async function firstKey(files: readonly string[]): Promise<string | undefined> {
  for (const file of files) {
    const key = await readFile(file, 'utf8').catch(() => undefined);
    if (key) return key;
  }
  return undefined;
}

/**
 * One SSH connection to a remote host, shared by every tunnel to its machines' forwarded ports
 * (bound on the host's loopback), so `machine.ssh.host` stays 127.0.0.1 on the runner, and by the
 * commands run there (a Docker engine's `dial-stdio`). Opened on first use and again after it
 * drops. Like a socket, it keeps the process alive only while there is work: a command being
 * started, or a command's channel not released with `unref` (an idle pooled connection is).
 */
export class HostLink {
  #client: Promise<Client> | undefined;
  #socket: Socket | undefined;
  readonly #servers = new Set<Server>();
  /** Channels that keep the process alive, and commands still being started. */
  readonly #held = new Set<ClientChannel>();
  #starting = 0;

  constructor(
    private readonly address: HostAddress,
    private readonly label: HostLabel,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Listens on `localPort` (default a free one) of the runner's loopback and forwards each connection to `127.0.0.1:remotePort` on the host. */
  async forward(remotePort: number, localPort = 0): Promise<HostForward> {
    await this.#connected();
    const sockets = new Set<Socket>();
    const server = createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => socket.destroy());
      this.#connected().then(
        (client) =>
          client.forwardOut('127.0.0.1', 0, '127.0.0.1', remotePort, (error, channel) => {
            if (error) return socket.destroy();
            channel.on('error', () => socket.destroy());
            socket.pipe(channel).pipe(socket);
            socket.on('close', () => channel.destroy());
          }),
        () => socket.destroy(),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(localPort, '127.0.0.1', () => resolve());
    });
    server.unref();
    this.#servers.add(server);
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    let closing: Promise<void> | undefined;
    return {
      port,
      close: () => {
        closing ??= new Promise<void>((resolve) => {
          this.#servers.delete(server);
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        });
        return closing;
      },
    };
  }

  /**
   * Runs `command` on the host; its channel carries the command's stdin and stdout. A refusal is
   * asked again once: an SSH server refuses a session while it is still closing an earlier one.
   */
  async exec(command: string): Promise<ClientChannel> {
    this.#starting++;
    this.#sync();
    try {
      const client = await this.#connected();
      const once = () =>
        new Promise<ClientChannel>((resolve, reject) => {
          client.exec(command, (error, channel) => (error ? reject(error) : resolve(channel)));
        });
      const channel = await once()
        .catch(async () => {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return once();
        })
        .catch((error: unknown) => {
          throw this.#unreachable(
            `the SSH server refused to run \`${command}\`: ${(error as Error).message}`,
            'Check that the SSH server lets this user run commands (and, for many machines at once, its MaxSessions).',
            error,
          );
        });
      this.ref(channel);
      channel.once('close', () => this.unref(channel));
      return channel;
    } finally {
      this.#starting--;
      this.#sync();
    }
  }

  /** Keeps the process alive while `channel` (from `exec`) is open: the default, as for a socket. */
  ref(channel: ClientChannel): void {
    this.#held.add(channel);
    this.#sync();
  }

  /** Lets the process exit while `channel` waits unused (a pooled connection), as `socket.unref()`. */
  unref(channel: ClientChannel): void {
    this.#held.delete(channel);
    this.#sync();
  }

  #sync(): void {
    if (this.#held.size > 0 || this.#starting > 0) this.#socket?.ref();
    else this.#socket?.unref();
  }

  /** Closes the connection and every tunnel. */
  close(): void {
    for (const server of this.#servers) server.close();
    this.#servers.clear();
    const client = this.#client;
    this.#client = undefined;
    client?.then((c) => c.end()).catch(() => undefined);
  }

  #connected(): Promise<Client> {
    this.#client ??= this.#connect().catch((error: unknown) => {
      this.#client = undefined;
      throw error;
    });
    return this.#client;
  }

  #unreachable(reason: string, fix: string, cause?: unknown): HostUnreachableError {
    return new HostUnreachableError(this.label.providerId, this.label.uri, reason, {
      cause,
      fix,
    });
  }

  async #connect(): Promise<Client> {
    const { host, port, username, keyFiles, knownHosts, noVerify } = this.address;
    const privateKey = await firstKey(keyFiles);
    const agent = this.env.SSH_AUTH_SOCK;
    if (!privateKey && !agent) {
      throw this.#unreachable(
        `no SSH key to log in to ${host} with (looked for ${keyFiles.join(', ')}; no SSH agent)`,
        'Add ?keyfile=/path/to/key to the URI, or start an SSH agent holding the key.',
      );
    }
    const known = noVerify ? '' : await readFile(knownHosts, 'utf8').catch(() => '');
    let refusedKey = false;
    const client = new Client();
    const socket = new Socket();
    return new Promise<Client>((resolve, reject) => {
      const timer = setTimeout(() => {
        client.destroy();
        reject(
          this.#unreachable(
            `no SSH answer from ${host}:${port} within ${CONNECT_TIMEOUT_MS / 1000} s`,
            `Check that ${host} is up and its SSH server listens on port ${port}.`,
          ),
        );
      }, CONNECT_TIMEOUT_MS);
      client.on('error', (error) => {
        clearTimeout(timer);
        reject(
          refusedKey
            ? this.#unreachable(
                `the host key of ${host}:${port} is not in ${knownHosts}`,
                `Check the key, then add it: ssh-keyscan -p ${port} ${host} >> ${knownHosts} (or add &no_verify=1 to the URI).`,
                error,
              )
            : this.#unreachable(
                `SSH to ${username}@${host}:${port} failed: ${error.message}`,
                `Check that \`ssh -p ${port} ${username}@${host}\` logs in with the key testbed uses.`,
                error,
              ),
        );
      });
      client.on('close', () => {
        // A dropped connection is opened again by the next tunnel connection.
        this.#client = undefined;
        if (this.#socket === socket) this.#socket = undefined;
      });
      client.once('ready', () => {
        clearTimeout(timer);
        this.#socket = socket;
        // Tunnels need no hold: the runner's end of each is a socket of its own.
        this.#sync();
        resolve(client);
      });
      // TCP keepalive, not ssh2's `keepaliveInterval`: that one is a referenced timer, which kept
      // every command that touched a remote engine (`testbed doctor`) from exiting.
      socket.setKeepAlive(true, KEEPALIVE_MS);
      socket.connect(port, host);
      client.connect({
        sock: socket,
        username,
        ...(privateKey ? { privateKey } : {}),
        ...(agent ? { agent } : {}),
        readyTimeout: CONNECT_TIMEOUT_MS,
        hostVerifier: (key: Buffer) => {
          if (noVerify) return true;
          const accepted = knownHostAccepts(known, host, port, key.toString('base64'));
          refusedKey = !accepted;
          return accepted;
        },
      });
    });
  }
}
