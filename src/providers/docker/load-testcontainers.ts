import type { ContainerRuntimeClient } from 'testcontainers';

/** The testcontainers module, loaded on first use only. */
export type TestcontainersModule = typeof import('testcontainers');

let loading: Promise<TestcontainersModule> | undefined;

/** Imports testcontainers once, when the Docker provider first needs it, so core users never pay for it. */
export function loadTestcontainers(): Promise<TestcontainersModule> {
  loading ??= import('testcontainers');
  return loading;
}

/** testcontainers' connection to the engine (its own discovery: DOCKER_HOST, ~/.testcontainers.properties, sockets). */
export async function runtimeClient(): Promise<ContainerRuntimeClient> {
  return (await loadTestcontainers()).getContainerRuntimeClient();
}

/** The Ryuk image testcontainers would start (honours RYUK_CONTAINER_IMAGE). */
export async function ryukImageName(): Promise<string> {
  const reaper = await import('testcontainers/build/reaper/reaper.js');
  return reaper.REAPER_IMAGE;
}
