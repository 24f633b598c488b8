/** Bytes in a tar block: each header, and the unit file data is padded to. */
export const TAR_BLOCK = 512;

/** The fields of a ustar header that extracting one regular file needs. */
export interface TarHeader {
  /** The entry's path (the ustar prefix joined in front when there is one). */
  name: string;
  /** The type flag: `'0'` (or `'\0'`) a regular file, `'5'` a directory, `'x'` a pax header, ... */
  type: string;
  mode: number;
  size: number;
  mtime: Date;
}

function text(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString('utf8', start, end === -1 || end > start + length ? start + length : end);
}

function octal(block: Buffer, start: number, length: number): number | undefined {
  const digits = text(block, start, length).trim();
  return /^[0-7]+$/.test(digits) ? Number.parseInt(digits, 8) : undefined;
}

/**
 * The header in one 512-byte `block`, or undefined when it is none this parser vouches for: a
 * zero block, a bad checksum, no ustar magic, or a base-256 number (a general tar reader copes).
 */
export function parseTarHeader(block: Buffer): TarHeader | undefined {
  if (block.length < TAR_BLOCK || block.toString('latin1', 257, 262) !== 'ustar') return undefined;
  let sum = 8 * 0x20; // the checksum field itself counts as eight spaces
  for (let i = 0; i < TAR_BLOCK; i++) if (i < 148 || i >= 156) sum += block[i] ?? 0;
  const mode = octal(block, 100, 8);
  const size = octal(block, 124, 12);
  const mtime = octal(block, 136, 12);
  if (octal(block, 148, 8) !== sum || mode === undefined || size === undefined) return undefined;
  // GNU's old format ("ustar  ") keeps other fields where POSIX has the name prefix.
  const prefix = block[262] === 0 ? text(block, 345, 155) : '';
  const name = text(block, 0, 100);
  return {
    name: prefix ? `${prefix}/${name}` : name,
    type: String.fromCharCode(block[156] ?? 0),
    mode,
    size,
    mtime: new Date((mtime ?? 0) * 1000),
  };
}

function putOctal(block: Buffer, value: number, start: number, length: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\0`, start, length, 'latin1');
}

/**
 * A ustar header block for the regular file `name` (owned by root, as `docker cp` makes copies),
 * or undefined when ustar cannot hold it (a name too long to split, 8 GiB or more): a general
 * tar writer copes with those.
 */
export function encodeFileHeader(
  name: string,
  mode: number,
  size: number,
  mtime: Date,
): Buffer | undefined {
  const bytes = Buffer.byteLength(name);
  const split = bytes <= 100 ? -1 : name.indexOf('/', bytes - 101);
  const prefix = split === -1 ? '' : name.slice(0, split);
  const rest = split === -1 ? name : name.slice(split + 1);
  const fits = Buffer.byteLength(rest) <= 100 && Buffer.byteLength(prefix) <= 155;
  if (!fits || (bytes > 100 && split === -1) || size >= 8 ** 11) return undefined;
  const block = Buffer.alloc(TAR_BLOCK);
  block.write(rest, 0, 100, 'utf8');
  putOctal(block, mode & 0o7777, 100, 8);
  putOctal(block, 0, 108, 8);
  putOctal(block, 0, 116, 8);
  putOctal(block, size, 124, 12);
  putOctal(block, Math.floor(mtime.getTime() / 1000), 136, 12);
  block.write('0', 156, 'latin1');
  block.write('ustar\u000000', 257, 'latin1');
  block.write(prefix, 345, 155, 'utf8');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return block;
}
