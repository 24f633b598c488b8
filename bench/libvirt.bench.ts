import { execa } from 'execa';
import { createRunContext, LibvirtProvider, type Machine, Wait } from '../src/index.js';
import { SERVE_8080, withBigFile } from './deploy-fixtures.js';
import { type Measurement, measure, measureInterleaved } from './measure.js';

/** OpenSSH client arguments that reach `machine` as testbed does (its key, its forwarded port). */
function sshArgs(machine: Machine): string[] {
  const ssh = machine.ssh;
  if (!ssh) throw new Error('the libvirt provider must offer SshAccess');
  return [
    '-i',
    ssh.privateKeyPath,
    '-p',
    String(ssh.port),
    '-o',
    'StrictHostKeyChecking=no',
    '-o',
    'UserKnownHostsFile=/dev/null',
    '-o',
    'LogLevel=ERROR',
    '-o',
    'BatchMode=yes',
    `${ssh.username}@${ssh.host}`,
  ];
}

/** VM provision → SSH-ready under this host's accelerator, exec over SSH, clone, destroy. */
export async function benchLibvirt(): Promise<Measurement[]> {
  const provider = new LibvirtProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  try {
    const machine = await provisioner.provision({ ports: [8080] }); // builds the tiny image on first use
    const { exec, clone } = machine;
    if (!exec || !clone) throw new Error('the libvirt provider must offer Exec and CloneVm');
    const rows = [
      await measure('libvirt: provision → SSH ready → destroy', 3, async () => {
        const vm = await provisioner.provision();
        await vm.destroy();
      }),
      await measure('libvirt: exec `true` over the reused SSH connection', 20, () =>
        exec.call(machine, ['true']),
      ),
      await measure('libvirt: raw `ssh … true` (a new connection each)', 10, () =>
        execa('ssh', [...sshArgs(machine), 'true']),
      ),
      await measure('libvirt: clone → SSH ready → destroy', 3, async () => {
        const copy = await clone.call(machine);
        await copy.destroy();
      }),
    ];
    rows.push(
      ...(await withBigFile((file) =>
        measureInterleaved(3, {
          'libvirt: copyTo 50 MiB': async () => machine.copyTo?.(file, '/root/big.bin'),
          "libvirt: raw `ssh … 'cat > f' < file` 50 MiB (no scp in the guest)": () =>
            execa('ssh', [...sshArgs(machine), 'cat > /root/big-ssh.bin'], { inputFile: file }),
          'libvirt: copyFrom 50 MiB': async () =>
            machine.copyFrom?.('/root/big.bin', `${file}.back`),
          "libvirt: raw `ssh … 'cat f' > file` 50 MiB": () =>
            execa('ssh', [...sshArgs(machine), 'cat /root/big-ssh.bin'], {
              stdout: { file: `${file}.ssh` },
            }),
        }),
      )),
    );
    await exec.call(machine, SERVE_8080);
    await machine.waitUntil(Wait.forHttp(8080, '/index.html'), { timeoutMs: 30_000 });
    rows.push(
      await measure('libvirt: HTTP GET through endpoint()', 20, async () => {
        await (await fetch(machine.url?.(8080, '/index.html') ?? '')).text();
      }),
    );
    await machine.destroy();
    return rows;
  } finally {
    await provider.removeRun?.(run.runId);
  }
}
