import { constants } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { ProvisionError } from '../../core/errors.js';
import type { RunCommand } from '../../core/run-command.js';

/**
 * libvirt's QEMU save image (`virsh save`, format version 2 since libvirt 0.9): a 92-byte header
 * (magic, version, data length, was-running, compression, cookie offset, 14 unused words), then
 * `data length` bytes holding the domain XML and libvirt's cookie, each NUL-terminated and padded
 * with zeros, then QEMU's migration stream. See libvirt's src/qemu/qemu_saveimage.h.
 */
const MAGIC = Buffer.from('LibvirtQemudSave');
const VERSION = 2;
const HEADER_BYTES = MAGIC.length + 5 * 4 + 14 * 4;
const DATA_LENGTH_AT = MAGIC.length + 4;
const COMPRESSED_AT = MAGIC.length + 12;
const COOKIE_AT = MAGIC.length + 16;

/** What a save image says about the domain it holds. */
export interface SaveImage {
  /** The domain XML the image restores. */
  xml: string;
  /** libvirt's cookie (CPU model and the like), kept as is. */
  cookie: Buffer;
  /** Room for XML and cookie: fixed, since the migration stream follows it. */
  dataLength: number;
}

function invalid(path: string, why: string): ProvisionError {
  return new ProvisionError(`${path} is not a save image this libvirt can restore: ${why}.`, {
    fix: 'Take the snapshot again with this host’s libvirt (`machine.snapshot({ memory: true })`).',
  });
}

function untilNul(buffer: Buffer, start: number): Buffer {
  const end = buffer.indexOf(0, start);
  return buffer.subarray(start, end === -1 ? buffer.length : end);
}

/** Reads the header, XML and cookie of a save image. */
export async function readSaveImage(path: string): Promise<SaveImage> {
  const file = await open(path, 'r');
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    await file.read(header, 0, HEADER_BYTES, 0);
    if (!header.subarray(0, MAGIC.length).equals(MAGIC)) throw invalid(path, 'no libvirt header');
    const version = header.readUInt32LE(MAGIC.length);
    if (version !== VERSION) throw invalid(path, `header version ${version}, not ${VERSION}`);
    if (header.readUInt32LE(COMPRESSED_AT) !== 0) throw invalid(path, 'it is compressed');
    const dataLength = header.readUInt32LE(DATA_LENGTH_AT);
    const data = Buffer.alloc(dataLength);
    await file.read(data, 0, dataLength, HEADER_BYTES);
    const xml = untilNul(data, 0).toString('utf8');
    const cookie = Buffer.from(untilNul(data, header.readUInt32LE(COOKIE_AT)));
    return { xml, cookie, dataLength };
  } finally {
    await file.close();
  }
}

/** Bytes of the migration stream passed on at a time. */
const CHUNK_BYTES = 4 * 1024 ** 2;

/** The header and data section of `image` rewritten to restore `xml` instead. */
function retargetedHead(source: string, header: Buffer, image: SaveImage, xml: string): Buffer {
  const xmlBytes = Buffer.from(`${xml}\0`, 'utf8');
  const used = xmlBytes.length + image.cookie.length + 1;
  if (used > image.dataLength) {
    throw invalid(
      source,
      `the new domain XML needs ${used} bytes, the image has room for ${image.dataLength}`,
    );
  }
  const head = Buffer.alloc(HEADER_BYTES + image.dataLength);
  header.copy(head, 0, 0, HEADER_BYTES);
  head.writeUInt32LE(xmlBytes.length, COOKIE_AT);
  xmlBytes.copy(head, HEADER_BYTES);
  image.cookie.copy(head, HEADER_BYTES + xmlBytes.length);
  return head;
}

/** A save image being fed to a restore through a named pipe (see `feedRetargetedSaveImage`). */
export interface SaveImageFeed {
  /** The pipe to restore from. */
  path: string;
  /** Settles once the image went through the pipe whole, or rejects if the reader went away. */
  done: Promise<void>;
  /** Lets the feed go (the restore failed before reading it all) and removes the pipe. */
  close(): Promise<void>;
}

/**
 * Serves the save image at `source` through a named pipe at `fifo`, retargeted at `xml`: libvirt
 * lets a restore change only disk and log paths, never the name, so an image that serves many
 * machines is rewritten per machine. Through a pipe the rewrite costs no copy of the memory on
 * disk (63 MB for the tiny image): libvirt reads the header, then passes the stream on to QEMU.
 */
export async function feedRetargetedSaveImage(
  source: string,
  fifo: string,
  image: SaveImage,
  xml: string,
  run: RunCommand,
): Promise<SaveImageFeed> {
  const input = await open(source, 'r');
  let head: Buffer;
  try {
    const header = Buffer.alloc(HEADER_BYTES);
    await input.read(header, 0, HEADER_BYTES, 0);
    head = retargetedHead(source, header, image, xml);
    await run('mkfifo', ['-m', '0644', fifo], { timeoutMs: 10_000 });
  } catch (error) {
    await input.close();
    throw error;
  }
  let closed = false;
  const done = (async () => {
    try {
      // Waits for the reader: libvirtd opening the pipe for the restore.
      const output = await open(fifo, 'w');
      try {
        if (closed) return;
        await output.write(head);
        const chunk = Buffer.alloc(CHUNK_BYTES);
        for (let at = head.length; !closed; ) {
          const { bytesRead } = await input.read(chunk, 0, CHUNK_BYTES, at);
          if (bytesRead === 0) break;
          await output.write(chunk, 0, bytesRead);
          at += bytesRead;
        }
      } finally {
        await output.close();
      }
    } finally {
      await input.close();
    }
  })();
  return {
    path: fifo,
    done,
    async close() {
      closed = true;
      // A writer still waiting for a reader is let go by one that opens and leaves at once.
      const reader = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK).catch(
        () => undefined,
      );
      await reader?.close();
      await done.catch(() => {});
      await rm(fifo, { force: true });
    },
  };
}
