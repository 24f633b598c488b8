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

/** The reaper module of testcontainers 11 (a constant) or 12 (a function read at each call). */
interface ReaperModule {
  REAPER_IMAGE?: string;
  getReaperImage?: () => string;
}

/** The Ryuk image testcontainers would start (honours RYUK_CONTAINER_IMAGE). */
export async function ryukImageName(): Promise<string> {
  const reaper: ReaperModule = await import('testcontainers/build/reaper/reaper.js');
  const image = reaper.getReaperImage?.() ?? reaper.REAPER_IMAGE;
  if (!image) throw new Error('this testcontainers version names no Ryuk image');
  return image;
}
