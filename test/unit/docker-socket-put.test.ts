import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { socketPut } from '../../src/providers/docker/socket-put.js';

/** How the fake engine handles one request: everything it received so far, and the socket. */
let handle: (received: Buffer, socket: Socket) => void = () => undefined;

describe('socketPut', () => {
  let dir: string;
  let path: string;
  let server: Server;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'testbed-unit-put-'));
    path = join(dir, 'engine.sock');
    server = createServer((socket) => {
      let received = Buffer.alloc(0);
      socket.on('data', (data: Buffer) => {
        received = Buffer.concat([received, data]);
        handle(received, socket);
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const put = (body: Readable) =>
    socketPut(path, '/c/archive?path=%2F', {}, body, new AbortController().signal);

  it('sends the body chunk-encoded and resolves on 200', async () => {
    let request = '';
    handle = (received, socket) => {
      if (!received.toString('latin1').endsWith('0\r\n\r\n')) return;
      request = received.toString('latin1');
      socket.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n');
    };
    await put(Readable.from([Buffer.from('abc'), Buffer.from('de')]));
    expect(request).toMatch(/^PUT \/c\/archive\?path=%2F HTTP\/1\.1\r\n/);
    expect(request).toContain('Transfer-Encoding: chunked\r\n');
    expect(request.endsWith('\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n')).toBe(true);
  });

  it("rejects with the engine's early answer, as dockerode words it", async () => {
    const json = '{"message":"write /small/big.bin: no space left on device"}';
    handle = (_received, socket) => {
      socket.write(
        `HTTP/1.1 500 Internal Server Error\r\nContent-Length: ${json.length}\r\n\r\n${json}`,
      );
      // Like the engine: answer at once, hang up a moment later.
      setTimeout(() => socket.destroy(), 20);
      handle = () => undefined;
    };
    const endless = new Readable({
      read() {
        this.push(Buffer.alloc(65_536));
      },
    });
    await expect(put(endless)).rejects.toMatchObject({
      statusCode: 500,
      message: '(HTTP code 500) server error - write /small/big.bin: no space left on device ',
    });
  });

  it("rejects with the source's own error", async () => {
    handle = () => undefined;
    const failing = new Readable({
      read() {
        this.destroy(Object.assign(new Error('EACCES: permission denied'), { path: '/h/f' }));
      },
    });
    await expect(put(failing)).rejects.toMatchObject({ path: '/h/f' });
  });
});
