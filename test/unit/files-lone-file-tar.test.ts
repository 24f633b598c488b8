import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readFile, readlink, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractToHost } from '../../src/files/host-tar.js';
import { parseTarHeader } from '../../src/files/tar-header.js';

type Entry = Parameters<ReturnType<typeof pack>['entry']>[0] & { body?: Buffer };

/** A whole tar archive of `entries`, in one buffer. */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const tar = pack();
  for (const { body, ...header } of entries) tar.entry(header, body ?? Buffer.alloc(0));
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `bytes` as a stream of `size`-byte chunks, as a socket or a pipe would hand them on. */
function chunked(bytes: Buffer, size: number): Readable {
  const chunks: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += size) chunks.push(bytes.subarray(at, at + size));
  return Readable.from(chunks, { objectMode: false });
}

describe('parseTarHeader', () => {
  it('reads name, type, mode, size and mtime of a ustar header', async () => {
    const mtime = new Date(1_700_000_000_000);
    const tar = await tarOf([{ name: 'a.bin', mode: 0o751, mtime, body: Buffer.from('hello') }]);
    expect(parseTarHeader(tar.subarray(0, 512))).toEqual({
      name: 'a.bin',
      type: '0',
      mode: 0o751,
      size: 5,
      mtime,
    });
  });

  it('vouches for no zero block, bad checksum or short block', async () => {
    const tar = await tarOf([{ name: 'a', body: Buffer.from('x') }]);
    const broken = Buffer.from(tar.subarray(0, 512));
    broken[0] = 0x62;
    expect(parseTarHeader(Buffer.alloc(512))).toBeUndefined();
    expect(parseTarHeader(broken)).toBeUndefined();
    expect(parseTarHeader(tar.subarray(0, 300))).toBeUndefined();
  });
});

describe('extractToHost', () => {
  let work: string;
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'testbed-unit-tar-'));
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it.each([1, 100, 511, 512, 513, 65_536])(
    'writes a lone file read in %i-byte chunks, with its mode and mtime',
    async (size) => {
      const body = randomBytes(20_003);
      const mtime = new Date(1_600_000_000_000);
      const tar = await tarOf([{ name: 'big.bin', mode: 0o640, mtime, body }]);
      const target = join(work, `lone-${size}`);
      await extractToHost(chunked(tar, size), target);
      expect((await readFile(target)).equals(body)).toBe(true);
      const info = await stat(target);
      expect(info.mode & 0o777).toBe(0o640);
      expect(info.mtime).toEqual(mtime);
    },
  );

  it('fails on an archive cut inside the file, leaving nothing there', async () => {
    const tar = await tarOf([{ name: 'f', body: randomBytes(10_000) }]);
    const target = join(work, 'cut');
    await expect(extractToHost(chunked(tar.subarray(0, 5000), 700), target)).rejects.toThrow(
      /short of the file's end/,
    );
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('extracts a directory tree with a symlink through the general path', async () => {
    const tar = await tarOf([
      { name: 'app', type: 'directory', mode: 0o755 },
      { name: 'app/run.sh', mode: 0o755, body: Buffer.from('#!/bin/sh\n') },
      { name: 'app/link', type: 'symlink', linkname: 'run.sh' },
    ]);
    const target = join(work, 'tree');
    await extractToHost(chunked(tar, 300), target);
    expect(await readFile(join(target, 'run.sh'), 'utf8')).toBe('#!/bin/sh\n');
    expect((await stat(join(target, 'run.sh'))).mode & 0o777).toBe(0o755);
    expect(await readlink(join(target, 'link'))).toBe('run.sh');
  });

  it('says not-found for an empty archive', async () => {
    await expect(
      extractToHost(chunked(Buffer.alloc(0), 1), join(work, 'none')),
    ).rejects.toMatchObject({
      reason: 'not-found',
    });
  });
});
