import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { ContainerRuntimeClient, WaitStrategy } from 'testcontainers';
import type { HostForward } from '../../ssh/host-link.js';
import { removeContainer } from './docker-machine.js';
import type { LogConsole } from './log-console.js';
import type { StartTracker } from './loopback-container.js';
import { LoopbackPortWaitStrategy } from './loopback-port-wait-strategy.js';
import type { DockerSpec } from './spec.js';

/** What starting a container on an engine testcontainers does not serve needs. */
export interface EngineStart {
  docker: Dockerode;
  /** testcontainers' client bound to that engine (exec, logs). */
  client: ContainerRuntimeClient;
  name: string;
  image: string;
  labels: Record<string, string>;
  spec: DockerSpec;
  readyLog: string | RegExp | undefined;
  tracker: StartTracker;
  console: LogConsole;
  onLogs(stream: Readable): void;
  /** Makes the engine host's `127.0.0.1:remotePort` reachable on the runner's loopback (at `localPort` if given). */
  forward(remotePort: number, localPort?: number): Promise<HostForward>;
  timeoutMs: number;
  signal: AbortSignal;
}

/** A container started on a remote engine: its id, runner ports per guest port, and the tunnels behind them. */
export interface EngineContainer {
  containerId: string;
  ports: Record<string, number>;
  forwards: HostForward[];
}

/** Docker's create body for `spec`: what testbed asks of GenericContainer locally, written for the engine API. */
export function createBody(
  start: Pick<EngineStart, 'name' | 'image' | 'labels' | 'spec'>,
): Dockerode.ContainerCreateOptions {
  const { spec } = start;
  const ports = spec.ports ?? [];
  const key = (guest: number) => `${guest}/tcp`;
  return {
    name: start.name,
    Image: start.image,
    Labels: start.labels,
    ...(spec.env ? { Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`) } : {}),
    ...(spec.command ? { Cmd: spec.command } : {}),
    ...(spec.entrypoint ? { Entrypoint: spec.entrypoint } : {}),
    ...(spec.hostname ? { Hostname: spec.hostname } : {}),
    ExposedPorts: Object.fromEntries(ports.map((p) => [key(p.guest), {}])),
    HostConfig: {
      // The engine host's loopback only: the runner reaches it through the SSH tunnel.
      PortBindings: Object.fromEntries(
        ports.map((p) => [key(p.guest), [{ HostIp: '127.0.0.1', HostPort: '' }]]),
      ),
      ...(spec.hosts
        ? { ExtraHosts: Object.entries(spec.hosts).map(([host, ip]) => `${host}:${ip}`) }
        : {}),
      ...(spec.memoryMiB !== undefined ? { Memory: spec.memoryMiB * 1024 * 1024 } : {}),
      ...(spec.vcpus !== undefined ? { NanoCpus: Math.round(spec.vcpus * 1e9) } : {}),
    },
  };
}

/** The host port the engine published for each guest port (on the engine's host). */
function publishedPorts(
  info: Dockerode.ContainerInspectInfo,
  spec: DockerSpec,
): Map<number, number> {
  const published = new Map<number, number>();
  for (const { guest } of spec.ports ?? []) {
    const binding = info.NetworkSettings.Ports?.[`${guest}/tcp`]?.[0];
    const port = Number(binding?.HostPort);
    if (!Number.isInteger(port) || port <= 0) {
      throw new Error(`the engine published no host port for container port ${guest}`);
    }
    published.set(guest, port);
  }
  return published;
}

/** testcontainers' bound-ports shape, for the loopback port strategy. */
function boundPorts(ports: Record<string, number>): Parameters<WaitStrategy['waitUntilReady']>[1] {
  return {
    iterator: () => Object.entries(ports).map(([guest, port]) => [`${guest}/tcp`, port]),
  } as unknown as Parameters<WaitStrategy['waitUntilReady']>[1];
}

/**
 * Creates, fills and starts a container through the engine API, opens a runner tunnel per
 * published port, and waits for its log line or its ports; what it creates is reported through
 * `tracker` (the caller removes it on failure), and tunnels opened before a failure are closed.
 * A call the caller gave up on (`signal` aborted) removes what it still creates afterwards.
 */
export async function startOnEngine(start: EngineStart): Promise<EngineContainer> {
  const starting = startContainer(start);
  start.signal.addEventListener(
    'abort',
    () => {
      start.tracker.cancelled = true;
      const late = async () => {
        const started = await starting.catch(() => undefined);
        await Promise.all((started?.forwards ?? []).map((f) => f.close()));
        const id = started?.containerId ?? start.tracker.containerId;
        if (id) await removeContainer(start.docker, id);
      };
      late().catch(() => undefined);
    },
    { once: true },
  );
  return starting;
}

async function startContainer(start: EngineStart): Promise<EngineContainer> {
  const { docker, tracker, spec, signal } = start;
  const created = await docker.createContainer(createBody(start));
  tracker.containerId = created.id;
  if (tracker.cancelled) throw new Error('provisioning was cancelled');
  await tracker.beforeStart?.(created.id);
  signal.throwIfAborted();
  await created.start();
  const container = start.client.container.getById(created.id);
  start.onLogs(await start.client.container.logs(container));
  const published = publishedPorts(await created.inspect(), spec);
  const forwards: HostForward[] = [];
  try {
    const ports: Record<string, number> = {};
    for (const { guest, host } of spec.ports ?? []) {
      const forward = await start.forward(published.get(guest) as number, host);
      forwards.push(forward);
      ports[String(guest)] = forward.port;
    }
    if (start.readyLog !== undefined) {
      await start.console.waitFor(start.readyLog, { timeoutMs: start.timeoutMs, signal });
    } else if (Object.keys(ports).length > 0) {
      await new LoopbackPortWaitStrategy(start.client, signal)
        .withStartupTimeout(start.timeoutMs)
        .waitUntilReady(container, boundPorts(ports));
    }
    return { containerId: created.id, ports, forwards };
  } catch (error) {
    await Promise.all(forwards.map((f) => f.close()));
    throw error;
  }
}
