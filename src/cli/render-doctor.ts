import type { ProviderCapacity } from '../core/provider.js';
import type { DoctorProviderEntry, DoctorReport } from './doctor-report.js';

function formatCapacity(capacity: ProviderCapacity): string {
  const { total, free } = capacity;
  return `memory ${free.memoryMiB}/${total.memoryMiB} MiB free, vCPUs ${free.vcpus}/${total.vcpus} free`;
}

function hostLine(p: DoctorProviderEntry | undefined, id: string): string {
  if (!p) return `    ? ${id}`;
  if (!p.available) return `    ✗ ${id}: ${p.reason ?? 'unavailable'}`;
  if (p.health?.healthy !== true) return `    ✗ ${id}: ${p.reason ?? 'unhealthy'}`;
  return `    ✓ ${id}: ${p.capacity ? formatCapacity(p.capacity) : 'capacity not reported'}`;
}

/** Renders the doctor report as the human-readable discovery report. */
export function renderDoctorText(report: DoctorReport): string {
  const out: string[] = ['TESTBED BACKEND DISCOVERY', ''];
  out.push(`Registered providers: ${report.providers.length}`);
  for (const p of report.providers) {
    out.push('', `Provider: ${p.id} (${p.name}, ${p.vmType})`);
    for (const cap of p.capabilities) out.push(`  ✓ ${cap}`);
  }
  out.push('', 'Availability (runtime detection):');
  for (const p of report.providers) {
    out.push(
      p.available
        ? `  ✓ ${p.id} available (${p.durationMs} ms)`
        : `  ✗ ${p.id} unavailable: ${p.reason ?? 'not found'}\n      fix: ${p.setupHint}`,
    );
  }
  out.push('', 'Health:');
  for (const p of report.providers.filter((e) => e.available)) {
    const h = p.health;
    if (!h) {
      out.push(`  ✗ ${p.id}: ${p.reason ?? 'health check did not answer'}`);
      continue;
    }
    out.push(`  ${h.healthy ? '✓' : '✗'} ${p.id}: ${h.healthy ? 'healthy' : 'unhealthy'}`);
    if (h.version) out.push(`      version: ${h.version}`);
    out.push(
      `      machines: ${h.resources.vmsAvailable} available, ${h.resources.vmsRunning} running`,
    );
    for (const [key, value] of Object.entries(h.details ?? {})) out.push(`      ${key}: ${value}`);
    for (const warning of h.warnings) out.push(`      ! ${warning}`);
  }
  if (!report.providers.some((p) => p.available)) out.push('  (no provider is available)');
  out.push('', 'Hosts:');
  for (const host of report.hosts) {
    out.push(`  ${host.name}${host.uris.length > 0 ? ` (${host.uris.join(', ')})` : ''}`);
    for (const id of host.providers) {
      out.push(
        hostLine(
          report.providers.find((p) => p.id === id),
          id,
        ),
      );
    }
  }
  if (report.access.length > 0) {
    out.push('', 'Access (this user):');
    for (const check of report.access) {
      out.push(`  ${check.ok ? '✓' : '✗'} ${check.backend}: ${check.found}`);
      if (!check.ok && check.fix) out.push(`      fix: ${check.fix}`);
    }
  }
  const needs = report.needs.length > 0 ? ` for ${report.needs.join(', ')}` : '';
  out.push('', `Selection${needs}:`);
  if (report.selected) {
    const chosen = report.providers.find((p) => p.id === report.selected);
    out.push(`  → ${report.selected}${chosen ? ` (${chosen.name}, ${chosen.vmType})` : ''}`);
    if (report.ranked.length > 1) out.push(`    ranking: ${report.ranked.join(' > ')}`);
  } else {
    out.push(`  ✗ ${report.unmet ?? 'no provider matches'}`.replaceAll('\n', '\n    '));
  }
  return `${out.join('\n')}\n`;
}

/** Renders the doctor report as JSON. */
export function renderDoctorJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
