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
