import type { Readable } from 'node:stream';
import { extract, pack } from 'tar-stream';

/** A copy of the tar stream `tar` in which the entry named `name` (the copied file or directory itself) has `mode`. */
export function withTopMode(tar: Readable, name: string, mode: number): Readable {
  const entries = extract();
  const output = pack();
  entries.on('entry', (header, body, next) => {
    if (header.name.replace(/\/+$/, '') === name) header.mode = mode;
    if (header.type === 'file') return body.pipe(output.entry(header, next));
    output.entry(header, next);
    body.resume();
  });
  entries.once('finish', () => output.finalize());
  entries.once('error', (error) => output.destroy(error));
  tar.once('error', (error) => output.destroy(error));
  tar.pipe(entries as unknown as NodeJS.WritableStream);
  return output as unknown as Readable;
}
