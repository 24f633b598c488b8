import type { MachineStart } from './machine-start.js';

/**
 * One line on the run's test-scoped machines when any started warm, e.g. `testbed: test machines:
 * 10; warm templates: 1 (libvirt tiny-vm), restores: 9, cold boots: 1; teardown wait per test:
 * median 2 ms, max 9 ms`. Undefined when none started warm (nothing new to say).
 */
export function formatMachineSummary(records: readonly MachineStart[]): string | undefined {
  const warm = records.filter((r) => r.start === 'warm');
  if (warm.length === 0) return undefined;
  const templates = new Map<string, number>();
  for (const r of records) {
    if (r.templateCreated && r.template)
      templates.set(r.template, (templates.get(r.template) ?? 0) + 1);
  }
  const made = [...templates.values()].reduce((a, b) => a + b, 0);
  const labels = [...templates].map(([label, n]) => (n > 1 ? `${label} ×${n}` : label)).join(', ');
  const parts = [
    `testbed: test machines: ${records.length}`,
    `warm templates: ${made}${labels ? ` (${labels})` : ''}, restores: ${warm.length}, cold boots: ${records.length - warm.length}`,
  ];
  const waits = records
    .map((r) => r.teardownWaitMs)
    .filter((ms): ms is number => ms !== undefined)
    .sort((a, b) => a - b);
  if (waits.length > 0) {
    const median = waits[Math.floor(waits.length / 2)];
    parts.push(`teardown wait per test: median ${median} ms, max ${waits.at(-1)} ms`);
  }
  return parts.join('; ');
}
