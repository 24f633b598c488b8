import { PassThrough } from 'node:stream';
import { finished } from 'node:stream/promises';
import type Dockerode from 'dockerode';
import { ExecDemux } from './exec-demux.js';

/** The exit code of a container whose command has ended; undefined while it runs (or before it started). */
export async function exitCodeOf(
  docker: Dockerode,
  containerId: string,
): Promise<number | undefined> {
  const info = await docker
    .getContainer(containerId)
    .inspect()
    .catch(() => undefined);
  return info?.State.Status === 'exited' || info?.State.Status === 'dead'
    ? info.State.ExitCode
    : undefined;
}

/** The last `lines` lines a container wrote (stdout and stderr, interleaved as written), read whole from the engine. */
export async function endedLogTail(
  docker: Dockerode,
  containerId: string,
  lines: number,
): Promise<string> {
  const log = (await docker
    .getContainer(containerId)
    .logs({ stdout: true, stderr: true, follow: false, tail: lines })) as unknown as Buffer;
  const text = new PassThrough();
  const chunks: Buffer[] = [];
  text.on('data', (chunk: Buffer) => chunks.push(chunk));
  const demux = new ExecDemux(text, text);
  demux.end(log);
  await finished(demux);
  return Buffer.concat(chunks).toString('utf8').replace(/\n$/, '');
}
