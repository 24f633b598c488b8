import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isTestbedError } from '../../src/core/errors.js';
import { runCommand } from '../../src/core/run-command.js';
import { feedRetargetedSaveImage, readSaveImage } from '../../src/providers/libvirt/save-image.js';

// A save image as libvirt writes one: header, XML and cookie padded to data_len, then the stream.
function saveImage(xml: string, cookie: string, dataLength: number, stream: Buffer): Buffer {
  const header = Buffer.alloc(92);
  header.write('LibvirtQemudSave', 0, 'latin1');
  header.writeUInt32LE(2, 16);
  header.writeUInt32LE(dataLength, 20);
  header.writeUInt32LE(1, 24);
  header.writeUInt32LE(0, 28);
  header.writeUInt32LE(Buffer.byteLength(xml) + 1, 32);
  const data = Buffer.alloc(dataLength);
  data.write(xml, 0);
  data.write(cookie, Buffer.byteLength(xml) + 1);
  return Buffer.concat([header, data, stream]);
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'save-image-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('save images', () => {
  const stream = Buffer.from(Array.from({ length: 4096 }, (_, i) => i % 251));

  it('reads the XML and cookie, and rewrites the XML leaving the stream byte for byte', async () => {
    const source = join(dir, 'a.save');
    await writeFile(source, saveImage('<domain>old</domain>', '<cookie/>', 1024, stream));
    const image = await readSaveImage(source);
    expect(image).toMatchObject({ xml: '<domain>old</domain>', dataLength: 1024 });
    expect(image.cookie.toString()).toBe('<cookie/>');
    const target = join(dir, 'b.save');
    const feed = await feedRetargetedSaveImage(
      source,
      join(dir, 'b.fifo'),
      image,
      '<domain>a longer new name</domain>',
      runCommand,
    );
    // The restore's side: libvirtd reads the pipe as a file.
    await writeFile(target, await readFile(feed.path));
    await feed.done;
    await feed.close();
    await expect(readFile(feed.path)).rejects.toThrow(/ENOENT/);
    const again = await readSaveImage(target);
    expect(again.xml).toBe('<domain>a longer new name</domain>');
    expect(again.cookie.toString()).toBe('<cookie/>');
    const bytes = await readFile(target);
    expect(bytes.length).toBe(92 + 1024 + stream.length);
    expect(bytes.subarray(92 + 1024).equals(stream)).toBe(true);
  });

  it('refuses what it cannot restore: no header, compressed, an XML past the padding', async () => {
    const plain = join(dir, 'plain.save');
    await writeFile(plain, Buffer.alloc(200));
    expect(
      isTestbedError(
        await readSaveImage(plain).catch((e: unknown) => e),
        'TESTBED_PROVISION_FAILED',
      ),
    ).toBe(true);
    const compressed = saveImage('<domain/>', '', 256, stream);
    compressed.writeUInt32LE(1, 28);
    await writeFile(plain, compressed);
    await expect(readSaveImage(plain)).rejects.toThrow(/compressed/);
    const small = join(dir, 'small.save');
    await writeFile(small, saveImage('<domain/>', '<c/>', 32, stream));
    const image = await readSaveImage(small);
    await expect(
      feedRetargetedSaveImage(
        small,
        join(dir, 'c.fifo'),
        image,
        `<domain>${'x'.repeat(40)}</domain>`,
        runCommand,
      ),
    ).rejects.toThrow(/room for 32/);
  });

  it('lets a feed go that nobody read (the restore failed first), leaving no pipe', async () => {
    const source = join(dir, 'unread.save');
    await writeFile(source, saveImage('<domain>old</domain>', '<cookie/>', 1024, stream));
    const feed = await feedRetargetedSaveImage(
      source,
      join(dir, 'unread.fifo'),
      await readSaveImage(source),
      '<domain>new</domain>',
      runCommand,
    );
    await feed.close();
    await expect(readFile(feed.path)).rejects.toThrow(/ENOENT/);
  });
});
