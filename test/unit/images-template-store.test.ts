import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  fingerprintChanges,
  listTemplates,
  planTemplatePrune,
  type TemplateEntry,
  TemplateStore,
  templateKey,
} from '../../src/images/template-store.js';
import { describeSpec } from '../../src/providers/libvirt/stored-templates.js';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'testbed-templates-'));
  dirs.push(dir);
  return dir;
}
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function store() {
  const root = tempDir();
  return { root, store: new TemplateStore(join(root, 'templates'), join(root, 'run')) };
}

const host = { versions: 'libvirt 9.0.0, QEMU 7.2.22', accelerator: 'tcg' };

function options(made: string[], fingerprint = host) {
  return {
    key: 'k1',
    fingerprint,
    label: 'libvirt tiny-vm',
    providerId: 'libvirt',
    make: async (dir: string) => {
      made.push(dir);
      await new Promise((r) => setTimeout(r, 50));
      writeFileSync(join(dir, 'memory.save'), 'state');
    },
    load: async (dir: string) => readFile(join(dir, 'memory.save'), 'utf8'),
  };
}

describe('TemplateStore', () => {
  it('makes an entry once for callers at once, and finds it afterwards', async () => {
    const { store: s, root } = store();
    const made: string[] = [];
    const [a, b] = await Promise.all([s.open(options(made)), s.open(options(made))]);
    expect(made).toHaveLength(1);
    expect([a.origin, b.origin].sort()).toEqual(['made', 'store']);
    expect(a.value).toBe('state');
    expect((await s.open(options(made))).origin).toBe('store');
    expect(made).toHaveLength(1);
    // Staged in the run's directory and moved out: nothing half-made is left there.
    expect(readdirSync(join(root, 'run'))).toEqual([]);
    expect((await listTemplates(join(root, 'templates')))[0]).toMatchObject({
      key: 'k1',
      label: 'libvirt tiny-vm',
      fingerprint: host,
    });
  });

  it('refuses an entry made for another host, says why once, and remakes it', async () => {
    const { store: s } = store();
    const made: string[] = [];
    await s.open(options(made));
    const notes: string[] = [];
    const again = await s.open({
      ...options(made, { ...host, versions: 'libvirt 9.0.0, QEMU 8.0.0' }),
      onNote: (m) => notes.push(m),
    });
    expect(again.origin).toBe('made');
    expect(made).toHaveLength(2);
    expect(notes).toEqual([
      'testbed: warm template libvirt tiny-vm in the store was made for another host (versions: libvirt 9.0.0, QEMU 7.2.22 → libvirt 9.0.0, QEMU 8.0.0); making a new one',
    ]);
  });

  it('remakes an entry that cannot be loaded, and leaves nothing of a make that failed', async () => {
    const { store: s, root } = store();
    const made: string[] = [];
    await s.open(options(made));
    const entry = join(root, 'templates', 'k1');
    rmSync(join(entry, 'memory.save'));
    const notes: string[] = [];
    expect((await s.open({ ...options(made), onNote: (m) => notes.push(m) })).origin).toBe('made');
    expect(notes[0]).toMatch(/cannot be used \(ENOENT.*\); making a new one/);

    const failing = {
      ...options(made),
      key: 'k2',
      make: async () => Promise.reject(new Error('boot failed')),
    };
    await expect(s.open(failing)).rejects.toThrow('boot failed');
    expect(readdirSync(join(root, 'templates')).sort()).toEqual(['k1']);
    expect(readdirSync(join(root, 'run'))).toEqual([]);
  });

  it('invalidates only the entry made at the given time', async () => {
    const { store: s } = store();
    await s.open(options([]));
    const meta = await s.meta('k1');
    await s.invalidate('k1', (meta?.createdAt ?? 0) - 1);
    expect(await s.meta('k1')).toBeDefined();
    await s.invalidate('k1', meta?.createdAt ?? 0);
    expect(await s.meta('k1')).toBeUndefined();
  });
});

describe('templateKey and describeSpec', () => {
  it('keys by content, members in any order; values only identity tells apart are not keyed', () => {
    expect(describeSpec({ image: 'tiny-vm', memoryMiB: 256 })).toBe(
      describeSpec({ memoryMiB: 256, image: 'tiny-vm', name: undefined }),
    );
    expect(describeSpec({ ready: /ok/i })).toBe('{"ready":/ok/i}');
    expect(describeSpec({ ready: /ok/ })).not.toBe(describeSpec({ ready: /ok/i }));
    expect(describeSpec({ check: () => true })).toBeUndefined();
    expect(describeSpec({ stream: new (class Stream {})() })).toBeUndefined();
    expect(templateKey({ spec: 'a' })).toMatch(/^[0-9a-f]{32}$/);
    expect(templateKey({ spec: 'a' })).not.toBe(templateKey({ spec: 'b' }));
  });

  it('lists what changed between two fingerprints', () => {
    expect(fingerprintChanges({ a: '1', b: '2' }, { a: '1', b: '3', c: '4' })).toEqual([
      'b: 2 → 3',
      'c: unset → 4',
    ]);
  });
});

describe('planTemplatePrune', () => {
  const now = Date.parse('2026-12-07T12:00:00Z');
  const day = 86_400_000;
  const entry = (key: string, idleMs: number, bytes: number): TemplateEntry => ({
    key,
    label: key,
    providerId: 'libvirt',
    createdAt: now - idleMs,
    lastUsedAt: now - idleMs,
    fingerprint: {},
    bytes,
    dir: `/t/${key}`,
  });

  it('removes what is past the age, then the least recently used beyond the size; never one in use', () => {
    const entries = [
      entry('in-use', 60_000, 900),
      entry('recent', day, 100),
      entry('older', 2 * day, 100),
      entry('old', 20 * day, 10),
    ];
    const plan = planTemplatePrune(entries, { maxAgeMs: 14 * day, maxBytes: 1050, now });
    expect(plan.map((d) => [d.entry.key, d.remove, d.reason])).toEqual([
      ['in-use', false, 'used in the last 10 minutes'],
      ['recent', false, 'within the limits'],
      ['older', true, 'over the size limit (least recently used first)'],
      ['old', true, 'unused past the age limit'],
    ]);
    const all = planTemplatePrune(entries, { maxAgeMs: 14 * day, maxBytes: 1e12, all: true, now });
    expect(all.filter((d) => d.remove).map((d) => d.entry.key)).toEqual(['recent', 'older', 'old']);
  });
});
