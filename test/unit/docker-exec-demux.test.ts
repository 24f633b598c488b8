import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ExecDemux } from '../../src/providers/docker/exec-demux.js';
import { OciGate, ociExecFailure } from '../../src/providers/docker/oci-exec-failure.js';

function frame(stream: 1 | 2, payload: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

function collected(stream: PassThrough): () => Buffer {
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  return () => Buffer.concat(chunks);
}

describe('ExecDemux', () => {
  it('splits frames cut at every byte boundary into stdout and stderr, bytes intact', async () => {
    const out = randomBytes(70_000);
    const err = Buffer.from('warning\n');
    const wire = Buffer.concat([
      frame(1, out.subarray(0, 30_000)),
      frame(2, err),
      frame(1, out.subarray(30_000)),
    ]);
    for (const cut of [1, 7, 8, 9, 4096, wire.length]) {
      const stdout = new PassThrough();
      const stderr = new PassThrough();
      const [readOut, readErr] = [collected(stdout), collected(stderr)];
      const demux = new ExecDemux(stdout, stderr);
      for (let i = 0; i < wire.length; i += cut) demux.write(wire.subarray(i, i + cut));
      await new Promise((resolve) => demux.end(resolve));
      expect(readOut().equals(out)).toBe(true);
      expect(readErr().toString()).toBe('warning\n');
    }
  });

  it('waits for a slow reader instead of buffering without bound', async () => {
    const stdout = new PassThrough({ highWaterMark: 1024 });
    const demux = new ExecDemux(stdout, new PassThrough());
    let done = false;
    demux.write(frame(1, Buffer.alloc(64 * 1024)), () => {
      done = true;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(done).toBe(false);
    stdout.resume();
    await expect.poll(() => done).toBe(true);
  });
});

describe('ociExecFailure and OciGate', () => {
  const notFound =
    'OCI runtime exec failed: exec failed: unable to start container process: exec: "nope": executable file not found in $PATH: unknown\r\n';

  it('turns the runtime error Docker puts on stdout into 127 (not found) or 126, one clean line', () => {
    expect(ociExecFailure(notFound, 126)).toEqual({
      exitCode: 127,
      message: notFound.replace('\r\n', '\n'),
    });
    const denied = notFound.replace('executable file not found in $PATH', 'permission denied');
    expect(ociExecFailure(denied, 126)?.exitCode).toBe(126);
    expect(ociExecFailure(notFound, 0)).toBeUndefined();
    expect(ociExecFailure('OCI? no, just output', 126)).toBeUndefined();
  });

  it('holds back only output that starts like the runtime error, and releases it when it is not one', () => {
    const stdout = new PassThrough();
    const read = collected(stdout);
    const gate = new OciGate(stdout);
    gate.write(Buffer.from('OCI runtime exec failed (a program'));
    expect(read().length).toBe(0);
    expect(gate.settle(0)).toBeUndefined();
    expect(read().toString()).toBe('OCI runtime exec failed (a program');

    const plain = new PassThrough();
    const readPlain = collected(plain);
    const open = new OciGate(plain);
    open.write(Buffer.from('O'));
    open.write(Buffer.from('K\n'));
    expect(readPlain().toString()).toBe('OK\n');
    expect(open.settle(126)).toBeUndefined();
  });
});
