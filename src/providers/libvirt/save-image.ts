import { copyFile, open } from 'node:fs/promises';
import { ProvisionError } from '../../core/errors.js';

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

/**
 * Writes a copy of the save image at `source` to `target` that restores `xml` instead: libvirt
 * lets a restore change only disk and log paths, never the name, so a save image that serves many
 * machines is rewritten per machine. The migration stream is copied unchanged (a reflink or an
 * in-kernel copy where the file system offers one).
 */
export async function writeRetargetedSaveImage(
  source: string,
  target: string,
  image: SaveImage,
  xml: string,
): Promise<void> {
  const xmlBytes = Buffer.from(`${xml}\0`, 'utf8');
  const used = xmlBytes.length + image.cookie.length + 1;
  if (used > image.dataLength) {
    throw invalid(
      source,
      `the new domain XML needs ${used} bytes, the image has room for ${image.dataLength}`,
    );
  }
  await copyFile(source, target);
  const data = Buffer.alloc(image.dataLength);
  xmlBytes.copy(data, 0);
  image.cookie.copy(data, xmlBytes.length);
  const file = await open(target, 'r+');
  try {
    const offset = Buffer.alloc(4);
    offset.writeUInt32LE(xmlBytes.length);
    await file.write(offset, 0, 4, COOKIE_AT);
    await file.write(data, 0, data.length, HEADER_BYTES);
  } finally {
    await file.close();
  }
}
