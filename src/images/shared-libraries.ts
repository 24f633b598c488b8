import { readdir, readFile, readlink } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { ImageBuildError } from '../core/errors.js';
import type { RunCommand } from '../core/run-command.js';

/** A file to copy from an extracted package tree into the image. */
export interface LibraryFile {
  /** Path on the host (inside the extracted tree). */
  source: string;
  /** Path inside the image, relative to its root. */
  target: string;
}

/** The `PT_INTERP` program header of an ELF executable: its dynamic loader, if any. */
export function readElfInterpreter(elf: Buffer): string | undefined {
  if (elf.readUInt32BE(0) !== 0x7f454c46 || elf[4] !== 2) return undefined;
  const phoff = Number(elf.readBigUInt64LE(0x20));
  const phentsize = elf.readUInt16LE(0x36);
  const phnum = elf.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const header = phoff + i * phentsize;
    if (elf.readUInt32LE(header) !== 3) continue;
    const offset = Number(elf.readBigUInt64LE(header + 8));
    const size = Number(elf.readBigUInt64LE(header + 32));
    return elf.toString('latin1', offset, offset + size).replace(/\0+$/, '');
  }
  return undefined;
}

/** Follows symbolic links inside `root` as if it were `/`. */
export async function resolveInRoot(root: string, path: string): Promise<string> {
  let current = join(root, path);
  for (let hops = 0; hops < 20; hops++) {
    let target: string;
    try {
      target = await readlink(current);
    } catch {
      return current;
    }
    current = isAbsolute(target) ? join(root, target) : resolve(current, '..', target);
  }
  throw new ImageBuildError(`Too many symbolic links resolving ${path} in ${root}.`);
}

/** Library directories the extracted libc declares in `etc/ld.so.conf.d`. */
async function libraryDirs(root: string): Promise<string[]> {
  const confDir = join(root, 'etc/ld.so.conf.d');
  const dirs: string[] = [];
  for (const name of await readdir(confDir).catch(() => [])) {
    const text = await readFile(join(confDir, name), 'utf8');
    for (const line of text.split('\n')) {
      if (line.startsWith('/')) dirs.push(join(root, line.trim()));
    }
  }
  return dirs;
}

/**
 * Lists the shared libraries `binary` needs, found only inside `root` (packages extracted with
 * `dpkg-deb -x`), by asking the packaged dynamic loader itself (`ld.so --list`). Throws
 * `ImageBuildError` naming any library no extracted package provides.
 */
export async function resolveSharedLibraries(
  binary: string,
  root: string,
  run: RunCommand,
): Promise<LibraryFile[]> {
  const interpreter = readElfInterpreter(await readFile(binary));
  if (!interpreter) return [];
  const loader = await resolveInRoot(root, interpreter);
  const dirs = await libraryDirs(root);
  const { stdout } = await run(loader, ['--library-path', dirs.join(':'), '--list', binary], {
    timeoutMs: 30_000,
  });
  const files: LibraryFile[] = [{ source: loader, target: interpreter.replace(/^\//, '') }];
  const missing: string[] = [];
  for (const line of stdout.split('\n')) {
    const match = /^\s*(\S+) => (.+?)(?: \(0x[0-9a-f]+\))?$/.exec(line);
    if (!match) continue;
    const [, soname, path] = match as unknown as [string, string, string];
    if (path === 'not found' || !resolve(path).startsWith(`${resolve(root)}/`)) {
      missing.push(soname);
    } else if (resolve(path) !== loader) {
      files.push({ source: path, target: relative(root, resolve(path)) });
    }
  }
  if (missing.length > 0) {
    throw new ImageBuildError(
      `${binary} needs ${missing.join(', ')}, which no package in the recipe's libraryPackages provides.`,
      {
        fix: 'Add the Debian package that ships it (`apt-file search <library>`) to libraryPackages in recipe.json.',
      },
    );
  }
  return files;
}
