import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type {
  LibvirtMachine,
  LibvirtMachineState,
} from '../../src/providers/libvirt/libvirt-machine.js';
import { StandbyPool } from '../../src/providers/libvirt/standby-pool.js';
import type { Virsh } from '../../src/providers/libvirt/virsh.js';

/** A machine as far as the pool uses one: a name, a state, exec for the settle, destroy. */
function fakeMachine(name: string, log: string[]): LibvirtMachine {
  const state = {
    name,
    hostname: `tb-${name}`,
    readiness: { readyPattern: null, cloudInit: false },
  };
  return {
    name,
    state,
    session: { close: () => log.push(`close ${name}`) },
    exec: async () => ({ exitCode: 0, stdout: '', stderr: '' }),
    destroy: async () => {
      log.push(`destroy ${name}`);
    },
  } as unknown as LibvirtMachine;
}

let dir: string;
let log: string[];
let count: number;
const virsh = {
  call: async (args: string[]) => {
    log.push(args.join(' '));
    return { stdout: '', stderr: '', exitCode: 0 };
  },
} as unknown as Virsh;

function pool(options: { restore?: () => Promise<LibvirtMachine>; size?: number } = {}) {
  return new StandbyPool({
    dir,
    restore:
      options.restore ??
      (async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        count += 1;
        return fakeMachine(`m${count}`, log);
      }),
    adopt: (state: LibvirtMachineState) => {
      log.push(`adopt ${state.name}`);
      return fakeMachine(state.name, log);
    },
    virsh,
    size: options.size ?? 1,
    memoryMiB: 256,
    freeMemory: () => 64 * 1024 ** 3,
  });
}

const settled = () => new Promise((resolve) => setTimeout(resolve, 100));

beforeEach(async () => {
  dir = join(await mkdtemp(join(tmpdir(), 'standby-')), 'key');
  log = [];
  count = 0;
});
afterEach(async () => {
  await rm(join(dir, '..'), { recursive: true, force: true });
});

describe('the standby pool', () => {
  it('hands a lease the machine being made, with no pause between', async () => {
    const p = pool();
    p.fill();
    const machine = await p.lease({});
    expect(machine?.name).toBe('m1');
    expect(log).not.toContain('suspend m1');
    await p.drain();
  });

  it('pauses a standby, offers it, and resumes it for the next lease; then makes the next', async () => {
    const p = pool();
    p.fill();
    await settled();
    expect(log).toContain('suspend m1');
    expect(await readdir(dir)).toEqual(['m1.json']);
    const machine = await p.lease({ hostname: 'web' });
    expect(machine?.name).toBe('m1');
    expect(machine?.state.hostname).toBe('web');
    expect(log).toContain('resume m1');
    expect(log.some((l) => l.startsWith('adopt'))).toBe(false);
    await settled();
    expect(await readdir(dir)).toEqual(['m2.json']);
    await p.drain();
  });

  it("lets another pool of the run (another process's) take an offered standby, once", async () => {
    const maker = pool();
    maker.fill();
    await settled();
    await maker.drain();
    expect(log).toContain('close m1');
    const taker = pool({ size: 0 });
    const [first, second] = await Promise.all([taker.lease({}), taker.lease({})]);
    expect([first?.name, second?.name].sort()).toEqual(['m1', undefined].sort());
    expect(log).toContain('adopt m1');
    expect(log).toContain('resume m1');
  });

  it('answers a lease with nothing when the standby fails, instead of waiting for ever', async () => {
    const p = pool({ restore: () => Promise.reject(new Error('no room')) });
    p.fill();
    expect(await p.lease({})).toBeUndefined();
    await p.drain();
  });

  it('leaves leases with a name or networks to a restore of their own', async () => {
    const p = pool();
    expect(await p.lease({ name: 'db' })).toBeUndefined();
    expect(await p.lease({ networks: [{ name: 'lan' }] as never })).toBeUndefined();
    await p.drain();
  });

  it('clears every offered standby at the end of the run', async () => {
    const p = pool({ size: 2 });
    p.fill();
    await settled();
    await p.clear();
    expect(log.filter((l) => l.startsWith('destroy')).sort()).toEqual(['destroy m1', 'destroy m2']);
    await expect(readdir(dir)).rejects.toThrow(/ENOENT/);
  });
});
