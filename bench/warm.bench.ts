import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  createRunContext,
  LibvirtProvider,
  loadConfig,
  type Machine,
  type MachineSpec,
} from '../src/index.js';
import { type Measurement, measure } from './measure.js';

async function firstExec(machine: Machine): Promise<void> {
  const result = await machine.exec?.(['true']);
  if (result?.exitCode !== 0) throw new Error(`exec failed on ${machine.name}`);
}

/**
 * A fresh tiny VM per test, side by side: cold (`provision` → first successful exec) against warm
 * (`restore` of a memory snapshot → first successful exec), a snapshot's cost, three restores at
 * once, and what `destroy()` costs the caller that awaits it.
 */
export async function benchWarm(): Promise<Measurement[]> {
  const provider = new LibvirtProvider();
  if (!(await provider.isAvailable())) return [];
  const run = createRunContext();
  const provisioner = await provider.createProvisioner({ run });
  try {
    const template = await provisioner.provision({ memoryMiB: 256 }); // builds the tiny image on first use
    const destroys: number[] = [];
    const readyTimes = async (
      name: string,
      runs: number,
      start: () => Promise<Machine>,
    ): Promise<Measurement> => {
      // Only start → first exec is timed; each destroy is measured on its own.
      const samples: number[] = [];
      for (let i = 0; i < runs; i++) {
        const started = performance.now();
        const machine = await start();
        await firstExec(machine);
        samples.push(performance.now() - started);
        const destroying = performance.now();
        await machine.destroy();
        destroys.push(performance.now() - destroying);
      }
      return { name, samples };
    };
    const cold = await readyTimes(
      'warm start: cold provision → first exec (tiny, 256 MiB)',
      5,
      () => provisioner.provision({ memoryMiB: 256 }),
    );
    let snapshot: Awaited<ReturnType<NonNullable<Machine['snapshot']>>> | undefined;
    const take = await measure(
      'warm start: snapshot({ memory: true }) of a running VM',
      1,
      async () => {
        snapshot = await template.snapshot?.({ memory: true });
      },
    );
    if (!snapshot) throw new Error('the libvirt provider must offer WarmSnapshot');
    const saved = snapshot;
    const warm = await readyTimes('warm start: restore → first exec', 10, () => saved.restore());
    const parallel: Measurement = {
      name: 'warm start: 3 restores at once → first exec in each',
      samples: [],
    };
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const machines = await Promise.all([saved.restore(), saved.restore(), saved.restore()]);
      await Promise.all(machines.map(firstExec));
      parallel.samples.push(performance.now() - started);
      await Promise.all(machines.map((m) => m.destroy()));
    }
    await saved.destroy();
    await template.destroy();
    const stored = await storedAndPooled({
      label: 'tiny',
      spec: { memoryMiB: 256 },
      runs: 10,
      refillMs: 3000,
    });
    return [
      cold,
      take,
      warm,
      parallel,
      ...stored,
      { name: 'warm start: awaited destroy() of a VM', samples: destroys },
    ];
  } finally {
    await provider.removeRun?.(run.runId);
  }
}

/** What `storedAndPooled` measures: a spec, how often, and how long the pool needs to refill. */
export interface StoredBench {
  label: string;
  spec: MachineSpec;
  runs: number;
  refillMs: number;
}

/**
 * The same machine from the template store (in a directory of its own, so it is made here):
 * a restore with no standby pool, and a lease from the pool once it has a standby ready.
 */
export async function storedAndPooled(bench: StoredBench): Promise<Measurement[]> {
  const templateDir = mkdtempSync(join(tmpdir(), 'testbed-bench-templates-'));
  // QEMU (libvirt-qemu on qemu:///system) opens the stored disks: mkdtemp's 0700 would stop it.
  chmodSync(templateDir, 0o755);
  const rows: Measurement[] = [];
  try {
    for (const standby of ['0', '1']) {
      const config = loadConfig({
        ...process.env,
        TESTBED_TEMPLATE_DIR: templateDir,
        TESTBED_STANDBY: standby,
      });
      const provider = new LibvirtProvider({ config });
      const run = createRunContext();
      const provisioner = await provider.createProvisioner({ run });
      try {
        if (!provisioner.warmTemplate) return [];
        const { spec } = bench;
        let snapshot: Awaited<ReturnType<NonNullable<typeof provisioner.warmTemplate>>> | undefined;
        const make = await measure(
          `warm start: store a template (boot, save; ${bench.label})`,
          1,
          async () => {
            snapshot = await provisioner.warmTemplate?.(spec);
          },
        );
        if (standby === '0') rows.push(make);
        if (!snapshot) throw new Error('no template');
        const template = snapshot;
        const samples: number[] = [];
        for (let i = 0; i < bench.runs; i++) {
          // The pool refills between tests; a lease is timed when a standby is there.
          if (standby === '1') await new Promise((resolve) => setTimeout(resolve, bench.refillMs));
          const started = performance.now();
          const machine = await template.restore();
          await firstExec(machine);
          samples.push(performance.now() - started);
          await machine.destroy();
        }
        rows.push({
          name:
            standby === '0'
              ? `warm start: stored template restore → first exec (no pool; ${bench.label})`
              : `warm start: pooled lease → first exec (${bench.label})`,
          samples,
        });
        await template.destroy();
        await provisioner.releaseStandbys?.();
      } finally {
        await provider.removeRun?.(run.runId);
      }
    }
    return rows;
  } finally {
    rmSync(templateDir, { recursive: true, force: true });
  }
}
