import { readFile, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { type CpioEntry, writeCpioNewc } from './cpio-newc.js';
import type { KernelModule } from './kernel-modules.js';

/** What goes into the initramfs. */
export interface InitramfsInputs {
  /** A statically linked busybox. */
  busybox: string;
  /** The `/init` script. */
  init: string;
  /** Modules to load, in load order. */
  modules: readonly KernelModule[];
}

const DIR = 0o040755;
const FILE = 0o100644;
const EXEC = 0o100755;

/**
 * Writes a gzip-compressed newc initramfs: busybox, `/init`, the modules and their load order in
 * `/lib/modules/load-order`, and a `/dev/console` node so init has a console before devtmpfs.
 */
export async function buildInitramfs(inputs: InitramfsInputs, outPath: string): Promise<void> {
  const entries: CpioEntry[] = [
    ...['bin', 'dev', 'lib', 'lib/modules', 'newroot', 'proc', 'sys'].map((path) => ({
      path,
      mode: DIR,
    })),
    { path: 'dev/console', mode: 0o020600, rdev: { major: 5, minor: 1 } },
    { path: 'bin/busybox', mode: EXEC, data: await readFile(inputs.busybox) },
    { path: 'init', mode: EXEC, data: await readFile(inputs.init) },
  ];
  for (const module of inputs.modules) {
    entries.push({
      path: `lib/modules/${module.name}.ko`,
      mode: FILE,
      data: await readFile(module.path),
    });
  }
  const order = inputs.modules.map((m) => `${m.name}\n`).join('');
  entries.push({ path: 'lib/modules/load-order', mode: FILE, data: order });
  await writeFile(outPath, await promisify(gzip)(writeCpioNewc(entries), { level: 9 }));
}
