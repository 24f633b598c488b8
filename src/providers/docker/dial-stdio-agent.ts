import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { HostLink } from '../../ssh/host-link.js';

/** What Node's HTTP client calls on a socket beyond a duplex stream, and ref/unref; an SSH channel has none of it. */
const SOCKET_METHODS = ['setKeepAlive', 'setNoDelay', 'setTimeout'] as const;

function socketLike(channel: ClientChannel, link: HostLink, where: string): Duplex {
  const socket = channel as unknown as Record<string, unknown>;
  for (const method of SOCKET_METHODS) {
    if (typeof socket[method] !== 'function') socket[method] = () => channel;
  }
  // The agent unrefs a connection it keeps for later and refs it again for the next request: an
  // idle pool must not keep the process alive (`testbed doctor` would never exit), a request must.
  socket.ref = () => {
    link.ref(channel);
    return channel;
  };
  socket.unref = () => {
    link.unref(channel);
    return channel;
  };
  // A host without the docker CLI (or whose engine is down) ends the command with an error on
  // stderr before any HTTP: that text, not a bare "socket hang up", is what the request reports.
  let stderr = '';
  channel.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8');
  });
  channel.once('exit', (...args: unknown[]) => {
    const code = args[0];
    if (typeof code === 'number' && code !== 0) {
      (channel as Duplex).destroy(
        new Error(
          `\`docker system dial-stdio\` on ${where} exited with ${code}: ${stderr.trim() || 'no message'}`,
        ),
      );
    }
  });
  return channel;
}

/**
 * Sessions one SSH connection carries at once: OpenSSH's `MaxSessions` defaults to 10, and a
 * followed log or an attached exec holds its session as long as it runs.
 */
const SESSIONS_PER_CONNECTION = 8;

/**
 * Connections opened ahead of need: an attached exec takes its connection out of the keep-alive
 * pool for good, so each exec's next request would otherwise wait for a new `dial-stdio` to
 * start on the host (≈ 0.5 s).
 */
const SPARES = 1;

/**
 * An HTTP agent for dockerode whose every connection is `docker system dial-stdio` run on the
 * host over SSH: the Docker CLI's own `ssh://` transport, without a new SSH handshake per request
 * (docker-modem's `ssh` protocol opens one per request). Connections are kept for the next
 * request, and one more is kept open in advance, as each costs a command started on the host;
 * SSH connections are opened as sessions need them (`openLink`), a few sessions each. `where`
 * names the host in errors.
 */
export function dialStdioAgent(openLink: () => HostLink, where: string): Agent {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 4 });
  const links: { link: HostLink; sessions: number }[] = [];
  const closed = new WeakSet<ClientChannel>();
  const open = (): Promise<{ channel: ClientChannel; link: HostLink }> => {
    let slot = links.find((l) => l.sessions < SESSIONS_PER_CONNECTION);
    if (!slot) {
      slot = { link: openLink(), sessions: 0 };
      links.push(slot);
    }
    const taken = slot;
    taken.sessions++;
    return taken.link.exec('docker system dial-stdio').then(
      (channel) => {
        channel.once('close', () => {
          taken.sessions--;
          closed.add(channel);
        });
        return { channel, link: taken.link };
      },
      (error: unknown) => {
        taken.sessions--;
        throw error;
      },
    );
  };
  const spares: Promise<{ channel: ClientChannel; link: HostLink }>[] = [];
  const create = (
    _options: unknown,
    callback: (error: Error | null, socket?: Duplex) => void,
  ): undefined => {
    const next = spares.shift() ?? open();
    while (spares.length < SPARES) {
      // Waiting unused, it must not keep the process alive.
      const spare = open().then((opened) => {
        opened.link.unref(opened.channel);
        return opened;
      });
      // Its failure is the next request's to report, when it takes it.
      spare.catch(() => undefined);
      spares.push(spare);
    }
    next
      // A spare whose command ended while it waited (the engine restarted) is not handed out.
      .then((opened) => (closed.has(opened.channel) ? open() : opened))
      .then(
        ({ channel, link }) => {
          link.ref(channel);
          callback(null, socketLike(channel, link, where));
        },
        (error: Error) => callback(error),
      );
    return undefined;
  };
  (agent as unknown as { createConnection: typeof create }).createConnection = create;
  return agent;
}
