import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ContainerRuntimeClient, WaitStrategy } from 'testcontainers';
import { LIST_TCP_SOCKETS, listensOn } from '../../wait/listens-on.js';

type Container = Parameters<WaitStrategy['waitUntilReady']>[0];
type BoundPorts = Parameters<WaitStrategy['waitUntilReady']>[1];

const POLL_MS = 100;
const CONNECT_TIMEOUT_MS = 1000;
/** `sh` exits with these when the shell or a command in it is missing. */
const NO_SHELL = new Set([126, 127]);

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port, timeout: CONNECT_TIMEOUT_MS });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.once('timeout', () => done(false));
  });
}

/**
 * Waits until every published TCP port listens inside the container and answers on 127.0.0.1.
 *
 * testcontainers' own port strategy dials the host it resolved for the engine, which inside a
 * container (`/.dockerenv`) is the bridge gateway; testbed publishes on loopback only, so it must
 * dial loopback. The inside check matters because Docker's proxy accepts on the host port before
 * the container's server listens.
 */
export class LoopbackPortWaitStrategy implements WaitStrategy {
  #timeoutMs = 60_000;
  #timeoutSet = false;

  constructor(
    private readonly client: ContainerRuntimeClient,
    private readonly signal?: AbortSignal,
  ) {}

  async waitUntilReady(container: Container, boundPorts: BoundPorts): Promise<void> {
    const deadline = Date.now() + this.#timeoutMs;
    const tcp = [...boundPorts.iterator()].filter(([key]) => !key.toLowerCase().endsWith('/udp'));
    for (const [key, hostPort] of tcp) {
      const inside = Number.parseInt(key, 10);
      for (;;) {
        this.signal?.throwIfAborted();
        const { exitCode, stdout } = await this.client.container.exec(
          container,
          [...LIST_TCP_SOCKETS],
          { log: false },
        );
        if (NO_SHELL.has(exitCode)) {
          throw new Error(
            `Cannot tell whether port ${inside} listens: the image has no /bin/sh. Give the machine a readyLog to wait for instead.`,
          );
        }
        if (listensOn(stdout, inside) && (await connects(hostPort))) break;
        if (Date.now() >= deadline) {
          throw new Error(
            `Port ${inside} (127.0.0.1:${hostPort}) was not listening after ${this.#timeoutMs} ms`,
          );
        }
        await sleep(POLL_MS);
      }
    }
  }

  withStartupTimeout(startupTimeoutMs: number): this {
    this.#timeoutMs = startupTimeoutMs;
    this.#timeoutSet = true;
    return this;
  }

  isStartupTimeoutSet(): boolean {
    return this.#timeoutSet;
  }

  getStartupTimeout(): number {
    return this.#timeoutMs;
  }
}
