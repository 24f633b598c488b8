import { randomBytes } from 'node:crypto';
import { lstat, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pack } from 'tar-stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { extractToHost } from '../../src/files/host-tar.js';
import { socketGet } from '../../src/providers/docker/socket-get.js';

/** A tar archive of one file `name` holding `body`, as Docker's archive API sends it. */
async function loneFileTar(name: string, body: Buffer): Promise<Buffer> {
  const tar = pack();
  tar.entry({ name, mode: 0o600 }, body);
  tar.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of tar as unknown as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/** `bytes` as a chunked HTTP 200 response in 32 KiB chunks (the engine's size), cut after `keep` bytes. */
function chunkedResponse(bytes: Buffer, keep = Number.POSITIVE_INFINITY): string {
  let wire = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n';
  for (let at = 0; at < bytes.length; at += 32_768) {
    const chunk = bytes.subarray(at, at + 32_768);
    wire += `${chunk.length.toString(16)}\r\n${chunk.toString('latin1')}\r\n`;
  }
  return `${wire}0\r\n\r\n`.slice(0, keep);
}

/** What the fake engine answers: the raw bytes, written in pieces of `split` bytes. */
let answer: { wire: string; split: number } = { wire: '', split: 1 };
let request = '';

async function body(path: string): Promise<string> {
  const stream = await socketGet(
    path,
    '/containers/c/archive?path=%2Fx',
    { 'X-A': '1' },
    new AbortController().signal,
  );
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('latin1');
}

describe('socketGet', () => {
  let dir: string;
  let path: string;
  let server: Server;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-unit-sock-'));
    path = join(dir, 'engine.sock');
    server = createServer((socket) => {
      socket.once('data', (data) => {
        request = data.toString('latin1');
        const bytes = Buffer.from(answer.wire, 'latin1');
        for (let at = 0; at < bytes.length; at += answer.split) {
          socket.write(bytes.subarray(at, at + answer.split));
        }
        socket.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  it.each([1, 5, 4096])('de-chunks a 200 body arriving in %i-byte pieces', async (split) => {
    answer = {
      wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n',
      split,
    };
    expect(await body(path)).toBe('abcde');
    expect(request).toMatch(/^GET \/containers\/c\/archive\?path=%2Fx HTTP\/1\.1\r\n/);
    expect(request).toContain('X-A: 1\r\n');
  });

  it('reads a Content-Length body', async () => {
    answer = { wire: 'HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nwxyz', split: 3 };
    expect(await body(path)).toBe('wxyz');
  });

  it("rejects a failed call as dockerode would, with the engine's message", async () => {
    const json = '{"message":"Could not find the file /x in container c"}';
    answer = {
      wire: `HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
      split: 10,
    };
    await expect(body(path)).rejects.toMatchObject({
      statusCode: 404,
      message: '(HTTP code 404) no such container - Could not find the file /x in container c ',
    });
  });

  it('fails the stream when the engine hangs up inside the body', async () => {
    answer = { wire: 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nabc', split: 100 };
    await expect(body(path)).rejects.toThrow(/closed the connection before the archive ended/);
  });

  it('lends a lone file to extractToHost, which writes it whole', async () => {
    const content = randomBytes(300_001);
    answer = { wire: chunkedResponse(await loneFileTar('big.bin', content)), split: 70_000 };
    const target = join(dir, 'lent');
    await extractToHost(await socketGet(path, '/x', {}, new AbortController().signal), target);
    expect((await readFile(target)).equals(content)).toBe(true);
  });

  it('fails a lent copy cut short by the engine, leaving nothing', async () => {
    const tar = await loneFileTar('big.bin', randomBytes(300_001));
    answer = { wire: chunkedResponse(tar, 200_000), split: 70_000 };
    const target = join(dir, 'cut');
    const stream = await socketGet(path, '/x', {}, new AbortController().signal);
    await expect(extractToHost(stream, target)).rejects.toThrow(/closed the connection/);
    await expect(lstat(target)).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('ends with the abort reason when aborted', async () => {
    const aborted = AbortSignal.abort(new Error('stop now'));
    await expect(socketGet(path, '/x', {}, aborted)).rejects.toThrow('stop now');
  });
});
