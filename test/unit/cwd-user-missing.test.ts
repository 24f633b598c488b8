import { spawnSync } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { NoSuchCwdOrUserError } from '../../src/index.js';
import { OciGate, ociExecFailure } from '../../src/providers/docker/oci-exec-failure.js';
import { MISSING_CONTEXT_EXIT, pgidPrologue, stripPgidLine } from '../../src/ssh/pgid-line.js';
import { buildRemoteCommand, contextChecks } from '../../src/ssh/remote-command.js';

/** Runs what an SSH server would run for `pwd` with `options`, in this host's sh as `login`. */
function runAs(login: string, options: { cwd?: string; user?: string }) {
  const script = `${pgidPrologue(contextChecks(options, login))}\n${buildRemoteCommand(['pwd'], options, login)}`;
  const result = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
  return { exitCode: result.status, stdout: result.stdout, stderr: result.stderr };
}

const root = process.getuid?.() === 0;

describe('the SSH prologue checks cwd and user before the command runs', () => {
  it('names a missing directory on its line and exits before the command', () => {
    const missing = runAs('root', { cwd: '/no/such/dir' });
    expect(missing.exitCode).toBe(MISSING_CONTEXT_EXIT);
    expect(missing.stdout).toBe('');
    expect(missing.stderr).toMatch(/^testbed-pgid \d+ cwd\n$/);
    const present = runAs('root', { cwd: '/tmp' });
    expect(present).toMatchObject({ exitCode: 0, stdout: '/tmp\n' });
    expect(present.stderr).toMatch(/^testbed-pgid \d+\n$/);
  });

  it.runIf(root)('names a missing user first, and runs as a user that exists', () => {
    const missing = runAs('root', { user: 'no-such-user', cwd: '/no/such/dir' });
    expect(missing.exitCode).toBe(MISSING_CONTEXT_EXIT);
    expect(missing.stderr).toMatch(/^testbed-pgid \d+ user\n$/);
    expect(runAs('root', { user: 'nobody', cwd: '/tmp' })).toMatchObject({
      exitCode: 0,
      stdout: '/tmp\n',
    });
  });

  it('checks nothing, and prints the plain line, without cwd or user', () => {
    expect(contextChecks({}, 'root')).toEqual({});
    expect(contextChecks({ user: 'root' }, 'root')).toEqual({});
    expect(contextChecks({ user: 'web', cwd: '/srv' }, 'debian').cwd).toContain('sudo -n test -d');
  });

  it('stripPgidLine reports what the line says is missing', async () => {
    const seen: unknown[] = [];
    const stream = Readable.from([Buffer.from('testbed-pgid 81'), Buffer.from('2 user\n')]).pipe(
      stripPgidLine((pgid, missing) => seen.push(pgid, missing)),
    );
    const rest: Buffer[] = [];
    for await (const chunk of stream) rest.push(chunk as Buffer);
    expect(seen).toEqual([812, 'user']);
    expect(Buffer.concat(rest).toString()).toBe('');
  });
});

describe("Docker's reports of a missing cwd or user", () => {
  const noCwd =
    'OCI runtime exec failed: exec failed: unable to start container process: chdir to cwd ("/nope") set in config.json failed: no such file or directory: unknown\r\n';
  const noUser = 'unable to find user nosuch: no matching entries in passwd file\r\n';

  it('are told apart from other failed starts', () => {
    expect(ociExecFailure(noCwd, 126)?.missing).toBe('cwd');
    expect(
      ociExecFailure(noCwd.replace('no such file or directory', 'not a directory'), 126)?.missing,
    ).toBe('cwd');
    expect(ociExecFailure(noUser, 126)).toMatchObject({ exitCode: 126, missing: 'user' });
    expect(ociExecFailure(noUser, 0)).toBeUndefined();
    expect(ociExecFailure('unable to find user, says my program\n', 126)).toBeUndefined();
  });

  it("are held back from the command's stdout", () => {
    const out: Buffer[] = [];
    const stdout = new PassThrough();
    stdout.on('data', (c: Buffer) => out.push(c));
    const gate = new OciGate(stdout);
    gate.write(Buffer.from(noUser.slice(0, 9)));
    gate.write(Buffer.from(noUser.slice(9)));
    expect(gate.settle(126)?.missing).toBe('user');
    expect(Buffer.concat(out).toString()).toBe('');
  });
});

describe('NoSuchCwdOrUserError', () => {
  it('names the directory or user, the machine and the fix', () => {
    const cwd = new NoSuchCwdOrUserError('cwd', '/srv/app', 'testbed-x', 'exec `ls`');
    expect(cwd.code).toBe('TESTBED_NO_SUCH_CWD_OR_USER');
    expect(cwd.message).toContain('working directory /srv/app does not exist');
    expect(cwd.message).toContain('testbed-x');
    expect(cwd.fix).toContain("mkdir', '-p', '/srv/app'");
    const user = new NoSuchCwdOrUserError('user', 'alice', 'testbed-x', 'exec `ls`');
    expect(user.message).toContain("user 'alice' does not exist");
  });
});
