import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/core/config.js';
import type { MachineStart } from '../../src/harness/machine-start.js';
import { listTemplates } from '../../src/images/template-store.js';
import { LibvirtProvider } from '../../src/providers/libvirt/index.js';
import { runVitest, type VitestRun } from '../fixtures/run-vitest.js';
import { runLeftovers } from './support/run-leftovers.js';

const fixture = resolve(import.meta.dirname, '../fixtures/vitest-store');
const config = loadConfig();
const libvirt = await new LibvirtProvider({ config }).isAvailable();
// A store of its own: the counts below are of templates this suite makes.
const templateDir = mkdtempSync(join(config.stateDir, '..', 'templates-test-'));
chmodSync(templateDir, 0o755);
afterAll(() => rmSync(templateDir, { recursive: true, force: true }));

/** The one entry the store holds. */
async function onlyTemplate() {
  const entries = await listTemplates(templateDir);
  expect(entries).toHaveLength(1);
  const [entry] = entries;
  if (!entry) throw new Error('no template in the store');
  return entry;
}

function starts(run: VitestRun): MachineStart[] {
  return run.tests.map((t) => t.meta?.testbedMachine as MachineStart);
}

async function runSuite(): Promise<{ run: VitestRun; starts: MachineStart[] }> {
  const run = await runVitest(fixture, [], { TESTBED_TEMPLATE_DIR: templateDir }, 400_000);
  expect(run.exitCode, run.output).toBe(0);
  expect(run.report).toMatchObject({ numPassedTests: 9, numFailedTests: 0 });
  const runId = /testbed: run ([a-z0-9]{8})/.exec(run.output)?.[1] ?? '';
  expect(await runLeftovers(runId)).toEqual([]);
  const all = starts(run);
  expect(all.every((s) => s.start === 'warm')).toBe(true);
  expect(new Set(all.map((s) => s.machine)).size).toBe(9);
  return { run, starts: all };
}

describe.skipIf(!libvirt && !process.env.CI)(
  'templates shared by a run and kept across runs',
  () => {
    it('3 files × 3 test-scoped VMs: the first run makes one template, the next none and restores from its first test', async () => {
      const first = await runSuite();
      expect(first.starts.filter((s) => s.templateCreated)).toHaveLength(1);
      expect(first.run.output).toMatch(/warm templates: 1 \(libvirt tiny-vm\), restores: 9/);
      const stored = await listTemplates(templateDir);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ label: 'libvirt tiny-vm', providerId: 'libvirt' });

      const second = await runSuite();
      expect(second.starts.filter((s) => s.templateCreated)).toHaveLength(0);
      expect(second.run.output).toMatch(/warm templates: 0, restores: 9/);
      console.log(`[ready ms] ${second.starts.map((s) => s.readyMs).join(' ')}`);
      for (const s of second.starts) expect(s.readyMs, s.machine).toBeLessThanOrEqual(1000);
    }, 900_000);

    it('refuses an entry made by another QEMU and remakes it; a corrupt save image falls back to a new template', async () => {
      const metaPath = join((await onlyTemplate()).dir, 'meta.json');
      const meta = JSON.parse(readFileSync(metaPath, 'utf8'));
      meta.fingerprint.versions = 'libvirt 9.0.0, QEMU 6.2.0';
      writeFileSync(metaPath, JSON.stringify(meta));
      const foreign = await runSuite();
      expect(foreign.run.output).toMatch(
        /warm template libvirt tiny-vm in the store was made for another host \(versions: libvirt 9\.0\.0, QEMU 6\.2\.0 → libvirt [\d.]+, QEMU [\d.]+\); making a new one/,
      );
      expect(foreign.starts.filter((s) => s.templateCreated)).toHaveLength(1);

      // The header stays readable, the migration stream is cut short: only the restore finds out.
      const remade = await onlyTemplate();
      truncateSync(join(remade.dir, 'memory.save'), 4 * 1024 * 1024);
      const corrupt = await runSuite();
      expect(corrupt.run.output).toMatch(
        /warm template libvirt tiny-vm from the store did not restore \(.*\); making a new one/,
      );
      expect((await onlyTemplate()).createdAt).toBeGreaterThan(remade.createdAt);
      expect(readdirSync(templateDir).filter((n) => !n.endsWith('.lock'))).toHaveLength(1);
    }, 900_000);
  },
);
