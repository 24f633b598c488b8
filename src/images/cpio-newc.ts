/** One entry of a `newc` cpio archive (the format the Linux kernel unpacks as initramfs). */
export interface CpioEntry {
  /** Path inside the archive, without a leading slash. */
  path: string;
  /** Full mode including the file type bits (e.g. `0o100755`, `0o040755`, `0o120777`). */
  mode: number;
  /** File contents, or the target of a symbolic link. */
  data?: Buffer | string;
  /** Device number of a character or block device node. */
  rdev?: { major: number; minor: number };
}

const hex = (value: number) => value.toString(16).padStart(8, '0');
const pad4 = (length: number) => Buffer.alloc((4 - (length % 4)) % 4);

/**
 * Serialises entries as a `newc` cpio archive owned by root with mtime 0: reproducible, and no
 * root privileges or cpio binary needed to give the guest root-owned files and device nodes.
 */
export function writeCpioNewc(entries: readonly CpioEntry[]): Buffer {
  const chunks: Buffer[] = [];
  let offset = 0;
  const push = (buffer: Buffer) => {
    chunks.push(buffer);
    offset += buffer.length;
  };
  const all = [...entries, { path: 'TRAILER!!!', mode: 0 }];
  for (const [index, entry] of all.entries()) {
    const data = Buffer.from(entry.data ?? '');
    const name = Buffer.from(`${entry.path}\0`);
    const isDir = (entry.mode & 0o170000) === 0o040000;
    const fields = [
      entry.path === 'TRAILER!!!' ? 0 : index + 1,
      entry.mode,
      0,
      0,
      isDir ? 2 : 1,
      0,
      data.length,
      0,
      0,
      entry.rdev?.major ?? 0,
      entry.rdev?.minor ?? 0,
      name.length,
      0,
    ];
    push(Buffer.from(`070701${fields.map(hex).join('')}`, 'ascii'));
    push(name);
    push(pad4(offset));
    push(data);
    push(pad4(offset));
  }
  return Buffer.concat(chunks);
}
