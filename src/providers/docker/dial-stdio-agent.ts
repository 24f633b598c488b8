import { Agent } from 'node:http';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import type { HostLink } from '../../ssh/host-link.js';

/** What Node's HTTP client calls on a socket beyond a duplex stream; an SSH channel has none of it. */
const SOCKET_METHODS = ['setKeepAlive', 'setNoDelay', 'setTimeout', 'ref', 'unref'] as const;

function socketLike(channel: ClientChannel, where: string): Duplex {
  const socket = channel as unknown as Record<string, unknown>;
  for (const method of SOCKET_METHODS) {
    if (typeof socket[method] !== 'function') socket[method] = () => channel;
  }
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
 * An HTTP agent for dockerode whose every connection is `docker system dial-stdio` run on the
 * host over SSH: the Docker CLI's own `ssh://` transport, without a new SSH handshake per request
 * (docker-modem's `ssh` protocol opens one per request). Connections are kept for the next
 * request, as each costs a command started on the host; SSH connections are opened as sessions
 * need them (`openLink`), a few sessions each. `where` names the host in errors.
 */
export function dialStdioAgent(openLink: () => HostLink, where: string): Agent {
  const agent = new Agent({ keepAlive: true, maxFreeSockets: 4 });
  const links: { link: HostLink; sessions: number }[] = [];
  const create = (
    _options: unknown,
    callback: (error: Error | null, socket?: Duplex) => void,
  ): undefined => {
    let slot = links.find((l) => l.sessions < SESSIONS_PER_CONNECTION);
    if (!slot) {
      slot = { link: openLink(), sessions: 0 };
      links.push(slot);
    }
    const taken = slot;
    taken.sessions++;
    taken.link.exec('docker system dial-stdio').then(
      (channel) => {
        channel.once('close', () => taken.sessions--);
        callback(null, socketLike(channel, where));
      },
      (error: Error) => {
        taken.sessions--;
        callback(error);
      },
    );
    return undefined;
  };
  (agent as unknown as { createConnection: typeof create }).createConnection = create;
  return agent;
}
