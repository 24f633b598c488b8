import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { type RunCommand, runCommand } from '../../core/run-command.js';

/** Creates a qcow2 overlay whose backing file is `backing`; the backing file is never written. */
export async function createOverlay(
  backing: string,
  overlay: string,
  options: {
    run?: RunCommand;
    signal?: AbortSignal;
    format?: 'qcow2' | 'raw';
    /** Virtual size of the overlay; larger than the base makes room (the guest grows into it). */
    sizeGiB?: number | undefined;
  } = {},
): Promise<void> {
  const run = options.run ?? runCommand;
  const format = options.format ?? 'qcow2';
  const size = options.sizeGiB === undefined ? [] : [`${options.sizeGiB}G`];
  const args = ['create', '-q', '-f', 'qcow2', '-b', backing, '-F', format, overlay, ...size];
  await run('qemu-img', args, {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/** The virtual size of a disk image in bytes, as `qemu-img info` reports it. */
export async function virtualSizeOf(
  image: string,
  options: { run?: RunCommand; signal?: AbortSignal } = {},
): Promise<number> {
  const run = options.run ?? runCommand;
  const { stdout } = await run('qemu-img', ['info', '-U', '--output=json', image], {
    timeoutMs: 30_000,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return (JSON.parse(stdout) as { 'virtual-size': number })['virtual-size'];
}

/** True when the image's first sector ends with the boot signature 0x55AA (an MBR or GPT's protective MBR). */
export async function hasBootSector(
  image: string,
  format: 'qcow2' | 'raw',
  scratchDir: string,
  options: { run?: RunCommand; signal?: AbortSignal } = {},
): Promise<boolean> {
  const run = options.run ?? runCommand;
  const sector = join(scratchDir, `.sector-${process.pid}-${Date.now()}`);
  try {
    await run(
      'qemu-img',
      ['dd', '-U', '-f', format, '-O', 'raw', 'bs=512', 'count=1', `if=${image}`, `of=${sector}`],
      { timeoutMs: 30_000, ...(options.signal ? { signal: options.signal } : {}) },
    );
    const bytes = await readFile(sector);
    return bytes.length >= 512 && bytes[510] === 0x55 && bytes[511] === 0xaa;
  } finally {
    await rm(sector, { force: true });
  }
}
