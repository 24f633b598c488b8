import type { Readable } from 'node:stream';
import { extract as extractStream, pack as packStream } from 'tar-stream';
import { FileTransferError } from '../core/errors.js';
import { checkGuestPath } from './host-tar.js';

/** A tar stream holding one file, `guestPath` relative to `/`, with `data` and `mode`: extract it at `/`. */
export function singleFileTar(
  guestPath: string,
  data: string | Uint8Array,
  mode = 0o644,
): Readable {
  const name = checkGuestPath(guestPath).slice(1);
  const body =
    typeof data === 'string'
      ? Buffer.from(data, 'utf8')
      : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const tar = packStream();
  tar.entry({ name, mode, uid: 0, gid: 0, size: body.length, mtime: new Date() }, body);
  tar.finalize();
  return tar as unknown as Readable;
}

/** The content of the single regular file in a tar stream (Docker's archive of one file, `tar -c` of one). */
export async function readSingleFile(tar: Readable, guestPath: string): Promise<Buffer> {
  const entries = extractStream();
  tar.pipe(entries as unknown as NodeJS.WritableStream);
  tar.once('error', (error) => entries.destroy(error));
  let content: Buffer | undefined;
  for await (const entry of entries) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    if (content === undefined) {
      if (entry.header.type !== 'file') {
        throw new FileTransferError(
          'not-a-directory',
          guestPath,
          `readFile: guest path ${guestPath} is a ${entry.header.type}, not a file.`,
          { fix: 'Use copyFrom() for directories; readFile() reads one regular file.' },
        );
      }
      content = Buffer.concat(chunks);
    }
  }
  if (content === undefined) {
    throw new FileTransferError(
      'not-found',
      guestPath,
      `readFile: guest path ${guestPath} has no content.`,
    );
  }
  return content;
}
