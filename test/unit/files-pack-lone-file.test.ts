import { randomBytes } from 'node:crypto';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { extract } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packHostPath } from '../../src/files/host-tar.js';
import { eachChunk } from '../../src/files/lend-chunks.js';
import { encodeFileHeader, parseTarHeader } from '../../src/files/tar-header.js';

/** The entries tar-stream reads from `tar`: header fields and content. */
async function entries(tar: Buffer) {
  const found: { name: string; mode: number; uid: number; size: number; body: Buffer }[] = [];
  const reader = extract();
  Readable.from([tar]).pipe(reader as unknown as NodeJS.WritableStream);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    const { name, mode = 0, uid = -1, size = -1 } = entry.header;
    found.push({ name, mode, uid, size, body: Buffer.concat(chunks) });
  }
  return found;
}

describe('encodeFileHeader', () => {
  it('writes a header parseTarHeader reads back, splitting a long name at a slash', () => {
    const long = `${'d'.repeat(80)}/${'e'.repeat(60)}/file.bin`;
    const mtime = new Date(1_700_000_000_000);
    for (const name of ['tmp/a.bin', long]) {
      const block = encodeFileHeader(name, 0o100755, 12345, mtime);
      expect(block && parseTarHeader(block)).toEqual({
        name,
        type: '0',
        mode: 0o755,
        size: 12345,
        mtime,
      });
    }
  });

  it('leaves what ustar cannot name to a general writer', () => {
    expect(encodeFileHeader('x'.repeat(101), 0o644, 1, new Date())).toBeUndefined();
    expect(encodeFileHeader('a', 0o644, 8 ** 11, new Date())).toBeUndefined();
  });
});

describe('packHostPath of a lone file', () => {
  let work: string;
  const content = randomBytes(2_500_001);
  beforeAll(async () => {
    work = await mkdtemp(join(tmpdir(), 'testbed-unit-pack-'));
    await writeFile(join(work, 'big.bin'), content);
    await chmod(join(work, 'big.bin'), 0o751);
  });
  afterAll(async () => {
    await rm(work, { recursive: true, force: true });
  });

  it.each(['read as a stream', 'lent in place'])(
    'gives a tar any reader takes, %s',
    async (how) => {
      const tar = await packHostPath(join(work, 'big.bin'), '/srv/app/big.bin');
      const chunks: Buffer[] = [];
      if (how === 'lent in place') {
        await eachChunk(tar, (piece) => {
          chunks.push(Buffer.from(piece));
        });
      } else {
        for await (const chunk of tar) chunks.push(chunk as Buffer);
      }
      const [entry, ...more] = await entries(Buffer.concat(chunks));
      expect(more).toEqual([]);
      expect(entry).toMatchObject({
        name: 'srv/app/big.bin',
        mode: 0o751,
        uid: 0,
        size: content.length,
      });
      expect(entry?.body.equals(content)).toBe(true);
    },
  );

  it('lends each piece until its use is done, one piece ahead', async () => {
    const tar = await packHostPath(join(work, 'big.bin'), '/big.bin');
    const copies: Buffer[] = [];
    await eachChunk(tar, async (piece) => {
      await new Promise((resolve) => setTimeout(resolve, 1));
      copies.push(Buffer.from(piece));
    });
    const [entry] = await entries(Buffer.concat(copies));
    expect(entry?.body.equals(content)).toBe(true);
  });
});
