import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { stripPgidLine } from '../../src/ssh/pgid-line.js';

async function filter(chunks: string[]): Promise<{ rest: string; pgid: number | undefined }> {
  let pgid: number | undefined = -1;
  const out: Buffer[] = [];
  const stream = Readable.from(chunks.map((c) => Buffer.from(c))).pipe(
    stripPgidLine((value) => {
      pgid = value;
    }),
  );
  for await (const chunk of stream) out.push(chunk as Buffer);
  return { rest: Buffer.concat(out).toString(), pgid };
}

describe('stripPgidLine', () => {
  it('takes the prologue line off, even split across chunks, and reports the group', async () => {
    expect(await filter(['testbed-pg', 'id 77', '\nwarning\n'])).toEqual({
      rest: 'warning\n',
      pgid: 77,
    });
  });

  it('passes stderr through untouched when the shell printed no line', async () => {
    expect(await filter(['test', 'ing 1 2\n'])).toEqual({ rest: 'testing 1 2\n', pgid: undefined });
    expect(await filter(['te'])).toEqual({ rest: 'te', pgid: undefined });
    expect(await filter([])).toEqual({ rest: '', pgid: undefined });
  });

  it('reads a group of 0 as unknown: the shell started but has no /proc', async () => {
    expect(await filter(['testbed-pgid 0\nrest'])).toEqual({ rest: 'rest', pgid: undefined });
  });

  it('takes only the first line', async () => {
    const twice = 'testbed-pgid 5\ntestbed-pgid 6\n';
    expect(await filter([twice])).toEqual({ rest: 'testbed-pgid 6\n', pgid: 5 });
  });
});
